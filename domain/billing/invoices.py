"""Invoices: per tenant, per UTC calendar month, each line one charge traceable to its facts.

A charge belongs to the period of its `occurred_at` (the time of the fact that ended the job).
The first invoice of a period (sequence 0) lists every charge of that period known when the
period is invoiced. A charge that arrives later (a late fact) is never folded silently into the
issued invoice: the next invoicing run issues an *adjustment* invoice (sequence 1, 2, ...) for
the same period whose `adjusts_invoice_id` names the original invoice. An invoice's total is the
sum of its lines; a period with nothing to invoice gets no invoice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from domain import events as ev

LINE_FIELDS = ("charge_event_id", "job_id", "amount_micro", "shots", "qpu_seconds_micro",
               "calibration_epoch", "price_book_version", "source_event_ids", "occurred_at")


class InvoiceError(ValueError):
    pass


def period_of(t: datetime) -> str:
    t = ev.utc(t)
    return f"{t.year:04d}-{t.month:02d}"


def period_end(period: str) -> datetime:
    """The first instant after the period (exclusive end), UTC."""
    try:
        year, month = (int(x) for x in period.split("-"))
        if not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise InvoiceError(f"period must look like 2026-11 (UTC year-month), got {period!r}") from None
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=timezone.utc)


def invoice_id(tenant_id: str, period: str, seq: int) -> str:
    return f"inv-{period}-{seq:02d}-{ev.deterministic_id('invoice', tenant_id, period, seq)[:8]}"


def line_of(c: ev.UsageCharged) -> dict[str, Any]:
    return {"charge_event_id": c.event_id, "job_id": c.job_id, "amount_micro": c.amount_micro,
            "shots": c.shots, "qpu_seconds_micro": c.qpu_seconds_micro,
            "calibration_epoch": c.calibration_epoch, "price_book_version": c.price_book_version,
            "source_event_ids": list(c.source_event_ids), "occurred_at": c.occurred_at.isoformat()}


def build_invoice(tenant_id: str, period: str, charges: Iterable[ev.UsageCharged], seq: int,
                  original_id: str | None, issued_at: datetime, aggregate_id: str) -> ev.InvoiceIssued:
    """The invoice (or adjustment, seq > 0) for these charges; version and chain hash come later."""
    if issued_at < period_end(period):
        raise InvoiceError(f"period {period} ends at {period_end(period).isoformat()}; "
                           f"it cannot be invoiced at {issued_at.isoformat()}")
    if seq > 0 and original_id is None:
        raise InvoiceError(f"adjustment {seq} of {tenant_id}/{period} needs the original invoice id")
    lines = [line_of(c) for c in sorted(charges, key=lambda c: (c.occurred_at, c.event_id))]
    iid = invoice_id(tenant_id, period, seq)
    return ev.InvoiceIssued(
        event_id=ev.deterministic_id("InvoiceIssued", tenant_id, iid), tenant_id=tenant_id,
        aggregate_id=aggregate_id, aggregate_version=0, occurred_at=issued_at, invoice_id=iid,
        period=period, total_micro=sum(line["amount_micro"] for line in lines), lines=lines,
        adjusts_invoice_id=original_id if seq > 0 else None)


@dataclass
class InvoiceCheck:
    problems: list[str] = field(default_factory=list)
    invoiced: dict[str, str] = field(default_factory=dict)  # charge event id -> invoice id
    invoiced_micro: int = 0


def check_invoices(invoices: Iterable[ev.InvoiceIssued], charges: dict[str, ev.UsageCharged]) -> InvoiceCheck:
    """Every line must be an expected charge, unchanged, in its own period, invoiced once; totals add up."""
    out = InvoiceCheck()
    seen: dict[str, ev.InvoiceIssued] = {}
    for inv in invoices:
        where = f"invoice {inv.invoice_id} ({inv.tenant_id} {inv.period})"
        if inv.invoice_id in seen:
            out.problems.append(f"{where} recorded twice")
            continue
        seen[inv.invoice_id] = inv
        if inv.adjusts_invoice_id is not None:
            orig = seen.get(inv.adjusts_invoice_id)
            if orig is None or orig.tenant_id != inv.tenant_id or orig.period != inv.period:
                out.problems.append(f"{where} adjusts {inv.adjusts_invoice_id}, which is not an earlier invoice "
                                    f"of the same tenant and period")
        total = 0
        for line in inv.lines:
            cid = line.get("charge_event_id")
            total += int(line.get("amount_micro", 0))
            c = charges.get(str(cid))
            if c is None:
                out.problems.append(f"{where} bills charge {cid}, which replay does not derive")
                continue
            if c.tenant_id != inv.tenant_id or period_of(c.occurred_at) != inv.period:
                out.problems.append(f"{where} bills charge {cid} of {c.tenant_id} {period_of(c.occurred_at)}")
            want = line_of(c)
            diff = sorted(k for k in LINE_FIELDS if line.get(k) != want[k])
            if diff:
                out.problems.append(f"{where} line for charge {cid} differs from replay in {', '.join(diff)}")
            if cid in out.invoiced:
                out.problems.append(f"{where} bills charge {cid} already billed by {out.invoiced[cid]}")
            else:
                out.invoiced[cid] = inv.invoice_id
                out.invoiced_micro += c.amount_micro
        if total != inv.total_micro:
            out.problems.append(f"{where} total {inv.total_micro} != sum of its lines {total}")
    return out
