"""Runs the gateway process: HTTP API + registry follower + (embedded mode) the ClickHouse projector.

In embedded mode (chdb:// DSN) this process owns the chDB directory, so the projector runs here
and /v1/sql serves reads for the CLI. With a ClickHouse server the projector may run anywhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import uvicorn
from fastapi import FastAPI

from domain.standing import Standing
from infra.settings import Settings
from streams.gateway.api import Services, create_api
from streams.gateway.kafka_io import EventProducer, StandingFollower

log = logging.getLogger("qmux.gateway")


def operator_secret(settings: Settings, create: bool = False) -> str | None:
    """The bootstrap operator key: QMUX_OPERATOR_KEY, else HOME/operator.key (created 0600 on `qmux up`)."""
    if settings.operator_key:
        return settings.operator_key
    path = settings.home / "operator.key"
    if not path.exists() and create:
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(f"qmx_operator_{secrets.token_hex(24)}\n")
    return path.read_text().strip() if path.exists() else None


class BodyLimit:
    """ASGI middleware: 413 for a request body over the limit, declared or streamed."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._reject(send)
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._reject(send)

    async def _reject(self, send: Any) -> None:
        body = b'{"detail":"request body too large: at most %d bytes"}' % self.limit
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def build_app(settings: Settings, run_projector: bool | None = None) -> FastAPI:
    from projections.client import connect
    from projections.store import Store

    secret = operator_secret(settings, create=True)
    standing = Standing()
    producer = EventProducer(settings)
    follower = StandingFollower(settings, standing)
    store = Store(connect(settings.dsn))
    services = Services(settings=settings, standing=standing, producer=producer, store=store,
                        operator_sha256=hashlib.sha256((secret or "").encode()).hexdigest())
    embedded = settings.dsn.startswith("chdb://")
    projector_wanted = embedded if run_projector is None else run_projector

    live: dict[str, Any] = {}
    lock = asyncio.Lock()

    async def start_projector() -> None:
        from projections.projector import Projector

        live["projector"] = p = Projector(settings, store=store)
        live["task"] = asyncio.create_task(p.run())

    async def stop_projector() -> None:
        p, task = live.pop("projector", None), live.pop("task", None)
        if p is not None:
            await p.stop()
            await asyncio.gather(task, return_exceptions=True)

    async def rebuild() -> dict[str, Any]:
        """Let the live projector catch up, stop it, rebuild every table from offset 0, resume."""
        from projections.projector import rebuild as rebuild_all

        if not projector_wanted:
            raise RuntimeError("this gateway does not run the projector; run `qmux audit replay --rebuild` where it runs")
        async with lock:
            await live["projector"].wait_caught_up(timeout=120)
            await stop_projector()
            try:
                out = await rebuild_all(settings, store=store)
            finally:
                await start_projector()
        return {"equal": out["equal"], "before": out["before"], "after": out["after"]}

    services.rebuild = rebuild

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(store.apply_schema)
        await producer.start()
        await follower.start()
        await asyncio.wait_for(follower.caught_up.wait(), timeout=60)
        if projector_wanted:
            await start_projector()
        try:
            yield
        finally:
            await stop_projector()
            await follower.stop()
            await producer.stop()

    api = create_api(services)
    api.router.lifespan_context = lifespan
    api.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return api


def run_gateway(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(build_app(settings), host=settings.gateway_host, port=settings.gateway_port,
                log_level="info", access_log=False)
