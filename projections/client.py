"""One shared ClickHouse client per DSN per process.

`dsn` is `chdb:///ABS/PATH` (the embedded engine, in-process) or `http://user:pw@host:8123/db`
(a ClickHouse server). Both give the same `clickhouse-connect` client API.

Embedded mode has two hard limits, both from the engine: a chDB data directory can be opened by
one process only, and one process can hold one data directory at a time. So the process that
owns chDB (the gateway, which also runs the projector) serves reads for everyone else; other
processes ask it over HTTP, or the deployment switches to a ClickHouse server. Within the owning
process every caller shares one client, and calls on it are serialised by a lock because the
embedded engine's connection handle is not safe to use from two threads at once.
"""

from __future__ import annotations

import threading
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

__all__ = ["connect", "close_all", "Client", "EmbeddedEngineBusy"]

_lock = threading.Lock()
_clients: dict[str, Client] = {}


class EmbeddedEngineBusy(RuntimeError):
    """This process already holds another chDB data directory."""


class _Locked:
    """Delegates to a client, holding a lock for each call (the embedded handle is single-threaded)."""

    def __init__(self, inner: Client):
        self._inner = inner
        self._call_lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._call_lock:
                return attr(*args, **kwargs)

        return locked


def _normalise(dsn: str) -> str:
    if dsn.startswith("chdb://"):
        path = dsn[len("chdb://"):]
        if not path.startswith("/"):
            raise ValueError(f"chDB DSN {dsn!r} must name an absolute path, e.g. chdb:///var/lib/qmux/chdb")
        return "chdb://" + path.rstrip("/")
    if dsn.startswith(("http://", "https://")):
        return dsn
    raise ValueError(f"unsupported ClickHouse DSN {dsn!r}: use chdb:///ABS/PATH or http://user:pw@host:8123/db")


def connect(dsn: str) -> Client:
    """The process-wide client for `dsn`, created on first use (thread-safe)."""
    key = _normalise(dsn)
    with _lock:
        client = _clients.get(key)
        if client is not None:
            return client
        if key.startswith("chdb://"):
            held = [k for k in _clients if k.startswith("chdb://")]
            if held:
                raise EmbeddedEngineBusy(
                    f"this process already holds the embedded ClickHouse at {held[0]!r}; chDB allows one data "
                    f"directory per process. Use that DSN, call projections.client.close_all() first, "
                    f"or point QMUX_CLICKHOUSE_DSN at a ClickHouse server.")
            inner = clickhouse_connect.get_client(dsn=key)
            client = _Locked(inner)  # type: ignore[assignment]
        else:
            # a shared session id would make concurrent queries from two threads fail server-side
            client = clickhouse_connect.get_client(dsn=key, autogenerate_session_id=False)
        _clients[key] = client
        return client


def close_all() -> None:
    """Close every client this process opened (frees the chDB directory for another path or process)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()
