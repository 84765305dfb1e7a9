"""The per-tenant hash chain over billing events, and its verifier.

Construction (version 1), enough for an auditor to reimplement it in any language:

* The chain of tenant T is over T's *billing stream*: the events of type UsageCharged,
  QuotaSettled, QuotaReleased and InvoiceIssued whose `tenant_id` is T, in the order they stand
  in the log (the billing topic is keyed by tenant, so one partition holds the whole stream in
  order). Each of them carries `aggregate_id = "billing:" + T` and `aggregate_version = i`, its
  1-based position in the stream: a deleted, duplicated, reordered or inserted event shows as a
  break in that sequence at the first position where it occurs.
* Through its `source_event_ids`, a UsageCharged also covers the facts it was computed from (the
  price book, JobAccepted, JobStarted, ShotsMeasured or JobCancelled, the terminal fact): flipping
  one of those breaks the link of the charge that rests on it.
* canonical(e): the event as JSON (pydantic v2 JSON mode: datetimes as ISO 8601 with `Z`, floats
  in shortest round-trip form), without its `chain_hash` field and without every field (at any
  level) whose value equals the catalogue's default, but always with `type`; keys sorted at every
  level, no whitespace (separators `,` and `:`), non-ASCII left as UTF-8. Leaving defaults out
  keeps recorded chains valid when the catalogue gains a field with a default.
* digest(e) = SHA-256(canonical(e)) (32 bytes).
* h_0 = SHA-256("qmux/billing-chain/v1" || 0x00 || UTF-8(T)).
* h_i = SHA-256(h_{i-1} || u64be(i) || u64be(len(canonical(e_i))) || canonical(e_i)
                || digest(s_1) || ... || digest(s_k)),
  where s_1..s_k are the events named by e_i's `source_event_ids`, in that order (k = 0 for
  events without sources).
* UsageCharged and InvoiceIssued record hex(h_i) in `chain_hash`: these are the anchors. A
  QuotaSettled / QuotaReleased (no `chain_hash` field) is covered by its position and by the next
  anchor; a tampered one is reported at that anchor, with the range it may lie in. Events after
  the last anchor, and a truncated tail, are not covered by the chain alone: `replay.reconcile`
  catches those (every expected settlement, release and charge must be recorded, unchanged).

The chain makes tampering evident against anchors already handed out (an invoice's chain hash),
not impossible: anyone who can rewrite the whole tail can recompute it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Iterable

from domain import events as ev

CHAIN_VERSION = "qmux/billing-chain/v1"
BILLING_TYPES = frozenset({"UsageCharged", "QuotaSettled", "QuotaReleased", "InvoiceIssued"})
ANCHOR_TYPES = frozenset({"UsageCharged", "InvoiceIssued"})
_EXCLUDE = {"chain_hash"}
_sha256 = hashlib.sha256
# One encoder for every call: json.dumps with options builds a new one each time, which costs
# as much as the encoding itself on the replay's hot path.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False)


def billing_aggregate_id(tenant_id: str) -> str:
    return f"billing:{tenant_id}"


def canonical(e: ev.Event) -> bytes:
    # Fields still at their default are left out (the type is always in): a field added to the
    # catalogue later, with a default, leaves the canonical form of every recorded event unchanged,
    # so the chain survives schema evolution. Any change of a value, to or from its default, shows.
    body = e.model_dump(mode="json", exclude=_EXCLUDE, exclude_defaults=True)
    body["type"] = e.type
    return _ENCODER.encode(body).encode()


def digest(e: ev.Event) -> bytes:
    return _sha256(canonical(e)).digest()


def genesis(tenant_id: str) -> bytes:
    return _sha256(CHAIN_VERSION.encode() + b"\x00" + tenant_id.encode()).digest()


def link(prev: bytes, position: int, e: ev.Event, source_digests: Iterable[bytes] = ()) -> bytes:
    c = canonical(e)
    h = _sha256(prev)
    h.update(position.to_bytes(8, "big"))
    h.update(len(c).to_bytes(8, "big"))
    h.update(c)
    for d in source_digests:
        h.update(d)
    return h.digest()


@dataclass(frozen=True)
class Break:
    tenant_id: str
    position: int            # 1-based position in the tenant's billing stream where it showed
    event_id: str
    kind: str                # sequence | aggregate | missing_source | foreign_source | hash_mismatch
    expected: str
    recorded: str
    suspect_from: int        # the tampered event lies in positions suspect_from..position
    detail: str


@dataclass
class TenantChain:
    tenant_id: str
    links: int = 0
    anchors: int = 0
    head: str = ""
    first_break: Break | None = None


@dataclass
class ChainReport:
    tenants: dict[str, TenantChain] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(t.first_break is None for t in self.tenants.values())

    @property
    def breaks(self) -> list[Break]:
        return [t.first_break for t in self.tenants.values() if t.first_break is not None]

    def to_dict(self) -> dict:
        return {"ok": self.ok, "tenants": {k: asdict(v) for k, v in sorted(self.tenants.items())}}


class _Digests:
    """digest() of source events, computed once per event id (a price book backs many charges)."""

    def __init__(self, index: dict[str, ev.Event]):
        self.index, self.cache = index, {}

    def get(self, event_id: str) -> tuple[ev.Event | None, bytes | None]:
        e = self.index.get(event_id)
        if e is None:
            return None, None
        d = self.cache.get(event_id)
        if d is None:
            d = self.cache[event_id] = digest(e)
        return e, d


def verify_chain(events_in_log_order: Iterable[ev.Event]) -> ChainReport:
    """Recompute every tenant's chain and report, per tenant, the first broken link."""
    streams: dict[str, list[ev.Event]] = {}
    index: dict[str, ev.Event] = {}
    for e in events_in_log_order:
        if e.type in BILLING_TYPES:
            streams.setdefault(e.tenant_id or "", []).append(e)
        else:
            index.setdefault(e.event_id, e)  # a redelivered copy carries the same facts
    digests = _Digests(index)
    report = ChainReport()
    for tenant, stream in streams.items():
        report.tenants[tenant] = _verify_stream(tenant, stream, digests)
    return report


