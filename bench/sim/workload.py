"""A synthetic multi-tenant workload, deterministic from a seed.

Five tenants with skewed demand (one floods in bursts, one barely submits), three lanes, three job
sizes. QPU time of a job follows the executor's model: shots x (gate layers x layer time + reset
and readout).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from domain.scheduling.plans import DEFAULT_PLANS, Plan, RateLimit

LAYER_S = 2e-5
RESET_S = 1e-3


@dataclass(frozen=True, slots=True)
class TenantSpec:
    tenant_id: str
    plan: Plan
    demand: float  # share of offered QPU-seconds
    burst_every_s: float | None = None  # bursty tenants submit in batches
    pulse_level_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class SimJob:
    job_id: str
    tenant_id: str
    submit_at: float
    num_qubits: int
    num_gates: int
    layers: int
    shots: int
    size: str  # small / medium / large

    @property
    def qpu_seconds(self) -> float:
        return self.shots * (self.layers * LAYER_S + RESET_S)


def _plan(name: str, **over: object) -> Plan:
    return DEFAULT_PLANS[name].model_copy(update=over)


def tenants() -> list[TenantSpec]:
    generous = dict(shots_per_day=10**9, qpu_seconds_per_month=1e9, max_queued=5_000)
    return [
        TenantSpec("acme", _plan("premium", **generous), 0.20),
        TenantSpec("bigco", _plan("standard", **generous, rate_limit=RateLimit(tokens_per_s=2.0, burst=400)),
                   0.45, burst_every_s=4 * 3600.0),
        TenantSpec("lab", _plan("standard", **generous), 0.15, pulse_level_rate=0.02),
        TenantSpec("tiny", _plan("standard", **generous), 0.05),
        TenantSpec("student", _plan("free", max_queued=200, shots_per_day=3_000_000), 0.15),
    ]


SIZES = {  # qubits, gates, shots ranges and probability
    "small": ((1, 4), (8, 40), (500, 3_000), 0.60),
    "medium": ((5, 8), (40, 160), (2_000, 8_000), 0.30),
    "large": ((9, 14), (160, 400), (6_000, 20_000), 0.10),
}


def _job(rng: random.Random, job_id: str, tenant_id: str, t: float) -> SimJob:
    size = rng.choices(list(SIZES), [v[3] for v in SIZES.values()])[0]
    (q0, q1), (g0, g1), (s0, s1), _ = SIZES[size]
    n, g = rng.randint(q0, q1), rng.randint(g0, g1)
    return SimJob(job_id, tenant_id, t, n, g, max(1, g // n), rng.randint(s0, s1), size)


def mean_job_seconds(rng_seed: int = 0, n: int = 4000) -> float:
    rng = random.Random(rng_seed)
    return sum(_job(rng, "x", "x", 0.0).qpu_seconds for _ in range(n)) / n


def generate(seed: int, num_jobs: int, load: float = 0.85, capacity_factor: float = 1.0) -> list[SimJob]:
    """Jobs sorted by submission time; offered load is `load` of one job-at-a-time QPU."""
    rng = random.Random(seed)
    specs = tenants()
    horizon = num_jobs * mean_job_seconds() / (load * capacity_factor)
    jobs: list[SimJob] = []
    for spec in specs:
        trng = random.Random(f"{seed}:{spec.tenant_id}")
        count = max(1, round(num_jobs * spec.demand))
        if spec.burst_every_s:
            # half of the demand steady, half in bursts at fixed intervals
            steady = count // 2
            times = [trng.uniform(0, horizon) for _ in range(steady)]
            bursts = max(1, int(horizon // spec.burst_every_s))
            per = (count - steady) // bursts
            for b in range(bursts):
                t0 = (b + 0.5) * spec.burst_every_s
                times += [t0 + trng.uniform(0, 60) for _ in range(per)]
        else:
            times = [trng.uniform(0, horizon) for _ in range(count)]
        for i, t in enumerate(sorted(times)):
            jobs.append(_job(trng, f"{spec.tenant_id}-{i:05d}", spec.tenant_id, t))
    jobs.sort(key=lambda j: (j.submit_at, j.job_id))
    del rng
    return jobs


def small_batch(seed: int, num_jobs: int) -> list[SimJob]:
    """Small jobs only, all submitted at once, from the tenants whose plans allow co-scheduling."""
    rng = random.Random(f"batch:{seed}")
    names = [t.tenant_id for t in tenants() if t.plan.allow_coscheduling]
    out = []
    for i in range(num_jobs):
        (q0, q1), (g0, g1), (s0, s1), _ = SIZES["small"]
        n, g = rng.randint(q0, q1), rng.randint(g0, g1)
        out.append(SimJob(f"b-{i:05d}", names[i % len(names)], 0.0, n, g, max(1, g // n), rng.randint(s0, s1), "small"))
    return out
