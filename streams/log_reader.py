"""Read topics from offset 0 up to their current end with plain aiokafka (read_committed).

Used where Faust is the wrong tool: the auditor's replay, and agents that rebuild their state
from their own output topic before they process anything new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from domain import events as ev
from infra.settings import Settings
from streams import codec
from streams.topics import topic_name


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


async def read_records(settings: Settings, topics: Iterable[str], progress: Callable[[int], None] | None = None,
                       max_batch: int = 5000) -> list[Record]:
    names = [topic_name(settings.topic_prefix, t) for t in topics]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", isolation_level="read_committed", client_id="qmux-log-reader",
        max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # a group-less consumer has none yet
        parts = [TopicPartition(n, p) for n in names for p in sorted(cluster.partitions_for_topic(n) or ())]
        missing = [n for n in names if not cluster.partitions_for_topic(n)]
        if missing:
            raise RuntimeError(f"topics not found on {settings.bootstrap}: {', '.join(missing)}")
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        pending = {tp for tp, off in end.items() if off > 0}
        out: list[Record] = []
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500, max_records=max_batch)
            for tp, msgs in batches.items():
                for m in msgs:
                    if m.offset < end[tp]:
                        out.append(Record(m.topic, m.partition, m.offset, m.key, m.value))
                if msgs and msgs[-1].offset + 1 >= end[tp]:
                    pending.discard(tp)
            # a partition whose tail is aborted transaction markers ends before `end`
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
            if progress:
                progress(len(out))
        return out
    finally:
        await consumer.stop()


def decode_all(records: Iterable[Record]) -> tuple[list[tuple[ev.Event, Record]], list[tuple[Record, str]]]:
    """(decoded events with where they stood, undecodable records with the reason)."""
    good: list[tuple[ev.Event, Record]] = []
    bad: list[tuple[Record, str]] = []
    for r in records:
        try:
            good.append((codec.decode(r.value), r))
        except Exception as exc:  # noqa: BLE001 - reported to the caller, never dropped silently
            bad.append((r, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"))
    return good, bad
