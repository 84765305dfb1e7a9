"""`qmux sql`: through the gateway when it runs (it owns an embedded chDB), else straight to ClickHouse."""

from __future__ import annotations

import json
from typing import Any

from infra import procs
from infra.client import CliError, Gateway
from infra.settings import Settings
from projections.readonly import READ_ONLY, is_read_only


def query(settings: Settings, sql: str, key: str | None = None) -> dict[str, Any]:
    if not is_read_only(sql):
        raise CliError(f"only one read-only statement ({', '.join(READ_ONLY)}) is allowed; projections change only from the log")
    # an embedded chDB directory opens in one process only: while the gateway owns it, ask the gateway
    if settings.dsn.startswith("chdb://") and procs.is_running(settings, "gateway"):
        with Gateway(settings) as gw:
            return gw.sql(sql, key=key)
    from projections.client import connect

    try:
        res = connect(settings.dsn).query(sql)
    except Exception as exc:  # noqa: BLE001 - shown to the analyst as ClickHouse's own one-line message
        raise CliError(f"query failed: {str(exc).splitlines()[0][:500]}") from None
    return {"columns": list(res.column_names), "rows": [list(r) for r in res.result_rows]}


def format_table(result: dict[str, Any]) -> str:
    cols = result["columns"]
    rows = [["" if v is None else str(v) for v in r] for r in result["rows"]]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def run_sql(settings: Settings, sql: str, key: str | None = None, fmt: str = "table") -> None:
    result = query(settings, sql, key)
    print(json.dumps(result, default=str) if fmt == "json" else format_table(result))
