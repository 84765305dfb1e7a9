"""The billing ledger: what the billing agent runs, and what the auditor re-runs.

`BillingLedger.apply(event)` folds one delivered event and returns the billing events to emit
now. Per job, on its first terminal fact (see `metering`):

* billable -> `UsageCharged` then `QuotaSettled`; the charge waits until the job's lane
  (`JobAccepted`) and a price book in force at the terminal fact's time are both known, so the
  amount does not depend on the order those deliveries arrive in;
* not billable -> `QuotaReleased` with the reason.

Every emitted event has a deterministic `event_id` (from tenant, job and kind), `occurred_at`
equal to the terminal fact's time, `aggregate_id = "billing:<tenant>"`, the next
`aggregate_version` of the tenant's billing stream and, for anchors, the `chain_hash` (see
`chain`). Applying an event already seen returns nothing, and so does an outcome whose events
were already emitted: after a crash the agent re-applies its own billing stream (those events
are recognised and restore the sequence and chain head) and then the re-delivered inputs, and
only what is still missing comes out.

Price books are global; `Ledgers` holds one `PriceBooks` and one `BillingLedger` per tenant and
routes events to them. The agent must have consumed the admin topic up to a fact's time before
the fact is priced (books are published before they take effect, see `pricing`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from domain import events as ev
from domain.billing import chain
from domain.billing.invoices import build_invoice, period_end, period_of
from domain.billing.metering import JOB_FACTS, JobMeter, NotBilled
from domain.billing.pricing import PriceBooks


class BillingLedger:
    def __init__(self, tenant_id: str, books: PriceBooks | None = None, chained: bool = True):
        self.tenant_id = tenant_id
        self.chained = chained  # False only for a replay that compares content, never positions
        self.books = books if books is not None else PriceBooks()
        self.aggregate_id = chain.billing_aggregate_id(tenant_id)
        self.jobs: dict[str, JobMeter] = {}
        self.stream: list[ev.Event] = []           # this tenant's billing stream, in emission order
        self.emitted: dict[str, ev.Event] = {}     # event id -> billing event
        self.charges: dict[str, ev.UsageCharged] = {}  # charge event id -> charge
        self.pending: set[str] = set()             # jobs ended and billable, waiting for a lane or a book
        self.invoices: dict[str, list[ev.InvoiceIssued]] = {}  # period -> original, adjustments...
        self.invoiced: set[str] = set()            # charge event ids on some invoice
        self.version = 0
        self.head = chain.genesis(tenant_id)
        self._seen: set[str] = set()

    # ------------------------------------------------------------------ folding

    def apply(self, e: ev.Event) -> list[ev.Event]:
        if e.type in chain.BILLING_TYPES:
            self._restore(e)
            return []
        if e.type == "PriceBookPublished":
            return self.retry_pending() if self.books.add(e) else []  # type: ignore[arg-type]
        if e.type not in JOB_FACTS or e.tenant_id != self.tenant_id:
            return []
        if e.event_id in self._seen:
            return []
        self._seen.add(e.event_id)
        job_id: str = e.job_id  # type: ignore[attr-defined]
        meter = self.jobs.get(job_id)
        if meter is None:
            meter = self.jobs[job_id] = JobMeter(job_id, self.tenant_id)
        if not meter.observe(e):
            return []
        return self._settle(meter)

    def retry_pending(self) -> list[ev.Event]:
        out: list[ev.Event] = []
        for job_id in sorted(self.pending):
            out += self._settle(self.jobs[job_id])
        return out

    def _settle(self, meter: JobMeter) -> list[ev.Event]:
        outcome = meter.outcome()
        if outcome is None:
            return []
        job_id = meter.job_id
        if isinstance(outcome, NotBilled):
            return self._emit_new([_Candidate(
                ev.QuotaReleased, ev.deterministic_id("QuotaReleased", self.tenant_id, job_id),
                dict(occurred_at=outcome.at, job_id=job_id, reason=outcome.reason))])
        lane = meter.lane
        book = self.books.at(outcome.at)
        if lane is None or book is None:
            self.pending.add(job_id)
            return []
        self.pending.discard(job_id)
        charge_id = ev.deterministic_id("UsageCharged", self.tenant_id, job_id)
        settled_id = ev.deterministic_id("QuotaSettled", self.tenant_id, job_id)
        if charge_id in self.emitted and settled_id in self.emitted:
            return []
        sources: list[ev.Event] = [meter.accepted, *outcome.sources]  # type: ignore[list-item]
        charge = _Candidate(ev.UsageCharged, charge_id, dict(
            occurred_at=outcome.at, job_id=job_id,
            amount_micro=book.charge_micro(outcome.shots, outcome.qpu_seconds_micro, lane),
            shots=outcome.shots, qpu_seconds_micro=outcome.qpu_seconds_micro,
            price_book_version=book.version, calibration_epoch=outcome.calibration_epoch,
            source_event_ids=[book.event_id, *(s.event_id for s in sources)]), book.digest, sources)
        settled = _Candidate(ev.QuotaSettled, settled_id, dict(
            occurred_at=outcome.at, job_id=job_id, shots=outcome.shots, qpu_seconds=outcome.qpu_seconds))
        return self._emit_new([charge, settled])

    # ------------------------------------------------------------------ emitting and restoring

    def _emit_new(self, candidates: list[_Candidate]) -> list[ev.Event]:
        """Version, chain and record the candidates not emitted before, in order."""
        out: list[ev.Event] = []
        for c in candidates:
            if c.event_id in self.emitted:
                continue
            pos = self.version + 1
            e = c.build(self.tenant_id, self.aggregate_id, pos)
            if self.chained:
                digests = [] if c.book_digest is None else [c.book_digest, *(chain.digest(s) for s in c.sources)]
                self.head = chain.link(self.head, pos, e, digests)
                if e.type in chain.ANCHOR_TYPES:
                    e = e.model_copy(update={"chain_hash": self.head.hex()})
            self._record(e)
            out.append(e)
        return out

    def _record(self, e: ev.Event) -> None:
        self.version = e.aggregate_version
        self.emitted[e.event_id] = e
        self.stream.append(e)
        if e.type == "UsageCharged":
            self.charges[e.event_id] = e  # type: ignore[assignment]
        elif e.type == "InvoiceIssued":
            self.invoices.setdefault(e.period, []).append(e)  # type: ignore[attr-defined]
            self.invoiced.update(line["charge_event_id"] for line in e.lines)  # type: ignore[attr-defined]

    def _restore(self, e: ev.Event) -> None:
        """Take back one of this tenant's own billing events (re-read after a restart)."""
        if e.tenant_id != self.tenant_id or e.event_id in self.emitted:
            return
        if e.aggregate_version != self.version + 1:
            raise LedgerError(
                f"billing stream of {self.tenant_id} is broken at {e.type} {e.event_id}: version "
                f"{e.aggregate_version} after {self.version}; run `qmux audit verify-chain` before restarting")
        if e.type in chain.ANCHOR_TYPES:
            self.head = bytes.fromhex(e.chain_hash)  # type: ignore[attr-defined]
        else:
            self.head = chain.link(self.head, e.aggregate_version, e)
        self._record(e)

    # ------------------------------------------------------------------ invoicing

    def invoice(self, up_to: datetime) -> list[ev.Event]:
        """Invoice every period that ended by `up_to` and has charges on no invoice yet: the
        period's first invoice, or an adjustment of it for charges that arrived late."""
        due: dict[str, list[ev.UsageCharged]] = {}
        for cid, c in self.charges.items():
            if cid not in self.invoiced:
                due.setdefault(period_of(c.occurred_at), []).append(c)
        out: list[ev.Event] = []
        for period in sorted(due):
            if period_end(period) > up_to:
                continue
            issued = self.invoices.get(period, [])
            inv = build_invoice(self.tenant_id, period, due[period], seq=len(issued),
                                original_id=issued[0].invoice_id if issued else None,
                                issued_at=up_to, aggregate_id=self.aggregate_id)
            out += self._emit_new([_Candidate(type(inv), inv.event_id, inv.model_dump(
                exclude={"type", "event_id", "tenant_id", "aggregate_id", "aggregate_version", "chain_hash"}))])
        return out


