"""The projector against the real local Kafka broker and the real embedded ClickHouse engine.

Each test reads its own topics (a unique prefix on the shared broker) with its own consumer group,
so it neither sees nor disturbs the rest of the stack.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from aiokafka import AIOKafkaProducer

from domain import events as ev
from infra.kafka import broker
from infra.settings import Settings
from projections.client import close_all, connect
from projections.projector import Projector, rebuild
from projections.sli import run_slis
from projections.store import Store
from tests.projections import factory as f

pytestmark = pytest.mark.integration

TOPIC_OF = {"JobSubmitted": "submissions", "JobAccepted": "jobs", "JobRejected": "jobs", "UsageCharged": "billing"}


@pytest.fixture(scope="module")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    close_all()
    yield f"chdb://{tmp_path_factory.mktemp('projector-chdb')}"
    close_all()  # frees the process's one chDB slot for the next package


@pytest.fixture
def env(stack_settings: Settings, chdb_dir: str) -> Iterator[tuple[Settings, Store, str]]:
    tag = uuid.uuid4().hex[:8]
    settings = stack_settings.model_copy(update={"topic_prefix": f"ptest{tag}."})
    broker.ensure_topics(settings)
    store = Store(connect(chdb_dir), db=f"proj_{tag}")
    store.apply_schema()
    yield settings, store, f"qmux-projector-test-{tag}"
    store.client.command(f"DROP DATABASE IF EXISTS {store.db}")


async def produce(settings: Settings, items: list[tuple[str, bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for topic, key, value in items:
            await producer.send_and_wait(settings.topic_prefix + topic, value=value, key=key)
    finally:
        await producer.stop()


def as_messages(events: list[ev.Event]) -> list[tuple[str, bytes | None, bytes]]:
    return [(TOPIC_OF.get(e.type, "execution"), (getattr(e, "qpu_id", None) or e.tenant_id or "").encode(),
             e.to_json()) for e in events]


def count(store: Store, sql: str) -> int:
    return store.client.query(sql.format(db=store.db)).result_rows[0][0]


async def run_until_caught_up(projector: Projector) -> None:
    task = asyncio.create_task(projector.run())
    try:
        await projector.wait_caught_up(timeout=60)
    finally:
        await projector.stop()
        await task


async def test_events_become_rows_and_poison_is_dead_lettered(env):
    settings, store, group = env
    events = f.job_path("j1") + f.job_path("j2", outcome="failed") + [f.charged("j1", 100)]
    await produce(settings, as_messages(events) + [("jobs", b"k", b"{not an event"),
                                                   ("execution", b"k", b'{"type": "NoSuchEvent"}')])
    projector = Projector(settings, store, group_id=group)
    await run_until_caught_up(projector)
    assert projector.stats.dead_lettered == 2 and projector.stats.projected == len(events)
    assert store.job("acme", "j1")["status"] == "completed"
    assert store.job("acme", "j2")["status"] == "failed"
    assert count(store, "SELECT count() FROM {db}.events FINAL") == len(events)
    assert count(store, "SELECT count() FROM {db}.dead_letters FINAL WHERE recorded_by = 'projector'") == 2
    assert count(store, "SELECT count() FROM {db}.charges FINAL") == 1


async def test_a_message_clickhouse_refuses_is_dead_lettered_not_retried_forever(env):
    settings, store, group = env
    refused = f.charged("j1", 100).model_copy(update={"shots": -5})  # no UInt64 holds it
    events = f.job_path("j1") + [refused]
    await produce(settings, as_messages(events))
    projector = Projector(settings, store, group_id=group)
    await run_until_caught_up(projector)
    assert projector.stats.insert_failures >= 1
    assert (projector.stats.messages, projector.stats.dead_lettered) == (len(events), 1)
    reasons = store.client.query(f"SELECT reason FROM {store.db}.dead_letters FINAL").result_rows
    assert len(reasons) == 1 and "ClickHouse refused" in reasons[0][0]
    assert store.job("acme", "j1")["status"] == "completed"
    assert count(store, "SELECT count() FROM {db}.charges FINAL") == 0


class CrashBeforeCommit(Projector):
    """Dies like a killed process: after the batch is inserted, before its offsets are committed."""

    async def _commit(self, offsets):
        asyncio.current_task().cancel()
        await asyncio.sleep(0)


async def test_killed_between_insert_and_commit_then_restarted_gives_no_duplicate_rows(env):
    settings, store, group = env
    events = [e for j in range(5) for e in f.job_path(f"k{j}", t=j)]
    await produce(settings, as_messages(events))
    crashed = CrashBeforeCommit(settings, store, group_id=group)
    task = asyncio.create_task(crashed.run())
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=60)
    inserted = count(store, "SELECT count() FROM {db}.events")
    assert inserted > 0  # the batch reached ClickHouse, its commit did not reach Kafka
    restarted = Projector(settings, store, group_id=group)
    await run_until_caught_up(restarted)
    assert restarted.stats.messages == len(events)  # nothing was committed, so everything was re-read
    assert count(store, "SELECT count() FROM {db}.events FINAL") == len(events)
    for j in range(5):
        assert count(store, f"SELECT count() FROM {{db}}.jobs WHERE job_id = 'k{j}'") == 1
        assert store.job("acme", f"k{j}")["status"] == "completed"
    before = store.checksums()
    again = Projector(settings, store, group_id=group)  # a clean restart re-reads nothing
    await run_until_caught_up(again)
    assert again.stats.messages == 0 and store.checksums() == before


async def test_rebuild_from_offset_zero_reproduces_the_checksums(env):
    settings, store, group = env
    events = f.job_path("r1") + f.job_path("r2", tenant="beta") + [f.charged("r1", 100), f.invoice(),
                                                                   f.registered(), *f.calibration("qpu-a", 1, 0)]
    await produce(settings, as_messages(events) + [("jobs", None, b"\x00garbage")])
    await run_until_caught_up(Projector(settings, store, group_id=group))
    report = await rebuild(settings, store)
    assert report["equal"], (report["before"], report["after"])
    assert report["stats"].messages == len(events) + 1


async def test_projection_lag_event_time_to_row_visible(env):
    settings, store, group = env
    projector = Projector(settings, store, group_id=group)
    task = asyncio.create_task(projector.run())
    lags: list[float] = []
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await projector.wait_caught_up(timeout=60)
        for i in range(20):
            now = datetime.now(timezone.utc)
            e = ev.JobSubmitted(event_id=ev.deterministic_id("lag", i), tenant_id="acme", aggregate_id=f"lag{i}",
                                aggregate_version=0, occurred_at=now, job_id=f"lag{i}", qpu_id="qpu-a",
                                circuit_format="qasm2", circuit="OPENQASM 2.0;", num_qubits=1, num_gates=0,
                                shots=1, seed=i)
            await producer.send_and_wait(settings.topic_prefix + "submissions", e.to_json(), key=b"acme")
            while await asyncio.to_thread(store.job, "acme", f"lag{i}") is None:
                await asyncio.sleep(0.005)
            lags.append((datetime.now(timezone.utc) - now).total_seconds())
    finally:
        await producer.stop()
        await projector.stop()
        await task
    p50, p95 = statistics.median(lags), statistics.quantiles(lags, n=20)[-1]
    m8 = next(r for r in run_slis(store.client, db=store.db)["M8"]["rows"] if r["scope"] == "all")
    print(f"\nprojection lag, event time -> row visible (n={len(lags)}): p50={p50 * 1e3:.1f} ms "
          f"p95={p95 * 1e3:.1f} ms max={max(lags) * 1e3:.1f} ms; M8 ingested_at-occurred_at "
          f"p50={m8['lag_p50_s'] * 1e3:.1f} ms p95={m8['lag_p95_s'] * 1e3:.1f} ms")
    assert p95 < 5.0, lags  # batches every ~100 ms; seconds would mean the loop is stuck
