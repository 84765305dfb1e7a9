"""The real local stack for integration tests: a Kafka broker of our own under a temporary home.

`stack_settings` (session scope) is the shared entry point: Settings with a fresh home, free
loopback ports, prefix "qmux.", a running broker and every topic created. When the broker cannot
start, the tests that need it fail with the broker's log; they are never skipped.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infra import procs
from infra.kafka import broker
from infra.settings import Settings


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_ports(n: int) -> list[int]:
    """`n` distinct ports that nothing listens on right now, chosen below the kernel's ephemeral range.

    A port the kernel handed out (bind to port 0) is also what it hands to outgoing connections:
    once a broker stops, any client on the machine may take its port and the restart fails. Ports
    below the range are never taken that way. Random, so that concurrent test runs rarely collide."""
    low, _ = _ephemeral_range()
    lo, hi = (10_000, low - 1) if low > 12_000 else (low // 2, low - 1)
    pick = random.SystemRandom()
    socks: list[socket.socket] = []
    try:
        for _ in range(200 * n):
            if len(socks) == n:
                break
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", pick.randint(lo, hi)))
            except OSError:
                s.close()
                continue
            socks.append(s)
        if len(socks) < n:
            raise RuntimeError(f"found only {len(socks)} of {n} free ports in {lo}-{hi}")
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def make_settings(home: Path, **overrides: Any) -> Settings:
    """Settings for a private stack under `home`. Every address is given explicitly, so QMUX_* variables
    in the caller's environment cannot point the tests at a real cluster or database."""
    kafka, controller, gateway, web = free_ports(4)
    fields: dict[str, Any] = dict(
        home=home, kafka_bootstrap=None, kafka_port=kafka, kafka_controller_port=controller,
        gateway_host="127.0.0.1", gateway_port=gateway, gateway_url=None, worker_web_port=web,
        clickhouse_dsn=None, topic_prefix="qmux.",
    )
    fields.update(overrides)
    return Settings(**fields)


def start_broker(settings: Settings) -> None:
    """Start the broker and create the topics, or fail the calling test with the broker's log."""
    lines: list[str] = []
    try:
        broker.start(settings, progress=lines.append)
        broker.ensure_topics(settings)
    except Exception as exc:
        message = str(exc)
        if "Broker log:" not in message:
            message += f"\nBroker log {broker.log_path(settings)}, last lines:\n{broker.log_tail(settings, 30)}"
        stop_broker(settings)
        pytest.fail(f"the local Kafka broker did not start ({type(exc).__name__}):\n{message}\n"
                    f"progress: {lines}", pytrace=False)


def bind_broker(settings: Settings) -> None:
    """The broker runs detached: should this test process be killed before its teardown (a timeout, a
    Ctrl-C too many), a watchdog stops the broker instead of leaving it running."""
    procs.bind_to(settings, broker.NAME)


def stop_broker(settings: Settings) -> None:
    broker.stop(settings)
    procs.stop(settings, f"{broker.NAME}-watchdog", timeout=5)


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = make_settings(tmp_path_factory.mktemp("qmux-stack"))
    bind_broker(settings)
    start_broker(settings)
    try:
        yield settings
    finally:
        stop_broker(settings)


@pytest.fixture
def private_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Settings]]:
    """A factory of extra brokers for tests that must restart or break one without disturbing the
    shared broker; every broker it started is stopped after the test."""
    started: list[Settings] = []

    def make(**overrides: Any) -> Settings:
        settings = make_settings(tmp_path_factory.mktemp("qmux-private"), **overrides)
        bind_broker(settings)
        started.append(settings)
        return settings

    yield make
    for settings in started:
        stop_broker(settings)