class LedgerError(RuntimeError):
    pass


class _Candidate:
    """A billing event not yet placed in the stream: its position and chain hash come last."""

    __slots__ = ("cls", "event_id", "fields", "book_digest", "sources")

    def __init__(self, cls: type[ev.Event], event_id: str, fields: dict, book_digest: bytes | None = None,
                 sources: list[ev.Event] = []):
        self.cls, self.event_id, self.fields = cls, event_id, fields
        self.book_digest, self.sources = book_digest, sources

    def build(self, tenant_id: str, aggregate_id: str, position: int) -> ev.Event:
        return self.cls(event_id=self.event_id, tenant_id=tenant_id, aggregate_id=aggregate_id,
                        aggregate_version=position, **self.fields)


class Ledgers:
    """One ledger per tenant, sharing the price books; routes each event to its tenant."""

    def __init__(self, chained: bool = True) -> None:
        self.chained = chained
        self.books = PriceBooks()
        self.by_tenant: dict[str, BillingLedger] = {}

    def ledger(self, tenant_id: str) -> BillingLedger:
        led = self.by_tenant.get(tenant_id)
        if led is None:
            led = self.by_tenant[tenant_id] = BillingLedger(tenant_id, self.books, self.chained)
        return led

    def apply(self, e: ev.Event) -> list[ev.Event]:
        if e.type == "PriceBookPublished":
            if not self.books.add(e):  # type: ignore[arg-type]
                return []
            out: list[ev.Event] = []
            for tenant in sorted(self.by_tenant):
                out += self.by_tenant[tenant].retry_pending()
            return out
        if e.tenant_id is None:
            return []
        return self.ledger(e.tenant_id).apply(e)

    def apply_all(self, events: Iterable[ev.Event]) -> list[ev.Event]:
        out: list[ev.Event] = []
        for e in events:
            out += self.apply(e)
        return out

    def invoice(self, up_to: datetime) -> list[ev.Event]:
        out: list[ev.Event] = []
        for tenant in sorted(self.by_tenant):
            out += self.by_tenant[tenant].invoice(up_to)
        return out

    def emitted(self) -> list[ev.Event]:
        return [e for t in sorted(self.by_tenant) for e in self.by_tenant[t].stream]
