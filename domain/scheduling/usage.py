"""Decayed usage per tenant: QPU-seconds that fade with a half-life, computed from event times."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain import events as ev


@dataclass(frozen=True, slots=True)
class DecayedUsage:
    half_life_s: float = 3600.0
    # tenant -> (value at `at`, at); decayed lazily so folding is O(1) per event
    values: dict[str, tuple[float, float]] = field(default_factory=dict)

    def at(self, tenant_id: str, now: float) -> float:
        v = self.values.get(tenant_id)
        if v is None:
            return 0.0
        value, t0 = v
        # usage reported late (t0 > now) is taken as it is rather than grown by a negative decay
        return value * 0.5 ** (max(0.0, now - t0) / self.half_life_s)

    def add(self, tenant_id: str, qpu_seconds: float, t: float) -> DecayedUsage:
        v = self.values.get(tenant_id)
        if v is None:
            new = (qpu_seconds, t)
        elif t >= v[1]:
            new = (self.at(tenant_id, t) + qpu_seconds, t)
        else:  # an older fact arriving late: decay it to the newer reference time instead
            new = (v[0] + qpu_seconds * 0.5 ** ((v[1] - t) / self.half_life_s), v[1])
        return DecayedUsage(self.half_life_s, {**self.values, tenant_id: new})

    def snapshot(self, now: float) -> dict[str, float]:
        return {t: self.at(t, now) for t in self.values}


def apply(usage: DecayedUsage, e: ev.Event) -> DecayedUsage:
    if isinstance(e, ev.ShotsMeasured):
        return usage.add(e.tenant_id, e.qpu_seconds, e.occurred_at.timestamp())
    return usage
