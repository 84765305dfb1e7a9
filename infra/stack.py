"""The local stack: broker (unless QMUX_KAFKA_BOOTSTRAP points elsewhere), worker and gateway."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from infra import procs
from infra.client import CliError, Gateway, operator_key
from infra.kafka import broker
from infra.settings import Settings

DEFAULT_QPUS = (("qpu-a", 10), ("qpu-b", 6))
# micro-credits: 1 credit = 1,000,000. Published once, on the first `qmux up` of a fresh log.
DEFAULT_PRICE_BOOK = {"per_shot_micro": 30, "per_qpu_second_micro": 2_000_000, "per_job_micro": 10_000,
                      "lane_multiplier_milli": {"premium": 1500, "standard": 1000, "free": 500}}
SERVICES = ("worker", "gateway")


def _qmux(*args: str) -> list[str]:
    return [sys.executable, "-P", "-m", "infra.cli", *args]  # -P: imports resolve as installed, not from the cwd


def up(settings: Settings, progress: Callable[[str], None] = print, qpus: tuple[tuple[str, int], ...] = DEFAULT_QPUS) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    broker.start(settings, progress=progress)
    broker.ensure_topics(settings)
    from streams.gateway.server import operator_secret

    operator_secret(settings, create=True)
    env = settings_env(settings)
    for name in SERVICES:
        if procs.is_running(settings, name):
            progress(f"{name}: already running (pid {procs.pid(settings, name)})")
            continue
        pid = procs.spawn(settings, name, _qmux(name), env=env)
        progress(f"{name}: started (pid {pid}), log {settings.home / 'logs' / (name + '.log')}")
    wait_gateway(settings, progress)
    with Gateway(settings, key=operator_key(settings)) as gw:
        for qpu_id, n in qpus:
            r = gw.request("POST", "/v1/qpus", json={"qpu_id": qpu_id, "num_qubits": n})
            progress(f"{qpu_id}: {'registered' if r['created'] else 'known'} ({n} qubits)")
        books = gw.request("GET", "/v1/pricebooks")
        if not books:
            b = gw.request("POST", "/v1/pricebooks", json=DEFAULT_PRICE_BOOK)
            progress(f"price book v{b['version']} published")
    progress(f"qmux is up: gateway {settings.gateway}, Kafka {settings.bootstrap}, ClickHouse {settings.dsn}")


def settings_env(settings: Settings) -> dict[str, str]:
    """The child processes get the same settings the parent resolved."""
    env = {"QMUX_HOME": str(settings.home), "QMUX_KAFKA_BOOTSTRAP": settings.bootstrap,
           "QMUX_GATEWAY_PORT": str(settings.gateway_port), "QMUX_GATEWAY_HOST": settings.gateway_host,
           "QMUX_WORKER_WEB_PORT": str(settings.worker_web_port), "QMUX_TOPIC_PREFIX": settings.topic_prefix,
           "QMUX_TOPIC_PARTITIONS": str(settings.topic_partitions), "QMUX_CLICKHOUSE_DSN": settings.dsn}
    if settings.operator_key:
        env["QMUX_OPERATOR_KEY"] = settings.operator_key
    return env


def wait_gateway(settings: Settings, progress: Callable[[str], None] = print, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    with Gateway(settings) as gw:
        while time.monotonic() < deadline:
            if gw.healthy():
                return
            if not procs.is_running(settings, "gateway"):
                raise CliError(f"the gateway exited; see {settings.home / 'logs' / 'gateway.log'}")
            time.sleep(0.5)
    raise CliError(f"the gateway did not answer within {timeout:.0f}s; see {settings.home / 'logs' / 'gateway.log'}")


def down(settings: Settings, progress: Callable[[str], None] = print) -> None:
    for name in reversed(SERVICES):
        if procs.is_running(settings, name):
            procs.stop(settings, name)
            progress(f"{name}: stopped")
    broker.stop(settings)
    progress("broker: stopped" if settings.local_kafka else "broker: external, left running")


def status(settings: Settings) -> dict[str, object]:
    out: dict[str, object] = {"broker": broker.status(settings)}
    for name in SERVICES:
        out[name] = {"running": procs.is_running(settings, name), "pid": procs.pid(settings, name)}
    with Gateway(settings) as gw:
        out["gateway_healthy"] = gw.healthy()
    return out
