"""Who and what exists: tenants (with their keys) and QPUs, folded from admin and calibration events."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain import events as ev
from domain import qpu as qpu_agg
from domain import tenant as tenant_agg


@dataclass
class Registry:
    tenants: dict[str, tenant_agg.Tenant] = field(default_factory=dict)
    qpus: dict[str, qpu_agg.Qpu] = field(default_factory=dict)
    key_owner: dict[str, str] = field(default_factory=dict)  # key id -> tenant id
    price_books: dict[int, ev.PriceBookPublished] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def apply(self, e: ev.Event) -> None:
        if e.event_id in self.seen:
            return
        self.seen.add(e.event_id)
        if isinstance(e, (ev.TenantRegistered, ev.ApiKeyIssued, ev.ApiKeyRevoked, ev.PlanAssigned)):
            t = tenant_agg.apply(self.tenants.get(e.tenant_id), e)
            if t is not None:
                self.tenants[e.tenant_id] = t
            if isinstance(e, ev.ApiKeyIssued):
                self.key_owner[e.key_id] = e.tenant_id
        elif isinstance(e, ev.PriceBookPublished):
            self.price_books.setdefault(e.version, e)
        elif isinstance(e, (ev.QpuRegistered, ev.CalibrationStarted, ev.CalibrationCompleted, ev.QpuDrained, ev.QpuResumed)):
            q = qpu_agg.apply(self.qpus.get(e.qpu_id), e)
            if q is not None:
                self.qpus[e.qpu_id] = q

    def authenticate(self, api_key: str) -> tuple[str, str]:
        """(tenant id, role) for a live key; raises tenant.UnknownKey otherwise."""
        key_id, secret = tenant_agg.split_key(api_key)
        owner = self.key_owner.get(key_id)
        if owner is None or owner not in self.tenants:
            tenant_agg.hash_secret(secret)  # same work either way: no timing hint that the key id exists
            raise tenant_agg.UnknownKey("unknown or revoked API key")
        return owner, self.tenants[owner].authenticate(key_id, secret)
