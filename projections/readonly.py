"""Which SQL an analyst may send: reads only. Projections change only from the event log."""

from __future__ import annotations

READ_ONLY = ("select", "with", "show", "describe", "desc", "explain", "exists")


def is_read_only(sql: str) -> bool:
    words = sql.strip().split(None, 1)
    return bool(words) and words[0].lower() in READ_ONLY and ";" not in sql.strip().rstrip(";")
