"""Queue position, an ETA with an error band, and "why is my job where it is", for one job.

Other tenants are never named: a tenant learns how many jobs are ahead and why, not whose.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from domain.scheduling.fairshare import Params, QueueEntry, Usage, _norm, order, tenant_standing
from domain.scheduling.plans import LANE_RANK

REASONS = {
    "higher_lane": "in a higher-priority lane",
    "lower_usage_per_weight": "of tenants that used less of their share recently",
    "waited_longer": "that have waited longer (aging)",
    "own_smaller_job": "of your own that are smaller (small jobs go first within a tenant)",
    "own_older_job": "of your own that were queued earlier",
}


@dataclass(frozen=True, slots=True)
class Ahead:
    job_id: str | None  # only your own job ids are shown
    own: bool
    lane: str
    reason: str


@dataclass(frozen=True, slots=True)
class Explanation:
    job_id: str
    tenant_id: str
    lane: str
    weight: float
    decayed_usage_s: float
    standing: float  # doublings above (+) or below (-) the queued tenants' mean usage per weight
    position: int  # 0: next to start
    ahead: tuple[Ahead, ...]
    reasons: dict[str, int]
    eta_s: float | None
    eta_low_s: float | None
    eta_high_s: float | None
    text: str


def eta(position: int, observed_service_times: Sequence[float], parallelism: float = 1.0,
        running_remaining_s: float = 0.0, z: float = 1.645) -> tuple[float, float, float] | None:
    """Seconds until a job at `position` starts, with a ~90% band: (eta, low, high).

    The service times of the `position` jobs ahead are taken as independent draws from the observed
    ones, so the sum has mean n*m and spread sqrt(n)*s; the band is clipped to what the observed
    extremes allow. None when nothing has been observed yet (no honest estimate exists).
    """
    xs = [x for x in observed_service_times if x >= 0]
    if not xs:
        return None
    n = max(0, position) / max(parallelism, 1e-9)
    m = statistics.fmean(xs)
    s = statistics.pstdev(xs) if len(xs) > 1 else m
    mid = running_remaining_s + n * m
    spread = z * s * math.sqrt(n)
    low = max(running_remaining_s + n * min(xs), mid - spread)
    high = min(running_remaining_s + n * max(xs), mid + spread) if len(xs) > 1 else mid + spread
    return mid, min(low, mid), max(high, mid)


def _reason(me: QueueEntry, other: QueueEntry, norm: dict[str, float], p: Params) -> str:
    if LANE_RANK.get(other.lane, 9) < LANE_RANK.get(me.lane, 9):
        return "higher_lane"
    if other.tenant_id == me.tenant_id:
        return "own_smaller_job" if other.size_s < me.size_s else "own_older_job"
    if tenant_standing(norm, other.tenant_id, p) < tenant_standing(norm, me.tenant_id, p):
        return "lower_usage_per_weight"
    return "waited_longer"


def explain(job_id: str, queue: list[QueueEntry], usage: Usage, now: float, p: Params = Params(),
            observed_service_times: Sequence[float] = (), parallelism: float = 1.0,
            running_remaining_s: float = 0.0) -> Explanation:
    """Explain a queued job's position; raises KeyError naming the job if it is not queued."""
    ordered = order(queue, usage, now, p)
    idx = next((i for i, e in enumerate(ordered) if e.job_id == job_id), None)
    if idx is None:
        raise KeyError(f"job {job_id} is not queued here (it may have started, finished or been cancelled)")
    me = ordered[idx]
    norm = _norm(usage, queue)
    ahead = tuple(
        Ahead(o.job_id if o.tenant_id == me.tenant_id else None, o.tenant_id == me.tenant_id, o.lane,
              _reason(me, o, norm, p))
        for o in ordered[:idx]
    )
    reasons = dict(Counter(a.reason for a in ahead))
    band = eta(idx, observed_service_times, parallelism, running_remaining_s)
    standing = tenant_standing(norm, me.tenant_id, p)
    used = usage.get(me.tenant_id, 0.0)
    parts = [f"Position {idx} in the {me.lane} lane order of this QPU."]
    parts.append(f"Your weight is {me.weight:g}; your decayed usage is {used:.1f} QPU-s, "
                 f"{abs(standing):.2f} doublings {'above' if standing >= 0 else 'below'} the queued tenants' "
                 "average per unit of weight.")
    if ahead:
        parts.append("Ahead of you: " + "; ".join(f"{n} job(s) {REASONS[r]}" for r, n in sorted(reasons.items())) + ".")
    if band is not None:
        parts.append(f"Expected start in {band[0]:.0f} s (between {band[1]:.0f} and {band[2]:.0f} s).")
    return Explanation(job_id, me.tenant_id, me.lane, me.weight, used, standing, idx, ahead, reasons,
                       *(band if band else (None, None, None)), " ".join(parts))
