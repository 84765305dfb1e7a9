"""The projector: every topic -> ClickHouse, idempotent on event id, offsets committed only after
the insert succeeded.

A crash between insert and commit re-reads the batch on restart; the tables collapse the copies
(see projections.schema), so at-least-once delivery gives exactly-once rows. A message that does
not decode is logged and recorded in `dead_letters` with the reason, and the partition moves on.
A failed insert is retried from the same offsets with a growing pause; the loop never dies of it.

In embedded mode (chdb://) the projector must run in the process that owns the chDB directory,
which is the gateway's; a standalone projector needs a ClickHouse server DSN.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from domain import events as ev
from infra.settings import Settings
from projections import rows as rowmod
from projections.client import connect
from projections.store import Store
from streams.topics import all_topics

log = logging.getLogger("qmux.projector")

GROUP_ID = "qmux-projector"
# after this many failed inserts of one batch, insert it message by message so that a single
# message ClickHouse refuses is dead-lettered instead of blocking its partition forever
ONE_BY_ONE_AFTER = 3


@dataclasses.dataclass
class Stats:
    """Counts of what was projected and committed (a retried batch is counted once)."""

    messages: int = 0
    projected: int = 0
    dead_lettered: int = 0
    batches: int = 0
    insert_failures: int = 0
    rows: dict[str, int] = dataclasses.field(default_factory=dict)


class Projector:
    """`group_id=None` reads every partition from offset 0 and commits nothing (used by `rebuild`)."""

    def __init__(self, settings: Settings, store: Store | None = None, *, group_id: str | None = GROUP_ID,
                 batch_max: int = 500, batch_ms: int = 100):
        self.settings = settings
        self.store = store or Store(connect(settings.dsn))
        self.group_id = group_id
        self.batch_max, self.batch_ms = batch_max, batch_ms
        self.topics = [name for name, _ in all_topics(settings.topic_prefix, settings.topic_partitions)]
        self.stats = Stats()
        self._consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        self._projected: dict[TopicPartition, int] = {}  # next offset per partition, projected (and committed)
        self._busy = False

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._consumer is not None:
            return
        common: dict[str, Any] = dict(bootstrap_servers=self.settings.bootstrap, client_id="qmux-projector",
                                      isolation_level="read_committed", enable_auto_commit=False,
                                      auto_offset_reset="earliest")
        if self.group_id is None:
            consumer = AIOKafkaConsumer(group_id=None, **common)
            await consumer.start()
            # the consumer's own metadata cache only covers subscribed topics; ask for the whole cluster
            cluster = await consumer._client.fetch_all_metadata()
            missing = [t for t in self.topics if not cluster.partitions_for_topic(t)]
            if missing:
                await consumer.stop()
                raise RuntimeError(f"topics {missing} do not exist on {self.settings.bootstrap}; "
                                   f"create them first (qmux topics)")
            tps = [TopicPartition(t, p) for t in self.topics for p in sorted(cluster.partitions_for_topic(t))]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
        else:
            consumer = AIOKafkaConsumer(*self.topics, group_id=self.group_id, **common)
            await consumer.start()
        self._consumer = consumer

    async def stop(self) -> None:
        """Ask `run` to finish after the batch in hand (inserted and committed)."""
        self._stopping.set()

    async def run(self) -> None:
        await self.start()
        assert self._consumer is not None
        pause, failures = 0.1, 0
        try:
            while not self._stopping.is_set():
                batch = await self._consumer.getmany(timeout_ms=self.batch_ms, max_records=self.batch_max)
                if not batch:
                    continue
                self._busy = True
                counted = dataclasses.replace(self.stats, rows=dict(self.stats.rows))
                try:
                    await self._project(batch, one_by_one=failures >= ONE_BY_ONE_AFTER)
                    pause, failures = 0.1, 0
                except (CommitFailedError, KafkaError) as exc:
                    # rows are in; an uncommitted batch is re-read by whoever owns the partition next
                    log.warning("offset commit failed after insert (%s); the batch will be re-read, harmlessly", exc)
                except Exception:
                    self.stats = dataclasses.replace(counted, insert_failures=counted.insert_failures + 1)
                    failures += 1
                    log.exception("projection insert failed; retrying the same offsets in %.1fs", pause)
                    for tp, msgs in batch.items():
                        self._consumer.seek(tp, msgs[0].offset)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 5.0)
                finally:
                    self._busy = False
        finally:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()

    # ---------------------------------------------------------------- one batch

    async def _project(self, batch: dict[TopicPartition, list[Any]], one_by_one: bool = False) -> None:
        written: dict[str, int] = {}
        if one_by_one:
            for msgs in batch.values():
                for m in msgs:
                    self._add(written, await self._insert_alone(m))
        else:
            rows: rowmod.Rows = {}
            for msgs in batch.values():
                for m in msgs:
                    rowmod.merge(rows, self._rows(m))
            self._add(written, await asyncio.to_thread(self.store.insert_rows, rows))
        offsets = {tp: msgs[-1].offset + 1 for tp, msgs in batch.items()}
        if self.group_id is not None:
            await self._commit(offsets)
        self._projected.update(offsets)
        self.stats.batches += 1
        self._add(self.stats.rows, written)

    @staticmethod
    def _add(into: dict[str, int], more: dict[str, int]) -> None:
        for table, n in more.items():
            into[table] = into.get(table, 0) + n

    async def _insert_alone(self, m: Any) -> dict[str, int]:
        rows = self._rows(m)
        try:
            return await asyncio.to_thread(self.store.insert_rows, rows)
        except Exception as exc:  # noqa: BLE001 - if the dead letter fails too, the caller retries the batch
            self.stats.projected -= int("events" in rows)
            reason = f"ClickHouse refused its rows: {type(exc).__name__}: {str(exc).splitlines()[0][:500]}"
            log.error("dead-lettering message %s/%d@%d: %s", m.topic, m.partition, m.offset, reason)
            self.stats.dead_lettered += 1
            dead = rowmod.undecodable(m.topic, m.partition, m.offset, m.value, reason, m.timestamp)
            return await asyncio.to_thread(self.store.insert_rows, dead)

    def _rows(self, m: Any) -> rowmod.Rows:
        self.stats.messages += 1
        try:
            if m.value is None:
                raise ValueError("empty message value (tombstone) where an event was expected")
            out = rowmod.rows_for(ev.parse_event(m.value), m.topic, m.partition, m.offset)
            self.stats.projected += 1
            return out
        except Exception as exc:  # noqa: BLE001 - any message we cannot project is dead-lettered, never fatal
            reason = f"{type(exc).__name__}: {exc}"
            log.error("dead-lettering undecodable message %s/%d@%d: %s", m.topic, m.partition, m.offset,
                      reason.splitlines()[0][:300])
            self.stats.dead_lettered += 1
            return rowmod.undecodable(m.topic, m.partition, m.offset, m.value, reason, m.timestamp)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        await self._consumer.commit(offsets)

    # ---------------------------------------------------------------- catching up

    async def lag(self) -> dict[TopicPartition, int] | None:
        """Messages not yet projected per assigned partition, or None before partitions are assigned."""
        consumer = self._consumer
        if consumer is None or not consumer.assignment():
            return None
        tps = sorted(consumer.assignment())
        ends = await consumer.end_offsets(tps)
        out: dict[TopicPartition, int] = {}
        for tp in tps:
            done = self._projected.get(tp)
            if done is None:
                done = (await consumer.committed(tp) if self.group_id is not None else None) or 0
                if done:
                    self._projected[tp] = done
            out[tp] = max(0, ends[tp] - done)
        return out

    async def wait_caught_up(self, timeout: float = 30.0, poll: float = 0.05) -> None:
        """Return once every partition's end offset (the last stable offset under read_committed) at
        the time of the check is projected; raise TimeoutError naming the lag otherwise."""
        deadline = time.monotonic() + timeout
        last: dict[TopicPartition, int] | None = None
        while time.monotonic() < deadline:
            if self._consumer is not None and not self._busy:
                last = await self.lag()
                if last is not None and not any(last.values()):
                    return
            await asyncio.sleep(poll)
        behind = {f"{tp.topic}/{tp.partition}": n for tp, n in (last or {}).items() if n}
        raise TimeoutError(f"projector not caught up after {timeout:.0f}s: "
                           f"{behind or 'no partitions assigned yet'}; is the consumer group stuck rebalancing?")


async def rebuild(settings: Settings, store: Store | None = None, timeout: float = 300.0) -> dict[str, Any]:
    """Drop every projection, re-create it and re-read all topics from offset 0 (committing nothing).
    Returns the table checksums before and after; equal when the old projection had caught up.

    Stop the live projector first: it would otherwise write into tables being dropped."""
    store = store or Store(connect(settings.dsn))
    try:
        before = await asyncio.to_thread(store.checksums)
    except Exception as exc:  # noqa: BLE001 - a missing or damaged projection is what a rebuild repairs
        log.warning("could not checksum the current projection (%s); rebuilding anyway", exc)
        before = {}
    await asyncio.to_thread(store.drop_all)
    await asyncio.to_thread(store.apply_schema)
    projector = Projector(settings, store, group_id=None)
    await projector.start()
    task = asyncio.create_task(projector.run())
    try:
        await projector.wait_caught_up(timeout=timeout)
    finally:
        await projector.stop()
        await task
    after = await asyncio.to_thread(store.checksums)
    return {"before": before, "after": after, "equal": before == after, "stats": projector.stats}
