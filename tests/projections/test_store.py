"""The projection tables in the real embedded ClickHouse engine."""

from __future__ import annotations

import random

from projections import schema
from projections.store import Store
from tests.projections import factory as f


def _count(store: Store, sql: str) -> int:
    return store.client.query(sql.format(db=store.db)).result_rows[0][0]


def test_schema_applies_twice_and_creates_every_table_and_view(store: Store):
    store.apply_schema()
    names = {r[0] for r in store.client.query(f"SHOW TABLES FROM {store.db}").result_rows}
    assert {t.name for t in schema.TABLES} | {"jobs", "sli_m1_availability", "sli_m10_error_budget_burn"} <= names
    store.insert_events(f.located(f.job_path("j1")))
    store.apply_schema()  # must not drop or duplicate anything
    assert _count(store, "SELECT count() FROM {db}.jobs") == 1


def test_duplicates_collapse_to_one_logical_row(store: Store):
    batch = f.located(f.job_path("j1"))
    for _ in range(3):  # redelivered three times, in separate inserts
        store.insert_events(batch)
    store.insert_events(batch + batch)  # and twice within one insert
    assert _count(store, "SELECT count() FROM {db}.jobs WHERE job_id = 'j1'") == 1
    assert _count(store, "SELECT count() FROM {db}.events FINAL") == len(batch)
    assert _count(store, "SELECT count() FROM {db}.job_events FINAL") == len(batch)
    job = store.job("acme", "j1")
    assert job is not None and job["status"] == "completed" and job["shots"] == 100


def test_out_of_order_delivery_gives_the_right_status(store: Store):
    events = f.job_path("j1")
    rng = random.Random(3)
    for _ in range(5):
        shuffled = events[:]
        rng.shuffle(shuffled)
        for e in shuffled:  # one event per insert, as a slow consumer would
            store.insert_events(f.located([e]))
    job = store.job("acme", "j1")
    assert job["status"] == "completed"
    assert job["queue_wait_s"] == 2.0 and job["counts"] == {"00": 50, "11": 50}
    assert job["submitted_at"].timestamp() == f.at(0).timestamp()
    assert job["finished_at"].timestamp() == f.at(5).timestamp()
    assert job["physical_qubits"] == [0, 1] and job["calibration_epoch"] == 1


def test_terminal_event_arriving_first_is_not_overwritten(store: Store):
    *early, done = f.job_path("j1", outcome="failed")
    store.insert_events(f.located([done]))
    assert store.job("acme", "j1")["status"] == "failed"
    store.insert_events(f.located(early))
    job = store.job("acme", "j1")
    assert job["status"] == "failed" and job["reason"] == "device fault"


def test_a_job_only_half_seen_still_reads_sensibly(store: Store):
    submitted, accepted, reserved, *_ = f.job_path("j1")
    store.insert_events(f.located([reserved]))
    job = store.job("acme", "j1")
    assert job["status"] == "reserved" and job["submitted_at"] is None
    store.insert_events(f.located([accepted, submitted]))
    assert store.job("acme", "j1")["status"] == "reserved"


def test_tenants_see_only_their_jobs(store: Store):
    store.insert_events(f.located(f.job_path("a1", tenant="acme") + f.job_path("b1", tenant="beta")))
    assert store.job("beta", "a1") is None
    assert [j["job_id"] for j in store.jobs("acme")] == ["a1"]


def test_checksums_stable_under_reinsert_and_rebuild_in_another_order(store: Store):
    log = (f.located(f.job_path("j1") + f.job_path("j2", outcome="failed"))
           + f.located([f.charged("j1", 100), f.invoice()], topic="qmux.billing")
           + f.located([f.registered(), *f.calibration("qpu-a", 1, 0), f.health("qpu-a", 3, {"0": 0.01}),
                        f.noisy("qpu-a", "acme", 4), f.dead()], topic="qmux.calibration"))
    store.insert_events(log)
    before = store.checksums()
    assert all(not v.startswith("0:") for v in before.values()), before
    store.insert_events(log[::-1])
    assert store.checksums() == before
    store.drop_all()
    store.apply_schema()
    assert store.checksums() != before
    shuffled = log[:]
    random.Random(1).shuffle(shuffled)
    for i in range(0, len(shuffled), 4):
        store.insert_events(shuffled[i:i + 4])
    assert store.checksums() == before


def test_checksum_sees_a_changed_row(store: Store):
    store.insert_events(f.located([f.charged("j1", 100)], topic="qmux.billing"))
    before = store.checksums()
    store.insert_events(f.located([f.charged("j2", 100)], topic="qmux.billing"))
    assert store.checksums()["charges"] != before["charges"]
    assert store.checksums()["events"] != before["events"]


def test_readers_for_the_gateway(store: Store):
    store.insert_events(f.located(f.job_path("j1", wait=1.0) + f.job_path("j2", wait=3.0, t=10)
                                  + f.job_path("j3", wait=5.0, t=20, tenant="beta")))
    store.insert_events(f.located([f.charged("j1", 100), f.charged("j2", 100)], topic="qmux.billing"))
    assert [j["job_id"] for j in store.jobs("acme", limit=1)] == ["j2"]
    assert store.queue_wait_percentiles("acme") == {"jobs": 2, "p50_s": 2.0, "p95_s": 2.9}
    assert store.queue_wait_percentiles()["jobs"] == 3
    u = store.usage("acme")
    assert (u["charges"], u["amount_micro"], u["shots"], u["completed"], u["shots_measured"]) == (2, 2000, 200, 2, 200)
