"""The CLI's HTTP client for the gateway: one place for keys, errors and timeouts."""

from __future__ import annotations

from typing import Any

import httpx

from infra.settings import Settings


class CliError(Exception):
    """A problem the user can fix; the CLI prints it as one line and exits non-zero."""


def operator_key(settings: Settings) -> str:
    from streams.gateway.server import operator_secret

    key = operator_secret(settings)
    if not key:
        raise CliError(f"no operator key: set QMUX_OPERATOR_KEY or run `qmux up` (it writes {settings.home / 'operator.key'})")
    return key


class Gateway:
    def __init__(self, settings: Settings, key: str | None = None, timeout: float = 30.0):
        self.settings = settings
        self.key = key
        self._http = httpx.Client(base_url=settings.gateway, timeout=timeout)

    def __enter__(self) -> "Gateway":
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, key: str | None = None, ok: tuple[int, ...] = (200, 201, 202),
                **kw: Any) -> Any:
        r = self.raw(method, path, key=key, **kw)
        if r.status_code not in ok:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            raise CliError(f"{method} {path} -> HTTP {r.status_code}: {detail}")
        return r.json() if r.content else None

    def raw(self, method: str, path: str, *, key: str | None = None, **kw: Any) -> httpx.Response:
        """The response as it is, for callers that handle statuses themselves."""
        headers = dict(kw.pop("headers", {}) or {})
        k = key or self.key
        if k:
            headers["Authorization"] = f"Bearer {k}"
        try:
            return self._http.request(method, path, headers=headers, **kw)
        except httpx.TransportError as exc:
            raise CliError(f"gateway not reachable at {self.settings.gateway} ({type(exc).__name__}): is `qmux up` running?") from None

    def healthy(self) -> bool:
        try:
            return self._http.get("/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def sql(self, query: str, key: str | None = None) -> dict[str, Any]:
        return self.request("POST", "/v1/sql", key=key or self.key or operator_key(self.settings), json={"query": query})