def _verify_stream(tenant: str, stream: list[ev.Event], digests: _Digests) -> TenantChain:
    tc = TenantChain(tenant)
    h = genesis(tenant)
    last_anchor = 0
    aggregate = billing_aggregate_id(tenant)

    def broken(pos: int, e: ev.Event, kind: str, expected: str, recorded: str, detail: str) -> TenantChain:
        tc.first_break = Break(tenant, pos, e.event_id, kind, expected, recorded, last_anchor + 1, detail)
        return tc

    for pos, e in enumerate(stream, start=1):
        if e.aggregate_id != aggregate:
            return broken(pos, e, "aggregate", aggregate, e.aggregate_id,
                          f"{e.type} {e.event_id} belongs to aggregate {e.aggregate_id!r}, not {aggregate!r}")
        if e.aggregate_version != pos:
            what = ("a deleted event before it" if e.aggregate_version > pos else
                    "a duplicated, reordered or inserted event")
            return broken(pos, e, "sequence", str(pos), str(e.aggregate_version),
                          f"{e.type} {e.event_id} has version {e.aggregate_version} at position {pos}: {what}")
        source_digests = []
        for sid in getattr(e, "source_event_ids", ()):
            src, d = digests.get(sid)
            if src is None or d is None:
                return broken(pos, e, "missing_source", sid, "",
                              f"{e.type} {e.event_id} rests on event {sid}, which is not in the log")
            if src.tenant_id not in (None, tenant):
                return broken(pos, e, "foreign_source", tenant, str(src.tenant_id),
                              f"{e.type} {e.event_id} rests on event {sid} of tenant {src.tenant_id}")
            source_digests.append(d)
        h = link(h, pos, e, source_digests)
        tc.links = pos
        if e.type in ANCHOR_TYPES:
            recorded = e.chain_hash  # type: ignore[attr-defined]
            if recorded != h.hex():
                return broken(pos, e, "hash_mismatch", h.hex(), recorded,
                              f"chain hash of {e.type} {e.event_id} differs: an event at positions "
                              f"{last_anchor + 1}..{pos} or one of its sources was altered")
            tc.anchors += 1
            last_anchor = pos
    tc.head = h.hex()
    return tc
