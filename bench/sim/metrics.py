"""What the harness reports: fairness, waits, utilization, co-scheduling and its fidelity cost."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping

from bench.sim.engine import Record, Sim


def jain(xs: Iterable[float]) -> float:
    v = list(xs)
    sq = sum(x * x for x in v)
    return (sum(v) ** 2) / (len(v) * sq) if v and sq > 0 else 1.0


def water_fill(capacity: float, weights: Mapping[str, float], demand: Mapping[str, float]) -> dict[str, float]:
    """Weighted max-min fair allocation of `capacity` given each tenant's demand (inf: backlogged)."""
    alloc = {t: 0.0 for t in weights}
    active, left = set(weights), capacity
    while active and left > 1e-9:
        wsum = sum(weights[t] for t in active)
        share = {t: left * weights[t] / wsum for t in active}
        done = {t for t in active if demand[t] - alloc[t] <= share[t]}
        if not done:
            for t in active:
                alloc[t] += share[t]
            break
        for t in done:
            left -= demand[t] - alloc[t]
            alloc[t] = demand[t]
        active -= done
    return alloc


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def windowed_jain(sim: Sim, window_s: float) -> tuple[float, int]:
    """Mean Jain's index of delivered/fair QPU-seconds over the 5-minute windows with contention.

    Fair is the weighted max-min share of what the QPU delivered in the window, where a tenant
    still holding queued work at the window's end counts as wanting more (backlogged) and any other
    tenant as wanting exactly what it got. Windows without a backlogged tenant are fair by
    definition and left out, so the figure is not inflated by idle hours.
    """
    recs = list(sim.records.values())
    end = max((r.end_at or 0.0) for r in recs)
    weights = {t: s.plan.weight for t, s in sim.specs.items()}
    scores, caps = [], []
    a = 0.0
    while a < end:
        b = a + window_s
        got = defaultdict(float)
        for r in recs:
            for s0, s1, _ in r.runs[-1:] if r.status == "completed" else ():
                got[r.job.tenant_id] += max(0.0, min(s1, b) - max(s0, a))
        backlog = {r.job.tenant_id for r in recs if r.accepted_at is not None and r.accepted_at < b
                   and (r.first_start is None or r.first_start >= b) and (r.end_at or 1e30) >= b}
        cap = sum(got.values())
        active = {t for t in weights if got[t] > 0 or t in backlog}
        if backlog and len(active) >= 2 and cap > 0:
            demand = {t: (float("inf") if t in backlog else got[t]) for t in active}
            fair = water_fill(cap, {t: weights[t] for t in active}, demand)
            scores.append(jain(got[t] / fair[t] for t in active if fair[t] > 0))
            caps.append(cap)
        a = b
    if not scores:
        return 1.0, 0
    return sum(s * c for s, c in zip(scores, caps)) / sum(caps), len(scores)


def waits(recs: list[Record], key) -> dict[str, dict[str, float]]:
    groups: dict[str, list[float]] = defaultdict(list)
    for r in recs:
        if r.first_start is not None and r.accepted_at is not None:
            groups[key(r)].append(r.first_start - r.accepted_at)
    out = {}
    for g, xs in sorted(groups.items()):
        med = statistics.median(xs)
        out[g] = {"n": len(xs), "p50_s": _pct(xs, 0.5), "p95_s": _pct(xs, 0.95), "max_s": max(xs),
                  "max_over_median": (max(xs) / med) if med > 0 else float("inf")}
    return out


def summarize(sim: Sim, window_s: float = 300.0) -> dict:
    recs = list(sim.records.values())
    accepted = [r for r in recs if r.accepted_at is not None]
    runs = [(s0, s1, n) for r in recs for s0, s1, n in r.runs]
    start = min((s0 for s0, _, _ in runs), default=0.0)
    end = max((s1 for _, s1, _ in runs), default=0.0)
    span = max(1e-9, end - start)
    busy, cur_end = 0.0, start
    for s0, s1, _ in sorted(runs):  # union of busy intervals
        if s1 > cur_end:
            busy += s1 - max(s0, cur_end)
            cur_end = s1
    qubit_s = sum((s1 - s0) * n for s0, s1, n in runs)
    done = [r for r in recs if r.status == "completed"]
    delivered = defaultdict(float)
    for r in done:
        delivered[r.job.tenant_id] += r.job.qpu_seconds
    weights = {t: s.plan.weight for t, s in sim.specs.items()}
    shared = [r for r in done if r.shared]
    small = [r for r in done if r.job.size == "small"]
    wj, nwin = windowed_jain(sim, window_s)
    all_waits = [r.first_start - r.accepted_at for r in accepted if r.first_start is not None]
    return {
        "policy": sim.cfg.policy, "coschedule": sim.cfg.coschedule, "jobs": len(recs),
        "accepted": len(accepted), "completed": len(done),
        "failed": sum(r.status == "failed" for r in recs), "cancelled": sum(r.status == "cancelled" for r in recs),
        "rejected": dict(sim.rejections), "rate_limited_retries": sim.rate_retries,
        "aborted_attempts": sum(max(0, r.attempts - 1) + (r.status == "failed") for r in recs),
        "terminal_exactly_once": all(r.terminal_events == 1 for r in accepted),
        "jain_windowed": wj, "jain_windows": nwin,
        "jain_raw_vs_weights": jain(delivered[t] / weights[t] for t in weights),
        "wait_by_lane": waits(accepted, lambda r: r.lane),
        "wait_by_size": waits(accepted, lambda r: r.job.size),
        "longest_wait_s": max(all_waits, default=0.0),
        "utilization_busy": busy / span, "utilization_qubits": qubit_s / (span * sim.dev.num_qubits),
        "makespan_s": span,
        "coscheduled_jobs": len(shared),
        "fidelity_loss_mean_coscheduled": statistics.fmean([r.fidelity_loss() for r in shared]) if shared else 0.0,
        "fidelity_loss_mean_small": statistics.fmean([r.fidelity_loss() for r in small]) if small else 0.0,
        "calibrations": len(sim.cal_log), "calibration_failures": sum(o == "failed" for *_, o in sim.cal_log),
        "calibration_overlaps_job": _cal_overlaps(sim),
    }


def _cal_overlaps(sim: Sim) -> int:
    runs = [(s0, s1) for r in sim.records.values() for s0, s1, _ in r.runs]
    return sum(1 for c0, c1, _ in sim.cal_log for s0, s1 in runs if s0 < c1 and c0 < s1)
