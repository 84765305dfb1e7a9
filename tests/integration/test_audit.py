"""The auditor on the real stack: bills replay to 0 micro-credits difference, tampering written
straight to Kafka is caught, and a rebuilt projection has the same checksums."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaProducer

from infra import audit, procs, stack
from infra.client import Gateway, operator_key
from infra.demo import ghz, qft, wait_for
from infra.kafka import broker
from infra.sqlcli import query
from streams import log_reader
from streams.topics import TOPICS
from tests.integration.conftest import free_ports

pytestmark = pytest.mark.integration
audited_keys: dict[str, str] = {}


@pytest.fixture(scope="module")
def audited(stack_settings, tmp_path_factory):
    gateway, web = free_ports(2)
    s = stack_settings.model_copy(update={
        "topic_prefix": "audit.", "home": tmp_path_factory.mktemp("audit-home"),
        "kafka_bootstrap": stack_settings.bootstrap, "gateway_port": gateway, "worker_web_port": web})
    try:
        yield from _audited(s)
    finally:  # also when start-up failed half way: leave no worker or gateway behind
        for name in reversed(stack.SERVICES):
            procs.stop(s, name)


def _audited(s):
    stack.up(s, progress=lambda m: None, qpus=(("qpu-a", 5),))
    with Gateway(s, key=operator_key(s)) as gw:
        keys = [gw.request("POST", "/v1/tenants", json={"name": n, "plan": p})["api_key"]
                for n, p in (("ada", "premium"), ("bob", "free"))]
        jobs: list[str] = []
        for i in range(6):
            key = keys[i % 2]
            r = gw.request("POST", "/v1/jobs", key=key, json={"circuit": (ghz if i % 3 else qft)(2 + i % 3), "shots": 100 + i})
            jobs.append(r["job_id"])
        for key in keys:
            wait_for(Gateway(s, key=key), [j for n, j in enumerate(jobs) if keys[n % 2] == key], progress=lambda m: None)
    deadline = time.monotonic() + 60
    ids = ", ".join(f"'{j}'" for j in jobs)
    while query(s, f"SELECT count() FROM qmux.charges FINAL WHERE job_id IN ({ids})")["rows"] != [[len(jobs)]]:
        assert time.monotonic() < deadline, "charges did not reach ClickHouse within 60 s"
        time.sleep(0.3)
    audited_keys.update(zip(("ada", "bob"), keys))
    yield s


def test_replay_reproduces_every_bill_and_chains_are_intact(audited, capsys):
    assert audit.replay(audited) == 0
    out = capsys.readouterr().out
    assert "OK, 0 micro-credits difference" in out
    assert audit.verify(audited) == 0


def test_a_tenant_sees_its_charges_per_period(audited):
    with Gateway(audited, key=audited_keys["ada"]) as gw:
        mine = gw.request("GET", "/v1/invoices")
    assert mine["tenant_id"] == "ada" and mine["invoices"] == []  # the current month has not ended
    (period,) = mine["charges_by_period"]
    assert period["charges"] == 3 and period["amount_micro"] > 0
    total = query(audited, "SELECT sum(amount_micro) FROM qmux.charges FINAL WHERE tenant_id = 'ada'")["rows"][0][0]
    assert period["amount_micro"] == total


def test_rebuild_gives_identical_checksums(audited, capsys):
    assert audit.replay(audited, rebuild=True) == 0
    assert "checksums identical" in capsys.readouterr().out


def _copy_log(src, prefix: str, tamper) -> object:
    """Copy every topic of `src` to fresh topics under `prefix`, passing the billing topic through `tamper`."""
    dst = src.model_copy(update={"topic_prefix": prefix})
    broker.ensure_topics(dst)

    async def copy() -> None:
        records = await log_reader.read_records(src, [t.name for t in TOPICS])
        producer = AIOKafkaProducer(bootstrap_servers=src.bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            by_topic: dict[str, list] = {}
            for r in records:
                by_topic.setdefault(r.topic, []).append(r)
            for topic, recs in by_topic.items():
                recs.sort(key=lambda r: (r.partition, r.offset))
                if topic.endswith(".billing"):
                    recs = tamper(recs)
                for r in recs:
                    await producer.send_and_wait(prefix + topic.split(".", 1)[1], r.value, key=r.key, partition=r.partition)
        finally:
            await producer.stop()

    asyncio.run(copy())
    return dst


def _first_charge(recs):
    return next(i for i, r in enumerate(recs) if b'"UsageCharged"' in r.value)


def test_a_duplicated_billing_event_fails_replay_and_chain(audited):
    def dup(recs):
        i = _first_charge(recs)
        return recs[: i + 1] + [recs[i]] + recs[i + 1:]

    copy = _copy_log(audited, "tamper-dup.", dup)
    assert audit.replay(copy, with_table=False) != 0
    assert audit.verify(copy) != 0


def test_an_altered_billing_event_fails_replay_and_chain(audited):
    def alter(recs):
        i = _first_charge(recs)
        r = recs[i]
        import json
        body = json.loads(r.value)
        body["amount_micro"] -= 1  # one micro-credit off
        return recs[:i] + [log_reader.Record(r.topic, r.partition, r.offset, r.key, json.dumps(body).encode())] + recs[i + 1:]

    copy = _copy_log(audited, "tamper-alter.", alter)
    assert audit.replay(copy, with_table=False) != 0
    assert audit.verify(copy) != 0


def test_a_deleted_billing_event_fails_replay_and_chain(audited):
    def delete(recs):
        i = _first_charge(recs)
        return recs[:i] + recs[i + 1:]

    copy = _copy_log(audited, "tamper-del.", delete)
    assert audit.replay(copy, with_table=False) != 0
    assert audit.verify(copy) != 0
