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


def windowed_jain_available(sim: Sim, window_s: float) -> tuple[float, int]:
    """As `windowed_jain`, but a tenant's demand in a window is the work it had available there.

    `windowed_jain` counts a tenant with one job queued at the window's end as wanting unlimited
    service, so a tenant whose whole demand is 40 s of a 300-s window but who submitted a job just
    before the window closed is "owed" its full weighted share: no schedule can meet that, and the
    figure then measures arrival timing more than the policy. Here a tenant's demand is, over its
    completed jobs, the part of each that could have run inside the window: its remaining work when
    it became available in the window (at the window's start or its acceptance), capped by the time
    left. A window counts when some tenant got less than that demand and two tenants were active.
    """
    recs = [r for r in sim.records.values() if r.status == "completed" and r.accepted_at is not None]
    end = max((r.end_at or 0.0) for r in sim.records.values())
    weights = {t: s.plan.weight for t, s in sim.specs.items()}
    scores, caps = [], []
    a = 0.0
    while a < end:
        b = a + window_s
        got: dict[str, float] = defaultdict(float)
        demand: dict[str, float] = defaultdict(float)
        for r in recs:
            s0, s1, _ = r.runs[-1]
            if r.accepted_at >= b or s1 <= a:  # type: ignore[operator]
                continue
            g = max(0.0, min(s1, b) - max(s0, a))
            got[r.job.tenant_id] += g
            entry = max(a, r.accepted_at)  # type: ignore[type-var]
            remaining = (s1 - s0) - max(0.0, min(entry, s1) - s0)
            demand[r.job.tenant_id] += max(g, min(remaining, b - entry))
        cap = sum(got.values())
        active = {t for t in weights if demand[t] > 0}
        if cap > 0 and len(active) >= 2 and any(demand[t] > got[t] + 1e-9 for t in active):
            fair = water_fill(cap, {t: weights[t] for t in active}, {t: demand[t] for t in active})
            scores.append(jain(got[t] / fair[t] for t in active if fair[t] > 0))
            caps.append(cap)
        a = b
    if not scores:
        return 1.0, 0
    return sum(s * c for s, c in zip(scores, caps)) / sum(caps), len(scores)


def forced_waits(sim: Sim, burst_window_s: float = 300.0) -> dict[str, float]:
    """Per lane, a wait some job of this workload must suffer under any scheduling policy.

    Two causes, both outside the order policy's reach: a job accepted while the QPU calibrates
    waits at least until the calibration ends; and a tenant that submits W QPU-seconds within
    `burst_window_s` while it may run at most m jobs at once cannot start its last job before
    (W - longest job) / m after the first arrived, so that job waits at least that minus the span.
    """
    lane_of = {t: s.plan.lane for t, s in sim.specs.items()}
    out: dict[str, float] = defaultdict(float)
    for r in sim.records.values():
        if r.accepted_at is None:
            continue
        for c0, c1, _ in sim.cal_log:
            if c0 <= r.accepted_at < c1:
                out[r.lane] = max(out[r.lane], c1 - r.accepted_at)
    by_tenant: dict[str, list[Record]] = defaultdict(list)
    for r in sim.records.values():
        if r.accepted_at is not None and r.status == "completed":
            by_tenant[r.job.tenant_id].append(r)
    for t, rs in by_tenant.items():
        rs.sort(key=lambda r: r.accepted_at)  # type: ignore[arg-type, return-value]
        m, longest = sim.specs[t].plan.max_running, max(r.job.qpu_seconds for r in rs)
        j, work = 0, 0.0
        for r in rs:  # the jobs accepted in [r, r + burst_window_s], by two pointers
            while j < len(rs) and rs[j].accepted_at <= r.accepted_at + burst_window_s:  # type: ignore[operator]
                work += rs[j].job.qpu_seconds
                j += 1
            span = rs[j - 1].accepted_at - r.accepted_at  # type: ignore[operator]
            out[lane_of[t]] = max(out[lane_of[t]], (work - longest) / m - span)
            work -= r.job.qpu_seconds
    return dict(out)


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
    wa, nwa = windowed_jain_available(sim, window_s)
    forced = forced_waits(sim)
    by_lane = waits(accepted, lambda r: r.lane)
    for lane, v in by_lane.items():
        v["forced_s"] = forced.get(lane, 0.0)
        v["forced_over_median"] = v["forced_s"] / v["p50_s"] if v["p50_s"] > 0 else float("inf")
    all_waits = [r.first_start - r.accepted_at for r in accepted if r.first_start is not None]
    return {
        "policy": sim.cfg.policy, "coschedule": sim.cfg.coschedule, "jobs": len(recs),
        "accepted": len(accepted), "completed": len(done),
        "failed": sum(r.status == "failed" for r in recs), "cancelled": sum(r.status == "cancelled" for r in recs),
        "rejected": dict(sim.rejections), "rate_limited_retries": sim.rate_retries,
        "aborted_attempts": sum(max(0, r.attempts - 1) + (r.status == "failed") for r in recs),
        "terminal_exactly_once": all(r.terminal_events == 1 for r in accepted),
        "jain_windowed": wj, "jain_windows": nwin, "jain_windowed_available": wa, "jain_windows_available": nwa,
        "jain_raw_vs_weights": jain(delivered[t] / weights[t] for t in weights),
        "wait_by_lane": by_lane,
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
