"""Talking to any Kafka cluster with aiokafka's admin client: readiness, topics, configs.

Callers are synchronous (the CLI, pytest fixtures); `run` drives the coroutines, also from code that
already has an event loop running.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Iterator, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

T = TypeVar("T")
TOPIC_ALREADY_EXISTS = 36
LOG = logging.getLogger(__name__)


def run(coro: Awaitable[T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


@contextmanager
def quiet() -> Iterator[None]:
    # while a broker boots, aiokafka logs every refused connection as an error; they are expected here
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@asynccontextmanager
async def admin(bootstrap: str, timeout_ms: int = 10_000) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="qmux-admin", request_timeout_ms=timeout_ms)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


async def list_topics(bootstrap: str, timeout_ms: int = 10_000) -> list[str]:
    async with admin(bootstrap, timeout_ms) as a:
        return sorted(await a.list_topics())


async def wait_ready(bootstrap: str, timeout: float, alive: Callable[[], bool] | None = None) -> float:
    """Wait until the cluster answers a metadata request; returns the seconds it took.

    Raises TimeoutError, or RuntimeError as soon as `alive()` says the broker process has exited."""
    t0 = time.monotonic()
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    last: BaseException | None = None
    with quiet():
        while True:
            if alive is not None and not alive():
                raise RuntimeError("the broker process exited")
            if port_open(host or "127.0.0.1", int(port)):
                try:
                    async with admin(bootstrap, timeout_ms=3_000) as a:
                        await a.describe_cluster()
                    return time.monotonic() - t0
                except Exception as exc:  # not ready yet: any failure means "ask again"
                    last = exc
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"no metadata answer from {bootstrap} within {timeout:.0f}s (last error: {last!r})")
            await asyncio.sleep(0.25)


def _errors(response: Any) -> list[tuple[str, int, str | None]]:
    """(topic, error code, message) from a CreateTopics response, across aiokafka's protocol versions."""
    out = []
    for t in response.topics if hasattr(response, "topics") else response.topic_errors:
        if isinstance(t, tuple):
            name, code, msg = (t + (None,))[:3]
        else:
            name, code, msg = t.name, t.error_code, getattr(t, "error_message", None)
        out.append((name, code, msg))
    return out


async def ensure_topics(bootstrap: str, topics: list[tuple[str, int]], configs: dict[str, str],
                        timeout: float = 30.0) -> list[str]:
    """Create the missing topics (name, partitions) with replication factor 1; returns those created.

    Existing topics are left as they are. Waits until every new partition has a leader, so that a
    producer started right after does not race the controller."""
    async with admin(bootstrap) as a:
        existing = set(await a.list_topics())
        missing = [(n, p) for n, p in topics if n not in existing]
        if not missing:
            return []
        response = await a.create_topics([NewTopic(n, p, 1, topic_configs=configs) for n, p in missing])
        failed = [(n, c, m) for n, c, m in _errors(response) if c not in (0, TOPIC_ALREADY_EXISTS)]
        if failed:
            raise RuntimeError("; ".join(f"{n}: error {c} {m or ''}".strip() for n, c, m in failed))
        deadline = time.monotonic() + timeout
        names = [n for n, _ in missing]
        while True:
            described = await a.describe_topics(names)
            if all(t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
                   for t in described):
                return names
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics created but without leaders after {timeout:.0f}s: {names}")
            await asyncio.sleep(0.2)


async def topic_configs(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    """Every topic's effective configuration, as strings."""
    async with admin(bootstrap) as a:
        responses = await a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    return _config_map(responses)


async def broker_configs(bootstrap: str, broker_id: int = 1) -> dict[str, str]:
    async with admin(bootstrap) as a:
        responses = await a.describe_configs([ConfigResource(ConfigResourceType.BROKER, str(broker_id))])
    return _config_map(responses)[str(broker_id)]


def _config_map(responses: list[Any]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for r in responses:
        for res in r.resources:
            code, msg, _type, name, entries = res[:5] if isinstance(res, tuple) else (
                res.error_code, res.error_message, res.resource_type, res.resource_name, res.configs)
            if code:
                raise RuntimeError(f"describe configs of {name}: error {code} {msg or ''}")
            out[name] = {(e[0] if isinstance(e, tuple) else e.name): (e[1] if isinstance(e, tuple) else e.value)
                         for e in entries}
    return out
