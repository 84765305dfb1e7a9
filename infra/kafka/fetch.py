"""Resolve the Kafka broker's jars with Maven into <repo>/.cache/kafka/<version>/lib, once.

Maven's own repository lives in <repo>/.cache/m2, so once it is filled a fresh lib folder can be
rebuilt offline; once the lib folder is complete, Maven is not called at all.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
POM = Path(__file__).resolve().parent / "pom.xml"
COMPLETE = ".complete"  # written last: a lib folder without it is a broken download


class KafkaError(Exception):
    """The local Kafka broker could not be fetched, started or reached; the message says what to do."""


def cache_dir() -> Path:
    return REPO_ROOT / ".cache"


def lib_dir(version: str) -> Path:
    return cache_dir() / "kafka" / version / "lib"


def _check_version(version: str) -> None:
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(-[A-Za-z0-9.]+)?", version)
    if not m:
        raise KafkaError(f"QMUX_KAFKA_VERSION={version!r} is not a Kafka release number such as 4.4.0")
    if int(m.group(1)) < 4:
        raise KafkaError(f"QMUX_KAFKA_VERSION={version}: qmux runs Kafka 4.x (KRaft, log4j2); pick 4.0.0 or later")


def _mvn(version: str, dest: Path, offline: bool) -> subprocess.CompletedProcess[str]:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaError("`mvn` is not on PATH: install Maven (Debian/Ubuntu: apt-get install maven) "
                         "or set QMUX_KAFKA_BOOTSTRAP to use an existing Kafka cluster")
    cmd = [mvn, "-B", "--no-transfer-progress", "-Dstyle.color=never", "-f", str(POM),
           f"-Dkafka.version={version}", f"-Dmaven.repo.local={cache_dir() / 'm2'}",
           f"-Dkafka.lib.dir={dest}", "dependency:copy-dependencies"]
    if offline:
        cmd.insert(1, "-o")
    return subprocess.run(cmd, capture_output=True, text=True, cwd=POM.parent, timeout=900)


def fetch(version: str, progress: Callable[[str], None] = print) -> Path:
    """The folder holding every jar the broker needs, downloading them on first use."""
    _check_version(version)
    lib = lib_dir(version)
    if (lib / COMPLETE).exists():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    # one download at a time: several test sessions may start on a fresh machine together
    with open(lib.parent / "fetch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (lib / COMPLETE).exists():
            return lib
        staging = lib.parent / "lib.partial"
        shutil.rmtree(staging, ignore_errors=True)
        t0 = time.monotonic()
        cached = any((cache_dir() / "m2/org/apache/kafka/kafka_2.13" / version).glob("*.jar"))
        if cached:
            progress(f"kafka {version}: copying the broker's jars from {cache_dir() / 'm2'} (offline)")
            run = _mvn(version, staging, offline=True)
        if not cached or run.returncode != 0:
            progress(f"kafka {version}: resolving the broker's jars from Maven Central with mvn "
                     f"(first time only; up to a minute or two)")
            run = _mvn(version, staging, offline=False)
        jar = staging / f"kafka_2.13-{version}.jar"
        if run.returncode != 0 or not jar.exists():
            tail = "\n".join((run.stdout + run.stderr).splitlines()[-25:])
            raise KafkaError(f"mvn could not resolve org.apache.kafka:kafka_2.13:{version} (exit {run.returncode}); "
                             f"check the network and that the version exists on Maven Central.\n{tail}")
        jars = sorted(p.name for p in staging.glob("*.jar"))
        (staging / COMPLETE).write_text("\n".join(jars) + "\n")
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)
        size = sum(p.stat().st_size for p in lib.glob("*.jar")) / 2**20
        progress(f"kafka {version}: {len(jars)} jars ({size:.0f} MiB) in {lib} after {time.monotonic() - t0:.1f}s")
        return lib
