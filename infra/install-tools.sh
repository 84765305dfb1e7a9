#!/usr/bin/env bash
# System tools the tests use that pip cannot install: kcat (a Kafka client written by others,
# used to prove the broker speaks plain Kafka). Needs root or passwordless sudo on Debian/Ubuntu.
set -euo pipefail
if command -v kcat >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "installing kcat from the distribution's packages" >&2
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq kcat >/dev/null
