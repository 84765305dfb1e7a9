"""Placement: connected physical qubits with the best current error rates, and co-scheduling.

A job is placed on a connected set of qubits of the coupling map, never on a quarantined or busy
qubit. Small jobs whose plans allow it may share the QPU with other such jobs on disjoint sets;
the buffer rule keeps every qubit of a new job at least two hops from every qubit of a running
job, so the only crosstalk left is next-nearest-neighbour, which the executor applies from the
`crosstalk` map returned here. A job that may not be co-scheduled runs alone.

`Occupancy` is the only record of who holds which qubit; `occupy` refuses any overlap, so no qubit
is ever booked twice, whatever the caller does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from domain.scheduling.neighbours import CrosstalkParams, crosstalk_map


class DoubleBooking(Exception):
    """A qubit already held by a running job was offered to another; the caller has a bug."""


@dataclass(frozen=True, slots=True)
class Device:
    num_qubits: int
    adjacency: dict[int, frozenset[int]]

    @classmethod
    def from_coupling(cls, num_qubits: int, coupling: Iterable[tuple[int, int]]) -> Device:
        adj: dict[int, set[int]] = {q: set() for q in range(num_qubits)}
        for a, b in coupling:
            if not (0 <= a < num_qubits and 0 <= b < num_qubits) or a == b:
                raise ValueError(f"coupling edge ({a}, {b}) is not between two qubits of 0..{num_qubits - 1}")
            adj[a].add(b)
            adj[b].add(a)
        return cls(num_qubits, {q: frozenset(n) for q, n in adj.items()})

    @classmethod
    def grid(cls, rows: int, cols: int) -> Device:
        edges = [(r * cols + c, r * cols + c + 1) for r in range(rows) for c in range(cols - 1)]
        edges += [(r * cols + c, (r + 1) * cols + c) for r in range(rows - 1) for c in range(cols)]
        return cls.from_coupling(rows * cols, edges)


@dataclass(frozen=True, slots=True)
class Running:
    job_id: str
    tenant_id: str
    qubits: tuple[int, ...]
    shared: bool  # placed as a co-scheduled job
    pulse_level: bool = False


@dataclass(frozen=True, slots=True)
class Occupancy:
    jobs: dict[str, Running] = field(default_factory=dict)
    owner: dict[int, str] = field(default_factory=dict)  # qubit -> job id

    def occupy(self, r: Running) -> Occupancy:
        clash = sorted(q for q in r.qubits if q in self.owner)
        if clash or r.job_id in self.jobs or len(set(r.qubits)) != len(r.qubits):
            raise DoubleBooking(f"job {r.job_id} offered qubits {clash or list(r.qubits)} that are already held "
                                f"({ {q: self.owner[q] for q in clash} }); release them first")
        return Occupancy({**self.jobs, r.job_id: r}, {**self.owner, **{q: r.job_id for q in r.qubits}})

    def release(self, job_id: str) -> Occupancy:
        r = self.jobs.get(job_id)
        if r is None:
            return self
        return Occupancy({k: v for k, v in self.jobs.items() if k != job_id},
                         {q: j for q, j in self.owner.items() if j != job_id})


@dataclass(frozen=True, slots=True)
class Placement:
    physical_qubits: tuple[int, ...]
    error_sum: float
    neighbours: dict[int, tuple[str, ...]]  # own qubit -> running jobs within two hops
    crosstalk: dict[int, float]  # own qubit -> extra depolarizing probability per gate layer
    shared: bool


@dataclass(frozen=True, slots=True)
class Unplaceable:
    reason: str


def _grow(dev: Device, seed: int, k: int, free: set[int], err: Mapping[int, float]) -> list[int] | None:
    chosen, frontier = [seed], set(dev.adjacency[seed]) & free
    while len(chosen) < k:
        if not frontier:
            return None
        nxt = min(frontier, key=lambda q: (err.get(q, 0.0), q))
        chosen.append(nxt)
        frontier = (frontier | (dev.adjacency[nxt] & free)) - set(chosen)
    return chosen


def place(dev: Device, occ: Occupancy, num_qubits: int, qubit_error: Mapping[int, float],
          quarantined: Iterable[int] = (), share: bool = False, small_max_qubits: int = 5,
          xt: CrosstalkParams = CrosstalkParams()) -> Placement | Unplaceable:
    """Best connected placement for a job of `num_qubits` now, or why there is none now."""
    bad = set(quarantined)
    if num_qubits > dev.num_qubits - len(bad & set(range(dev.num_qubits))):
        return Unplaceable(f"job needs {num_qubits} qubits; this QPU has {dev.num_qubits} "
                           f"of which {len(bad)} are quarantined")
    if occ.jobs:
        if not share or num_qubits > small_max_qubits:
            return Unplaceable("QPU is busy and this job runs alone; it waits for the running jobs to finish")
        if not all(r.shared for r in occ.jobs.values()):
            return Unplaceable("a job that runs alone holds the QPU")
    buffer = {n for q in occ.owner for n in dev.adjacency[q]}
    free = set(range(dev.num_qubits)) - bad - set(occ.owner) - buffer
    best: tuple[float, tuple[int, ...]] | None = None
    for seed in sorted(free, key=lambda q: (qubit_error.get(q, 0.0), q)):
        got = _grow(dev, seed, num_qubits, free, qubit_error)
        if got is None:
            continue
        cand = (sum(qubit_error.get(q, 0.0) for q in got), tuple(got))
        if best is None or cand < best:
            best = cand
    if best is None:
        return Unplaceable(f"no connected set of {num_qubits} free qubits two hops away from running jobs")
    qubits = best[1]
    near = _within_two(dev, qubits)
    neigh = {q: tuple(sorted({occ.owner[o] for o in near[q] if o in occ.owner})) for q in qubits}
    others = [(r.qubits, r.pulse_level) for r in occ.jobs.values()]
    return Placement(qubits, best[0], {q: j for q, j in neigh.items() if j},
                     crosstalk_map(qubits, others, dev.adjacency, xt), share)


def _within_two(dev: Device, qubits: tuple[int, ...]) -> dict[int, set[int]]:
    return {q: set().union(*(dev.adjacency[n] | {n} for n in dev.adjacency[q])) - {q} for q in qubits}
