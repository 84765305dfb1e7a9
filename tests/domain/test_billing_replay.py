"""Replay reproduces every bill; any tampering with the billing stream is caught."""

from __future__ import annotations

import json
import random

import pytest

from domain import events as ev
from domain.billing import Ledgers, reconcile, rederive, verify_chain
from tests.domain.test_billing_factories import mixed_log


def wire(events: list[ev.Event]) -> list[ev.Event]:
    """Through JSON bytes and back, as the auditor reads them from Kafka."""
    return [ev.parse_event(e.to_json()) for e in events]


def agent_with_crashes(inputs: list[ev.Event], seed: int, commit_every: int = 5) -> list[ev.Event]:
    """An at-least-once billing agent that dies at random, sometimes mid-emission.

    It commits input offsets every few events, so after a crash inputs since the last commit
    are re-delivered; it rebuilds its ledger from its own billing stream and from inputs read
    again from the start (its state is not persisted elsewhere)."""
    rng = random.Random(seed)
    billing: list[ev.Event] = []
    committed = 0
    while True:
        ledgers = Ledgers()
        for e in billing:
            assert ledgers.apply(e) == []
        for e in inputs[:committed]:
            for out in ledgers.apply(e):
                billing.append(out)  # a restored ledger only emits what the dead one never did
        crashed = False
        for i in range(committed, len(inputs)):
            out = ledgers.apply(inputs[i])
            if rng.random() < 0.08:
                billing += out[: rng.randrange(len(out) + 1)]
                crashed = True
                break
            billing += out
            if (i + 1) % commit_every == 0:
                committed = i + 1
        if not crashed:
            return billing


@pytest.fixture(scope="module")
def log() -> list[ev.Event]:
    inputs = mixed_log(("acme", "globex", "initech"), 12)
    return wire(inputs + Ledgers().apply_all(inputs))


def billing_of(log: list[ev.Event]) -> list[ev.Event]:
    return [e for e in log if e.type in ("UsageCharged", "QuotaSettled", "QuotaReleased", "InvoiceIssued")]


def test_replay_reproduces_every_bill_exactly(log):
    rec = reconcile(rederive(log), billing_of(log))
    assert rec.ok, rec.to_dict()
    assert set(rec.tenants) == {"acme", "globex", "initech"}
    for t in rec.tenants.values():
        assert t.expected_micro > 0 and t.difference_log_micro == 0 and t.charges_expected == t.charges_recorded
    assert verify_chain(log).ok
    json.dumps(rec.to_dict())


@pytest.mark.parametrize("seed", range(8))
def test_replay_after_crashes_has_zero_difference(seed):
    inputs = mixed_log(("acme", "globex"), 12)
    billing = agent_with_crashes(inputs, seed)
    full = wire(inputs + billing)
    rec = reconcile(rederive(full), billing_of(full))
    assert rec.ok, rec.to_dict()
    assert all(t.difference_log_micro == 0 for t in rec.tenants.values())
    assert verify_chain(full).ok, verify_chain(full).to_dict()


def _charge_positions(log: list[ev.Event]) -> list[int]:
    return [i for i, e in enumerate(log) if e.type == "UsageCharged"]


def test_duplicated_billing_event_fails(log):
    i = _charge_positions(log)[3]
    bad = log[: i + 1] + [log[i]] + log[i + 1:]
    rec = reconcile(rederive(bad), billing_of(bad))
    t = rec.tenants[log[i].tenant_id]
    assert not rec.ok and t.duplicated == [log[i].event_id] and t.difference_log_micro == log[i].amount_micro
    brk = verify_chain(bad).tenants[log[i].tenant_id].first_break
    assert brk.kind == "sequence" and brk.event_id == log[i].event_id


def test_altered_billing_event_fails(log):
    i = _charge_positions(log)[2]
    bad = list(log)
    bad[i] = log[i].model_copy(update={"amount_micro": log[i].amount_micro - 1})
    rec = reconcile(rederive(bad), billing_of(bad))
    assert not rec.ok and rec.tenants[log[i].tenant_id].mismatching == [log[i].event_id]
    assert rec.tenants[log[i].tenant_id].difference_log_micro == -1
    brk = verify_chain(bad).tenants[log[i].tenant_id].first_break
    assert (brk.kind, brk.event_id, brk.position) == ("hash_mismatch", log[i].event_id, log[i].aggregate_version)
    assert brk.recorded == log[i].chain_hash != brk.expected


def test_deleted_billing_event_fails(log):
    i = _charge_positions(log)[4]
    bad = log[:i] + log[i + 1:]
    rec = reconcile(rederive(bad), billing_of(bad))
    assert not rec.ok and rec.tenants[log[i].tenant_id].missing == [log[i].event_id]
    brk = verify_chain(bad).tenants[log[i].tenant_id].first_break
    assert brk.kind == "sequence" and brk.position == log[i].aggregate_version


def test_reordered_billing_events_break_the_chain(log):
    i = _charge_positions(log)[1]
    j = next(k for k in range(i + 1, len(log)) if log[k].type in ("UsageCharged", "QuotaReleased")
             and log[k].tenant_id == log[i].tenant_id)
    bad = list(log)
    bad[i], bad[j] = bad[j], bad[i]
    brk = verify_chain(bad).tenants[log[i].tenant_id].first_break
    assert brk is not None and brk.kind == "sequence" and brk.position == log[i].aggregate_version


