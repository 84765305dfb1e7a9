"""Noisy neighbours: crosstalk between co-running jobs, and detecting the tenant that causes it.

Crosstalk model (applied by the executor, per gate layer, as extra depolarizing probability on a
victim qubit): each qubit of another running job one hop away adds `p_adjacent`, two hops away adds
`p_next_nearest`; a job declared pulse-level / high-amplitude multiplies what it causes by
`pulse_factor`. Placement's buffer rule keeps co-scheduled jobs two hops apart, so in normal
operation only the next-nearest term is present.

Detection combines two signals and decides what to do:
  * health checks: qubits whose measured error exceeds `elevated_ratio` x their calibrated error;
  * per-tenant comparison: the error rate co-tenants measured while sharing the QPU with a tenant,
    against the rate they measured without it.
A tenant near the elevated qubits (or whose co-tenants suffer) is throttled when it declared
pulse-level work or is a repeat offender; otherwise the elevated qubits are quarantined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class CrosstalkParams:
    p_adjacent: float = 2e-3
    p_next_nearest: float = 1e-4
    pulse_factor: float = 10.0


def crosstalk_map(qubits: Sequence[int], others: Iterable[tuple[Sequence[int], bool]],
                  adjacency: Mapping[int, frozenset[int]], p: CrosstalkParams = CrosstalkParams()) -> dict[int, float]:
    """Extra depolarizing probability on each of `qubits` caused by `others` (their qubits, pulse flag)."""
    out = {q: 0.0 for q in qubits}
    for oq, pulse in others:
        f = p.pulse_factor if pulse else 1.0
        for o in oq:
            one = adjacency.get(o, frozenset())
            two = set().union(*(adjacency.get(n, frozenset()) for n in one)) - one - {o}
            for q in qubits:
                if q in one:
                    out[q] += f * p.p_adjacent
                elif q in two:
                    out[q] += f * p.p_next_nearest
    return {q: min(v, 0.75) for q, v in out.items() if v > 0}


@dataclass(frozen=True, slots=True)
class RecentJob:
    job_id: str
    tenant_id: str
    qubits: tuple[int, ...]
    pulse_level: bool
    error_rate: float  # measured (e.g. 1 - fidelity of a mirrored check), comparable across jobs
    co_tenants: tuple[str, ...]  # tenants that ran on the QPU at the same time


@dataclass(frozen=True, slots=True)
class DetectParams:
    elevated_ratio: float = 1.5
    co_tenant_ratio: float = 1.3
    min_samples: int = 3


@dataclass(frozen=True, slots=True)
class Incident:
    suspect_tenant_id: str | None
    qubits: tuple[int, ...]
    action: Literal["quarantine", "throttle", "notify"]
    affected_tenants: tuple[str, ...]
    reason: str


def elevated_qubits(measured: Mapping[int, float], calibrated: Mapping[int, float], p: DetectParams) -> list[int]:
    return sorted(q for q, m in measured.items() if m > p.elevated_ratio * max(calibrated.get(q, 0.0), 1e-6))


def co_tenant_harm(recent: Sequence[RecentJob], p: DetectParams) -> dict[str, float]:
    """For each tenant T: mean error of other tenants' jobs run alongside T over their mean error without T."""
    tenants = sorted({j.tenant_id for j in recent} | {t for j in recent for t in j.co_tenants})
    harm: dict[str, float] = {}
    for t in tenants:
        with_t = [j.error_rate for j in recent if j.tenant_id != t and t in j.co_tenants]
        without = [j.error_rate for j in recent if j.tenant_id != t and t not in j.co_tenants]
        if len(with_t) >= p.min_samples and len(without) >= p.min_samples:
            base = max(sum(without) / len(without), 1e-9)
            harm[t] = (sum(with_t) / len(with_t)) / base
    return harm


def detect(measured: Mapping[int, float], calibrated: Mapping[int, float], recent: Sequence[RecentJob],
           adjacency: Mapping[int, frozenset[int]], prior_incidents: Mapping[str, int] | None = None,
           p: DetectParams = DetectParams()) -> Incident | None:
    """Decide on an incident from the latest health check and recent jobs; None when all is well."""
    hot = elevated_qubits(measured, calibrated, p)
    harm = co_tenant_harm(recent, p)
    near: dict[str, set[int]] = {}
    for j in recent:
        reach = set(j.qubits) | {n for q in j.qubits for n in adjacency.get(q, frozenset())}
        hit = reach & set(hot)
        if hit:
            near.setdefault(j.tenant_id, set()).update(hit)
    harmful = {t for t, r in harm.items() if r > p.co_tenant_ratio}
    if not hot and not harmful:
        return None
    pulse = {j.tenant_id for j in recent if j.pulse_level}

    def blame(t: str) -> tuple[int, int, float, str]:
        # pulse-level declarations and co-tenant harm weigh more than mere proximity
        return (int(t in pulse) + int(t in harmful), len(near.get(t, ())), harm.get(t, 0.0), t)

    suspects = sorted(set(near) | harmful, key=blame, reverse=True)
    suspect = suspects[0] if suspects and (suspects[0] in pulse or suspects[0] in harmful) else None
    qubits = tuple(sorted(set(hot) | (near.get(suspect, set()) if suspect else set())))
    affected = tuple(sorted({j.tenant_id for j in recent if j.tenant_id != suspect
                             and (set(j.qubits) & set(qubits) or (suspect and suspect in j.co_tenants))}))
    repeat = bool(suspect and (prior_incidents or {}).get(suspect, 0) > 0)
    if suspect and (suspect in pulse or repeat or not hot):
        why = "declared pulse-level work" if suspect in pulse else "co-tenants' error rose while it ran"
        return Incident(suspect, qubits, "throttle", affected, f"tenant {suspect}: {why}; "
                        f"elevated qubits {list(hot)}, co-tenant error ratio {harm.get(suspect, 1.0):.2f}")
    if hot:
        return Incident(suspect, tuple(hot), "quarantine", affected,
                        f"qubits {hot} measured above {p.elevated_ratio}x their calibrated error")
    return Incident(suspect, qubits, "notify", affected, "co-tenant error rose; watching")
