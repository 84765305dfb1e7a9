from __future__ import annotations

from datetime import timedelta

from domain import events as ev
from domain.billing import Ledgers, verify_chain
from domain.billing.chain import genesis, link
from domain.billing.ledger import BillingLedger
from tests.domain.test_billing_factories import (
    BOOK_T, T0, aborted, accepted, at, cancelled, completed, completed_job, failed, measured, price_book, started,
)


def run(events: list[ev.Event]) -> tuple[Ledgers, list[ev.Event]]:
    ledgers = Ledgers()
    return ledgers, ledgers.apply_all(events)


def charges(out: list[ev.Event]) -> dict[str, ev.UsageCharged]:
    return {e.job_id: e for e in out if isinstance(e, ev.UsageCharged)}


def test_completed_job_is_charged_settled_and_traceable():
    _, out = run([price_book(1), *completed_job("j1", shots=1000, secs=0.25)])
    assert [e.type for e in out] == ["UsageCharged", "QuotaSettled"]
    c = out[0]
    # per_job 5000 + 1000 shots x 10 + 0.25 s x 1_000_000 per second, at 1x
    assert c.amount_micro == 5_000 + 10_000 + 250_000
    assert (c.shots, c.qpu_seconds_micro, c.price_book_version, c.calibration_epoch) == (1000, 250_000, 1, 3)
    assert c.source_event_ids == [price_book(1).event_id, accepted("j1").event_id, measured("j1").event_id,
                                  completed("j1").event_id]
    assert c.occurred_at == completed("j1").occurred_at
    assert (c.aggregate_id, c.aggregate_version, out[1].aggregate_version) == ("billing:acme", 1, 2)
    assert c.event_id == ev.deterministic_id("UsageCharged", "acme", "j1")
    assert c.chain_hash and verify_chain([price_book(1), *completed_job("j1"), *out]).ok


def test_lane_multiplier_applies():
    _, out = run([price_book(1), *completed_job("j1", lane="priority", shots=1000, secs=0.25)])
    assert charges(out)["j1"].amount_micro == (5_000 + 10_000 + 250_000) * 3 // 2


def test_hardware_aborts_and_system_failures_are_never_billed():
    log = [price_book(1),
           accepted("a"), started("a"), measured("a"), aborted("a", will_retry=False),
           accepted("f"), started("f"), measured("f"), failed("f", system_fault=True)]
    _, out = run(log)
    assert [e.type for e in out] == ["QuotaReleased", "QuotaReleased"]
    assert {e.job_id: e.reason for e in out} == {"a": "hardware abort, not billed", "f": "system failure, not billed"}


def test_retried_abort_bills_only_the_successful_attempt_under_its_epoch():
    log = [price_book(1), accepted("r"), started("r", attempt=1, epoch=3), aborted("r", attempt=1, will_retry=True),
           started("r", attempt=2, epoch=4), measured("r", shots=200, secs=0.5, epoch=4), completed("r", epoch=4)]
    c = charges(run(log)[1])["r"]
    assert (c.shots, c.qpu_seconds_micro, c.calibration_epoch) == (200, 500_000, 4)


def test_user_fault_is_billed_for_what_was_measured():
    log = [price_book(1), accepted("u"), started("u"), measured("u", shots=10, secs=0.0), failed("u", system_fault=False)]
    assert charges(run(log)[1])["u"].amount_micro == 5_000 + 100


def test_cancellation_is_billed_up_to_the_point_reached():
    log = [price_book(1), accepted("c"), started("c", epoch=7), cancelled("c", shots_done=40, secs=0.004)]
    c = charges(run(log)[1])["c"]
    assert (c.shots, c.qpu_seconds_micro, c.amount_micro, c.calibration_epoch) == (40, 4_000, 5_000 + 400 + 4_000, 7)
    assert c.source_event_ids[-2:] == [started("c", epoch=7).event_id, cancelled("c", shots_done=40, secs=0.004).event_id]


def test_cancellation_before_running_is_released_not_billed():
    _, out = run([price_book(1), accepted("c"), cancelled("c")])
    assert [(e.type, e.reason) for e in out] == [("QuotaReleased", "cancelled before running, not billed")]


def test_first_terminal_fact_and_first_measurement_decide():
    log = [price_book(1), accepted("x"), started("x"), measured("x", shots=100, secs=0.1), completed("x"),
           measured("x", shots=999, secs=9.0).model_copy(update={"event_id": "second-run"}), failed("x")]
    ledgers, out = run(log)
    assert charges(out)["x"].shots == 100 and len(out) == 2
    assert "second-run" in ledgers.ledger("acme").jobs["x"].ignored


def test_charge_waits_for_the_lane_and_the_price_book():
    late_lane = [price_book(1), started("j"), measured("j"), completed("j")]
    ledgers, out = run(late_lane)
    assert out == [] and ledgers.ledger("acme").pending == {"j"}
    out = ledgers.apply(accepted("j", lane="priority"))
    assert [e.type for e in out] == ["UsageCharged", "QuotaSettled"] and not ledgers.ledger("acme").pending
    ledgers, out = run(completed_job("k"))
    assert out == []
    assert [e.type for e in ledgers.apply(price_book(1))] == ["UsageCharged", "QuotaSettled"]


def test_price_book_version_follows_the_terminal_fact_time():
    v2 = price_book(2, T0 + timedelta(minutes=5), per_shot=20, published=T0)
    log = [price_book(1), v2, *completed_job("early", t=at(0)), *completed_job("late", t=at(600))]
    cs = charges(run(log)[1])
    assert (cs["early"].price_book_version, cs["late"].price_book_version) == (1, 2)
    assert cs["late"].amount_micro - cs["early"].amount_micro == 1000 * 10


def test_duplicate_delivery_yields_nothing_new():
    ledgers = Ledgers()
    log = [price_book(1), *completed_job("j1")]
    first = ledgers.apply_all(log)
    again = ledgers.apply_all(log + log[::-1])
    assert len(first) == 2 and again == []


def test_restart_from_own_stream_with_partial_emission_emits_only_the_rest():
    log = [price_book(1), *completed_job("j1"), *completed_job("j2", t=at(1)), accepted("j3"), started("j3"),
           failed("j3")]
    whole = Ledgers().apply_all(log)
    for cut in range(len(whole) + 1):
        restarted = Ledgers()
        for e in whole[:cut]:  # the billing stream as it stood when the agent died
            assert restarted.apply(e) == []
        rest = restarted.apply_all(log)  # every input re-delivered
        assert whole[:cut] + rest == whole, f"crash after {cut} emitted events"


def test_chain_hashes_link_each_event_to_the_previous_one():
    log = [price_book(1), *completed_job("j1"), accepted("j2"), cancelled("j2")]
    out = Ledgers().apply_all(log)
    h = genesis("acme")
    by_id = {e.event_id: e for e in log}
    from domain.billing.chain import digest
    for pos, e in enumerate(out, start=1):
        h = link(h, pos, e, [digest(by_id[s]) for s in getattr(e, "source_event_ids", [])])
        if isinstance(e, ev.UsageCharged):
            assert e.chain_hash == h.hex()


def test_events_of_other_tenants_are_ignored_by_a_tenant_ledger():
    led = BillingLedger("acme")
    led.apply(price_book(1))
    out = [x for e in completed_job("g", tenant="globex") for x in led.apply(e)]
    assert out == [] and led.jobs == {}


def test_book_effective_after_all_facts_keeps_jobs_pending():
    ledgers, out = run([price_book(1, BOOK_T + timedelta(days=3650)), *completed_job("j")])
    assert out == [] and ledgers.ledger("acme").pending == {"j"}