def test_inserted_billing_event_fails(log):
    i = _charge_positions(log)[0]
    forged = log[i].model_copy(update={"event_id": "forged", "job_id": "ghost"})
    bad = log[: i + 1] + [forged] + log[i + 1:]
    rec = reconcile(rederive(bad), billing_of(bad))
    assert not rec.ok and rec.tenants[forged.tenant_id].extra == ["forged"]
    assert verify_chain(bad).tenants[forged.tenant_id].first_break.position == forged.aggregate_version + 1


def test_inserted_event_renumbered_to_fit_is_caught_by_the_next_anchor(log):
    tenant = log[_charge_positions(log)[0]].tenant_id
    stream = [e for e in billing_of(log) if e.tenant_id == tenant]
    forged = stream[0].model_copy(update={"event_id": "forged", "job_id": "ghost", "aggregate_version": 2})
    renumbered = [stream[0], forged] + [e.model_copy(update={"aggregate_version": e.aggregate_version + 1})
                                       for e in stream[1:]]
    others = [e for e in log if e.type not in ("UsageCharged", "QuotaSettled", "QuotaReleased") or e.tenant_id != tenant]
    brk = verify_chain(others + renumbered).tenants[tenant].first_break
    assert brk.kind == "hash_mismatch" and brk.position == 2


def test_altered_quota_settlement_is_reported_at_the_next_anchor_with_its_range(log):
    tenant = "globex"
    stream = [e for e in billing_of(log) if e.tenant_id == tenant]
    k = next(n for n, e in enumerate(stream) if e.type == "QuotaSettled" and n + 1 < len(stream)
             and stream[n + 1].type == "UsageCharged")
    bad = [e.model_copy(update={"shots": e.shots + 1}) if e.event_id == stream[k].event_id else e for e in log]
    brk = verify_chain(bad).tenants[tenant].first_break
    assert brk.kind == "hash_mismatch" and brk.suspect_from <= k + 1 < brk.position == k + 2
    assert not reconcile(rederive(bad), billing_of(bad)).ok


def test_flipped_source_fact_breaks_the_charge_that_rests_on_it(log):
    i = next(n for n, e in enumerate(log) if e.type == "ShotsMeasured" and e.tenant_id == "acme")
    bad = list(log)
    bad[i] = log[i].model_copy(update={"shots": log[i].shots + 1})
    charge = next(e for e in log if e.type == "UsageCharged" and log[i].event_id in e.source_event_ids)
    brk = verify_chain(bad).tenants["acme"].first_break
    assert (brk.kind, brk.event_id) == ("hash_mismatch", charge.event_id)
    rec = reconcile(rederive(bad), billing_of(bad))
    settled = ev.deterministic_id("QuotaSettled", "acme", charge.job_id)
    assert sorted(rec.tenants["acme"].mismatching) == sorted([charge.event_id, settled])


def test_deleted_source_fact_is_named(log):
    charge = next(e for e in log if e.type == "UsageCharged")
    gone = charge.source_event_ids[2]
    brk = verify_chain([e for e in log if e.event_id != gone]).tenants[charge.tenant_id].first_break
    assert (brk.kind, brk.expected) == ("missing_source", gone)


def test_system_failure_turned_billable_is_caught(log):
    i = next(n for n, e in enumerate(log) if e.type == "JobFailed")
    bad = list(log)
    bad[i] = log[i].model_copy(update={"system_fault": False})
    rec = reconcile(rederive(bad), billing_of(bad))
    release = ev.deterministic_id("QuotaReleased", log[i].tenant_id, log[i].job_id)
    # the job measured nothing, so the flag changes why it is not billed, and replay sees it
    assert not rec.ok and rec.tenants[log[i].tenant_id].mismatching == [release]


def _rows(log: list[ev.Event]) -> list[dict]:
    return [{"event_id": e.event_id, "tenant_id": e.tenant_id, "job_id": e.job_id, "amount_micro": e.amount_micro,
             "shots": e.shots, "qpu_seconds_micro": e.qpu_seconds_micro, "price_book_version": e.price_book_version,
             "calibration_epoch": e.calibration_epoch} for e in log if e.type == "UsageCharged"]


def test_table_rows_are_reconciled_too(log):
    expected = rederive(log)
    rows = _rows(log)
    good = reconcile(expected, billing_of(log), rows)
    assert good.ok and good.table_checked
    assert all(t.difference_table_micro == 0 for t in good.tenants.values())
    dup = reconcile(expected, billing_of(log), rows + [rows[0]])
    assert not dup.ok and dup.tenants[rows[0]["tenant_id"]].table_duplicated == [rows[0]["event_id"]]
    altered = [dict(r, amount_micro=r["amount_micro"] + 7) if n == 1 else r for n, r in enumerate(rows)]
    bad = reconcile(expected, billing_of(log), altered).tenants[rows[1]["tenant_id"]]
    assert bad.table_mismatching == [rows[1]["event_id"]] and bad.difference_table_micro == 7
    missing = reconcile(expected, billing_of(log), rows[1:])
    assert missing.tenants[rows[0]["tenant_id"]].table_missing == [rows[0]["event_id"]]
