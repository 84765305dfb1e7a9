"""The fidelity cost of co-scheduling, measured on the device model (qpu_jax) rather than estimated.

The simulated jobs carry a size (qubits, gates), not a circuit, so each sampled job gets a circuit
drawn from its id: `num_gates` gates on its `num_qubits`, CX only between qubits the placement made
neighbours on the coupling map, every qubit measured. It is run twice with the placement's physical
qubits: with the crosstalk the job's neighbours put on it (the worst seen per qubit while it ran)
and without. The exact outcome distributions are compared two ways:

  * infidelity     1 - (sum_x sqrt(p(x) q(x)))^2, the classical fidelity the executor records
                   for every co-scheduled job (`ShotsMeasured.crosstalk_fidelity`);
  * tvd            total variation distance, i.e. 1 - (1 - TVD): first order in the crosstalk,
                   so it is the stricter of the two for small perturbations.

Everything is seeded from the simulation seed and the job id, so a run is reproducible.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping, Sequence

from bench.sim.engine import Record, Sim

SAMPLE = 120
TWO_QUBIT_P = 0.35  # share of CX among the gates, about that of the benchmark circuits


def _edges(adjacency: Mapping[int, frozenset[int]]) -> list[tuple[int, int]]:
    return sorted({(min(a, b), max(a, b)) for a, ns in adjacency.items() for b in ns})


def circuit_qasm(rec: Record, adjacency: Mapping[int, frozenset[int]], seed: int) -> str:
    """A random circuit of the job's size on its placement (OpenQASM 2), the same for the same job."""
    n, phys = rec.job.num_qubits, rec.qubits
    rng = random.Random(f"circuit:{seed}:{rec.job.job_id}")
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if phys[j] in adjacency[phys[i]]]
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{n}];", f"creg c[{n}];"]
    for _ in range(rec.job.num_gates):
        if pairs and rng.random() < TWO_QUBIT_P:
            a, b = rng.choice(pairs)
            lines.append(f"cx q[{a}],q[{b}];" if rng.random() < 0.5 else f"cx q[{b}],q[{a}];")
        else:
            gate, q = rng.choice(("rx", "ry", "rz", "h")), rng.randrange(n)
            lines.append(f"h q[{q}];" if gate == "h" else f"{gate}({rng.uniform(0.0, 2 * math.pi):.6f}) q[{q}];")
    lines.append("measure q -> c;")
    return "\n".join(lines)


def classical_fidelity(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    return sum(math.sqrt(p.get(k, 0.0) * q.get(k, 0.0)) for k in set(p) | set(q)) ** 2


def tvd(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def sample(recs: Sequence[Record], seed: int, size: int = SAMPLE) -> list[Record]:
    """A seeded uniform sample of the completed small jobs that shared the QPU.

    Medium and large jobs of plans that allow co-scheduling also get small neighbours; their
    density matrices (up to 4^14 entries) would take minutes each, so they are left out here.
    """
    pool = sorted((r for r in recs if r.status == "completed" and r.shared and r.qubits and r.job.size == "small"),
                  key=lambda r: r.job.job_id)
    return random.Random(f"fidelity-sample:{seed}").sample(pool, min(size, len(pool)))


def measure(sim: Sim, size: int = SAMPLE) -> dict:
    """Mean fidelity loss from crosstalk over a sample of `sim`'s co-scheduled small jobs, run on qpu_jax."""
    from qpu_jax import default_calibration, parse_qasm, run  # JAX only where a device run is wanted

    adjacency = sim.dev.adjacency
    calibration = default_calibration(sim.dev.num_qubits, _edges(adjacency), seed=sim.cfg.seed)
    picked = sample(list(sim.records.values()), sim.cfg.seed, size)
    infid, dist, model = [], [], []
    for rec in picked:
        circuit = parse_qasm(circuit_qasm(rec, adjacency, sim.cfg.seed))
        phys = list(rec.qubits)
        xt = {q: p for q, p in rec.xt.items() if p > 0}
        alone = run(circuit, calibration, shots=1, seed=0, physical_qubits=phys).probabilities
        shared = run(circuit, calibration, shots=1, seed=0, physical_qubits=phys, crosstalk=xt or None).probabilities
        infid.append(max(0.0, 1.0 - classical_fidelity(shared, alone)))
        dist.append(tvd(shared, alone))
        model.append(rec.fidelity_loss())
    if not picked:
        return {"n": 0, "infidelity_mean": 0.0, "infidelity_max": 0.0, "tvd_mean": 0.0, "tvd_max": 0.0,
                "analytic_mean": 0.0}
    return {"n": len(picked), "infidelity_mean": statistics.fmean(infid), "infidelity_max": max(infid),
            "tvd_mean": statistics.fmean(dist), "tvd_max": max(dist), "analytic_mean": statistics.fmean(model)}
