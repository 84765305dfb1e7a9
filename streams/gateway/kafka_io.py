"""The gateway's Kafka side: an idempotent producer, and a follower that keeps the registry current.

aiokafka directly, not Faust: the gateway must answer 202 only after the broker acknowledged the
event on all in-sync replicas (acks=all, idempotent producer), and it needs every admin and QPU
event from offset 0 without joining a consumer group.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from domain import events as ev
from domain.standing import Standing
from infra.settings import Settings
from streams import codec
from streams.topics import topic_name

log = logging.getLogger("qmux.gateway")


class EventProducer:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.bootstrap, acks="all", enable_idempotence=True,
            client_id="qmux-gateway", linger_ms=2, request_timeout_ms=15_000,
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def publish(self, topic: str, key: str | None, e: ev.Event) -> tuple[str, int, int]:
        """Send and wait for the broker's acknowledgement; returns (topic, partition, offset)."""
        name = topic_name(self._settings.topic_prefix, topic)
        if self._producer is None:
            raise RuntimeError("producer not started")
        md = await self._producer.send_and_wait(name, value=codec.encode(e), key=codec.key(key))
        return name, md.partition, md.offset


class StandingFollower:
    """Reads the topics admission depends on from the beginning and keeps following them."""

    TOPICS = ("admin", "calibration", "submissions", "jobs", "execution", "billing")

    def __init__(self, settings: Settings, standing: Standing):
        self._settings, self.standing = settings, standing
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.caught_up = asyncio.Event()

    async def start(self) -> None:
        names = [topic_name(self._settings.topic_prefix, t) for t in self.TOPICS]
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed", client_id="qmux-gateway-registry",
        )
        await self._consumer.start()
        cluster = await self._consumer._client.fetch_all_metadata()  # a group-less consumer has none yet
        parts = [TopicPartition(n, p) for n in names for p in sorted(cluster.partitions_for_topic(n) or ())]
        if not parts:
            await self._consumer.stop()
            raise RuntimeError(f"topics {names} not found on {self._settings.bootstrap}: run `qmux up` first")
        self._consumer.assign(parts)
        await self._consumer.seek_to_beginning(*parts)
        end = await self._consumer.end_offsets(parts)
        self._task = asyncio.create_task(self._run(end))

    async def _run(self, end: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        pending = {tp for tp, off in end.items() if off > 0}
        if not pending:
            self.caught_up.set()
        async for msg in self._consumer:
            try:
                self.standing.apply(codec.decode(msg.value))
            except Exception:  # noqa: BLE001 - a bad admin record must not stop the gateway; it is logged
                log.exception("skipping undecodable registry record %s[%s]@%s", msg.topic, msg.partition, msg.offset)
            tp = TopicPartition(msg.topic, msg.partition)
            if tp in pending and msg.offset + 1 >= end[tp]:
                pending.discard(tp)
                if not pending:
                    self.caught_up.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer:
            await self._consumer.stop()
