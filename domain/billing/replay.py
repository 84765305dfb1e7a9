"""The auditor's core: re-derive every bill from the facts, then compare with what was recorded.

`rederive(events)` runs the same `Ledgers` the billing agent runs over every non-billing event
of the log (price books first, as the agent catches up on the admin topic before pricing),
giving the expected billing events. `reconcile(expected, recorded, table_rows)` compares them,
per tenant, with the billing events recorded in the log and, when given, with the rows of the
ClickHouse charges table: money in micro-credits, and every charge, settlement and release by
event id. Positions and chain hashes depend on the order the agent saw deliveries in and are
checked by `chain.verify_chain` on the recorded stream instead. `ok` is false on any
difference: a duplicated, altered, deleted or invented billing event, a table row likewise, or
an invoice that does not add up to the replayed charges.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from domain import events as ev
from domain.billing.invoices import check_invoices, period_end, period_of
from domain.billing.ledger import Ledgers
from domain.billing.metering import JOB_FACTS

# What must agree, per kind, between a replayed and a recorded billing event.
COMPARED: dict[str, tuple[str, ...]] = {
    "UsageCharged": ("tenant_id", "job_id", "amount_micro", "shots", "qpu_seconds_micro",
                     "price_book_version", "calibration_epoch", "source_event_ids", "occurred_at"),
    "QuotaSettled": ("tenant_id", "job_id", "shots", "qpu_seconds", "occurred_at"),
    "QuotaReleased": ("tenant_id", "job_id", "reason", "occurred_at"),
}
TABLE_FIELDS = ("tenant_id", "job_id", "amount_micro", "shots", "qpu_seconds_micro",
                "price_book_version", "calibration_epoch")


def rederive(events: Iterable[ev.Event], chained: bool = False) -> Ledgers:
    """Expected billing, from the price books and job facts of the log (in log order).

    Positions and chain hashes of the expected events depend on the order the agent saw its
    deliveries in, which the log does not keep across topics, so `reconcile` ignores them and
    they are not computed unless `chained` (the recorded chain is checked by `verify_chain`)."""
    ledgers = Ledgers(chained=chained)
    rest: list[ev.Event] = []
    for e in events:
        t = e.type
        if t == "PriceBookPublished":
            ledgers.apply(e)
        elif t in JOB_FACTS:
            rest.append(e)
    apply = ledgers.apply
    for e in rest:
        apply(e)
    return ledgers


@dataclass
class TenantReconciliation:
    tenant_id: str
    expected_micro: int = 0
    recorded_log_micro: int = 0
    difference_log_micro: int = 0
    recorded_table_micro: int | None = None
    difference_table_micro: int | None = None
    charges_expected: int = 0
    charges_recorded: int = 0
    mismatching: list[str] = field(default_factory=list)   # event ids whose content differs
    missing: list[str] = field(default_factory=list)       # expected, not in the log
    extra: list[str] = field(default_factory=list)         # in the log, not expected
    duplicated: list[str] = field(default_factory=list)    # in the log more than once
    table_mismatching: list[str] = field(default_factory=list)
    table_missing: list[str] = field(default_factory=list)
    table_extra: list[str] = field(default_factory=list)
    table_duplicated: list[str] = field(default_factory=list)
    invoiced_micro: int = 0
    invoice_problems: list[str] = field(default_factory=list)
    uninvoiced: list[str] = field(default_factory=list)    # charges of ended periods awaiting an (adjustment) invoice

    @property
    def ok(self) -> bool:
        return not (self.difference_log_micro or self.difference_table_micro or self.mismatching
                    or self.missing or self.extra or self.duplicated or self.table_mismatching
                    or self.table_missing or self.table_extra or self.table_duplicated
                    or self.invoice_problems)


@dataclass
class Reconciliation:
    tenants: dict[str, TenantReconciliation]
    table_checked: bool

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tenants.values())

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "table_checked": self.table_checked,
                "tenants": {k: {**asdict(v), "ok": v.ok} for k, v in sorted(self.tenants.items())}}


def _fields(e: ev.Event, names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(getattr(e, n) for n in names)


def reconcile(expected: Ledgers, recorded_billing_events: Iterable[ev.Event],
              table_rows: Iterable[Mapping[str, Any]] | None = None) -> Reconciliation:
    want: dict[str, ev.Event] = {}
    for led in expected.by_tenant.values():
        want.update((eid, e) for eid, e in led.emitted.items() if e.type in COMPARED)
    tenants: dict[str, TenantReconciliation] = {}

    def tr(tenant: str | None) -> TenantReconciliation:
        key = tenant or ""
        t = tenants.get(key)
        if t is None:
            t = tenants[key] = TenantReconciliation(key)
        return t

    for e in want.values():
        if e.type == "UsageCharged":
            t = tr(e.tenant_id)
            t.expected_micro += e.amount_micro  # type: ignore[attr-defined]
            t.charges_expected += 1

    got: dict[str, ev.Event] = {}
    counts: Counter[str] = Counter()
    invoices: list[ev.InvoiceIssued] = []
    for e in recorded_billing_events:
        if e.type == "InvoiceIssued":
            invoices.append(e)  # type: ignore[arg-type]
            continue
        if e.type not in COMPARED:
            continue
        counts[e.event_id] += 1
        t = tr(e.tenant_id)
        if e.type == "UsageCharged":
            t.recorded_log_micro += e.amount_micro  # type: ignore[attr-defined]
            t.charges_recorded += 1
        if counts[e.event_id] > 1:
            t.duplicated.append(e.event_id)
            continue
        got[e.event_id] = e
        w = want.get(e.event_id)
        if w is None:
            t.extra.append(e.event_id)
        elif w.type != e.type or _fields(w, COMPARED[w.type]) != _fields(e, COMPARED[w.type]):
            t.mismatching.append(e.event_id)
    for eid, w in want.items():
        if eid not in got:
            tr(w.tenant_id).missing.append(eid)

    if table_rows is not None:
        _reconcile_table(want, table_rows, tr, tenants)
    _reconcile_invoices(want, invoices, tr)
    for t in tenants.values():
        t.difference_log_micro = t.recorded_log_micro - t.expected_micro
        if table_rows is not None:
            t.recorded_table_micro = t.recorded_table_micro or 0
            t.difference_table_micro = t.recorded_table_micro - t.expected_micro
    return Reconciliation(tenants, table_checked=table_rows is not None)


def _reconcile_table(want: dict[str, ev.Event], rows: Iterable[Mapping[str, Any]], tr, tenants) -> None:
    for t in tenants.values():
        t.recorded_table_micro = 0
    seen: set[str] = set()
    for row in rows:
        eid = str(row["event_id"])
        t = tr(row.get("tenant_id"))
        t.recorded_table_micro = (t.recorded_table_micro or 0) + int(row.get("amount_micro", 0))
        if eid in seen:
            t.table_duplicated.append(eid)
            continue
        seen.add(eid)
        w = want.get(eid)
        if w is None or w.type != "UsageCharged":
            t.table_extra.append(eid)
        elif any(k in row and row[k] != getattr(w, k) for k in TABLE_FIELDS):
            t.table_mismatching.append(eid)
    for eid, w in want.items():
        if w.type == "UsageCharged" and eid not in seen:
            tr(w.tenant_id).table_missing.append(eid)


def _reconcile_invoices(want: dict[str, ev.Event], invoices: list[ev.InvoiceIssued], tr) -> None:
    charges = {eid: e for eid, e in want.items() if e.type == "UsageCharged"}
    by_tenant: dict[str, list[ev.InvoiceIssued]] = {}
    for inv in invoices:
        by_tenant.setdefault(inv.tenant_id, []).append(inv)
    if not by_tenant:
        return
    ends: dict[str, list[tuple[datetime, str]]] = {}
    for cid, c in charges.items():
        if c.tenant_id in by_tenant:
            ends.setdefault(c.tenant_id, []).append((period_end(period_of(c.occurred_at)), cid))
    for tenant, invs in by_tenant.items():
        t = tr(tenant)
        check = check_invoices(invs, charges)
        t.invoice_problems += check.problems
        t.invoiced_micro = check.invoiced_micro
        last_close = max(period_end(i.period) for i in invs)
        t.uninvoiced = sorted(cid for end, cid in ends.get(tenant, ()) if cid not in check.invoiced and end <= last_close)
