"""Per-QPU queue order: decayed usage against weight, a bounded lane preference, size-awareness.

Jobs are grouped by (lane, tenant). A group's key is

    log2((u/w + c) / (mean u/w of the queued tenants + c))  +  lane_rank * lane_gap  -  oldest_wait / aging_s

so a tenant that used twice its weighted share is one unit behind. `u` is usage decayed with a short
half-life (minutes), in-flight work included by the caller: it is a recent service rate rather than
a long memory, so backlogged tenants split the QPU by weight over a few minutes, a tenant is not
punished for hours after a burst, and one that waits sees its usage fade until it is next. A lane
is worth `lane_gap` doublings: premium is served first among tenants near their share, but a
premium tenant far above its share yields to lighter ones (strict lanes cannot be weighted-fair:
the higher lane takes everything whenever it has work). Aging (`aging_s`) only guarantees progress
when usage is not refreshed, as in a projected order. Inside a group the tenant's own jobs go
small-first (log2 of size over `size_ref_s`, capped), with aging, so its small jobs are not stuck
behind its own huge ones and its huge ones still run.

Projected order (`order`) charges each picked job's size to its tenant before the next pick, which
is what the queue will look like if nothing else arrives. `pick` is the O(n) head for dispatch.
Times are seconds since the epoch (`occurred_at.timestamp()` of the events).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from domain.scheduling.plans import LANE_RANK


@dataclass(frozen=True, slots=True)
class QueueEntry:
    job_id: str
    tenant_id: str
    lane: str
    weight: float
    enqueued_at: float
    size_s: float  # estimated QPU-seconds (the quota hold)
    num_qubits: int = 1
    allow_coscheduling: bool = False


@dataclass(frozen=True, slots=True)
class Params:
    half_life_s: float = 300.0
    aging_s: float = 14400.0
    lane_gap: float = 0.5
    usage_floor_s: float = 1.0
    size_ref_s: float = 1.0
    size_cap: float = 4.0
    own_aging_s: float = 600.0


Usage = Mapping[str, float]  # tenant -> decayed QPU-seconds at `now` (in-flight work included)
OrderFn = Callable[[list[QueueEntry], Usage, float], list[QueueEntry]]


def _norm(usage: Usage, entries: Iterable[QueueEntry]) -> dict[str, float]:
    return {e.tenant_id: usage.get(e.tenant_id, 0.0) / e.weight for e in entries}


def tenant_standing(norm: Mapping[str, float], tenant_id: str, p: Params) -> float:
    """How far a tenant is from its share, in doublings (0: average, +1: twice the average)."""
    mean = sum(norm.values()) / len(norm) if norm else 0.0
    return math.log2((norm.get(tenant_id, 0.0) + p.usage_floor_s) / (mean + p.usage_floor_s))


def size_class(e: QueueEntry, p: Params) -> float:
    return min(p.size_cap, math.log2(1.0 + e.size_s / p.size_ref_s))


def job_key(e: QueueEntry, now: float, p: Params) -> tuple[float, float, str]:
    return (size_class(e, p) - (now - e.enqueued_at) / p.own_aging_s, e.enqueued_at, e.job_id)


def group_key(lane: str, standing: float, oldest_wait: float, p: Params) -> float:
    return standing + LANE_RANK.get(lane, len(LANE_RANK)) * p.lane_gap - oldest_wait / p.aging_s


def _groups(queue: list[QueueEntry]) -> dict[tuple[str, str], list[QueueEntry]]:
    groups: dict[tuple[str, str], list[QueueEntry]] = {}
    for e in queue:
        groups.setdefault((e.lane, e.tenant_id), []).append(e)
    return groups


def pick(queue: list[QueueEntry], usage: Usage, now: float, p: Params = Params(),
         eligible: Callable[[QueueEntry], bool] | None = None) -> QueueEntry | None:
    """The job to start next (None if nothing eligible). `eligible` filters (e.g. max_running, fit)."""
    cands = [e for e in queue if eligible is None or eligible(e)]
    if not cands:
        return None
    norm = _norm(usage, queue)
    best: tuple[float, float, str] | None = None
    best_group: list[QueueEntry] = []
    for (lane, tenant), jobs in _groups(cands).items():
        oldest = min(j.enqueued_at for j in jobs)
        k = (group_key(lane, tenant_standing(norm, tenant, p), now - oldest, p), oldest, tenant)
        if best is None or k < best:
            best, best_group = k, jobs
    return min(best_group, key=lambda e: job_key(e, now, p))


def order(queue: list[QueueEntry], usage: Usage, now: float, p: Params = Params()) -> list[QueueEntry]:
    """The whole queue in projected service order (see module docstring)."""
    used = dict(usage)
    rest = list(queue)
    out: list[QueueEntry] = []
    while rest:
        head = pick(rest, used, now, p)
        assert head is not None
        out.append(head)
        rest.remove(head)
        used[head.tenant_id] = used.get(head.tenant_id, 0.0) + head.size_s
    return out


# ---------------------------------------------------------------- baselines for comparison


def fifo(queue: list[QueueEntry], usage: Usage, now: float) -> list[QueueEntry]:
    """Amazon Braket's behaviour: first in, first out, for everyone."""
    return sorted(queue, key=lambda e: (e.enqueued_at, e.job_id))


def plain_fair_share(queue: list[QueueEntry], usage: Usage, now: float) -> list[QueueEntry]:
    """Slurm-like: decayed usage over weight only (no lanes, no aging, no size-awareness)."""
    return sorted(queue, key=lambda e: (usage.get(e.tenant_id, 0.0) / e.weight, e.enqueued_at, e.job_id))


def cancel(queue: list[QueueEntry], job_id: str) -> tuple[list[QueueEntry], QueueEntry | None]:
    """Remove a queued job; returns the new queue and the entry (None if it was not queued)."""
    for i, e in enumerate(queue):
        if e.job_id == job_id:
            return queue[:i] + queue[i + 1:], e
    return queue, None
