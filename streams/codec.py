"""Events on the wire: JSON values, UTF-8 keys. The one place that knows the message format."""

from __future__ import annotations

from datetime import datetime, timezone

from domain import events as ev


def encode(e: ev.Event) -> bytes:
    return e.to_json()


def decode(value: bytes | None) -> ev.Event:
    if value is None:
        raise ValueError("empty message value (tombstone) where an event was expected")
    return ev.parse_event(value)


def key(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None


def dead_letter(topic: str, partition: int, offset: int, reason: str, value: bytes | None) -> ev.DeadLettered:
    payload = (value or b"").decode("utf-8", errors="replace")[:64_000]
    return ev.DeadLettered(
        event_id=ev.deterministic_id("dead", topic, partition, offset),
        aggregate_id=f"{topic}/{partition}",
        aggregate_version=offset,
        occurred_at=datetime.now(timezone.utc),
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        reason=reason[:2000],
        payload=payload,
    )


def now() -> datetime:
    """The time of a fact this process is recording (never used to re-derive anything)."""
    return datetime.now(timezone.utc)
