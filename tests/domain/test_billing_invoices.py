from __future__ import annotations

from datetime import datetime, timezone

import pytest

from domain import events as ev
from domain.billing import Ledgers, period_of, reconcile, rederive, verify_chain
from domain.billing.invoices import InvoiceError, period_end
from tests.domain.test_billing_factories import at, completed_job, price_book

DEC1 = datetime(2026, 12, 1, tzinfo=timezone.utc)
DEC2 = datetime(2026, 12, 2, tzinfo=timezone.utc)


def test_periods_are_utc_calendar_months():
    assert period_of(datetime(2026, 11, 30, 23, 59, tzinfo=timezone.utc)) == "2026-11"
    assert period_end("2026-11") == DEC1 and period_end("2026-12") == datetime(2027, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(InvoiceError, match="2026-11"):
        period_end("November")


def test_invoice_lines_trace_each_charge_to_its_facts():
    ledgers = Ledgers()
    inputs = [price_book(1), *completed_job("j1", t=at(0)), *completed_job("j2", lane="priority", t=at(5))]
    charges = [e for e in ledgers.apply_all(inputs) if isinstance(e, ev.UsageCharged)]
    [inv] = ledgers.invoice(DEC1)
    assert (inv.period, inv.adjusts_invoice_id, inv.occurred_at) == ("2026-11", None, DEC1)
    assert inv.total_micro == sum(c.amount_micro for c in charges) == sum(line["amount_micro"] for line in inv.lines)
    assert [line["charge_event_id"] for line in inv.lines] == [c.event_id for c in charges]
    line = inv.lines[1]
    assert (line["job_id"], line["calibration_epoch"], line["price_book_version"]) == ("j2", 3, 1)
    assert line["source_event_ids"] == charges[1].source_event_ids
    assert inv.chain_hash and ledgers.invoice(DEC2) == []


def test_invoicing_before_the_period_ends_is_refused():
    ledgers = Ledgers()
    ledgers.apply_all([price_book(1), *completed_job("j1")])
    assert ledgers.invoice(datetime(2026, 11, 30, tzinfo=timezone.utc)) == []  # not due yet
    led = ledgers.ledger("acme")
    from domain.billing.invoices import build_invoice
    with pytest.raises(InvoiceError, match="ends at 2026-12-01"):
        build_invoice("acme", "2026-11", led.charges.values(), 0, None, at(0), led.aggregate_id)


def test_late_fact_gets_an_adjustment_invoice_never_a_silent_change():
    ledgers = Ledgers()
    inputs = [price_book(1), *completed_job("j1")]
    out = ledgers.apply_all(inputs)
    [original] = ledgers.invoice(DEC1)
    late = completed_job("late", t=at(3600))  # happened in November, delivered after the invoice
    out_late = ledgers.apply_all(late)
    [adj] = ledgers.invoice(DEC2)
    assert adj.adjusts_invoice_id == original.invoice_id and adj.period == "2026-11"
    assert [line["job_id"] for line in adj.lines] == ["late"] and adj.invoice_id != original.invoice_id
    assert ledgers.ledger("acme").invoices["2026-11"][0] == original  # the issued invoice is untouched
    log = [ev.parse_event(e.to_json()) for e in inputs + out + [original] + late + out_late + [adj]]
    billing = [e for e in log if e.type in ("UsageCharged", "QuotaSettled", "QuotaReleased", "InvoiceIssued")]
    rec = reconcile(rederive(log), billing)
    assert rec.ok, rec.to_dict()
    assert rec.tenants["acme"].invoiced_micro == rec.tenants["acme"].expected_micro
    assert verify_chain(log).ok


def test_restored_ledger_does_not_reissue_invoices():
    ledgers = Ledgers()
    inputs = [price_book(1), *completed_job("j1")]
    stream = ledgers.apply_all(inputs) + ledgers.invoice(DEC1)
    restarted = Ledgers()
    restarted.apply_all(stream)
    restarted.apply_all(inputs)
    assert restarted.invoice(DEC2) == []


def test_tampered_invoice_is_caught():
    ledgers = Ledgers()
    inputs = [price_book(1), *completed_job("j1"), *completed_job("j2", t=at(9))]
    out = ledgers.apply_all(inputs)
    [inv] = ledgers.invoice(DEC1)
    lines = [dict(inv.lines[0], amount_micro=inv.lines[0]["amount_micro"] - 1000), inv.lines[1]]
    bad = inv.model_copy(update={"lines": lines, "total_micro": inv.total_micro - 1000})
    log = inputs + out + [bad]
    rec = reconcile(rederive(log), out + [bad])
    assert not rec.ok and any("differs from replay in amount_micro" in p for p in rec.tenants["acme"].invoice_problems)
    assert verify_chain(log).tenants["acme"].first_break.event_id == inv.event_id
    short = inv.model_copy(update={"total_micro": inv.total_micro + 1})
    rec = reconcile(rederive(log), out + [short])
    assert any("sum of its lines" in p for p in rec.tenants["acme"].invoice_problems)
    twice = reconcile(rederive(log), out + [inv, inv])
    assert any("recorded twice" in p for p in twice.tenants["acme"].invoice_problems)


def test_charge_left_off_every_invoice_is_listed_as_uninvoiced():
    ledgers = Ledgers()
    inputs = [price_book(1), *completed_job("j1")]
    out = ledgers.apply_all(inputs)
    [inv] = ledgers.invoice(DEC1)
    late = completed_job("late", t=at(60))
    out_late = ledgers.apply_all(late)
    rec = reconcile(rederive(inputs + late), out + [inv] + out_late)
    assert rec.ok and rec.tenants["acme"].uninvoiced == [out_late[0].event_id]
