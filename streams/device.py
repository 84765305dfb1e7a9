"""The adapter between job specs (domain) and the JAX device (qpu_jax): the only module that joins them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import qpu_jax
from domain.events import JobSpec


@dataclass(frozen=True)
class Execution:
    counts: dict[str, int]
    qpu_seconds: float
    compute_seconds: float
    crosstalk_fidelity: float | None = None  # vs the same run without neighbours (co-scheduled jobs only)


def parse(circuit_format: str, circuit: str) -> qpu_jax.Circuit:
    """Validate a circuit as submitted; raises qpu_jax.CircuitError with a readable message."""
    if circuit_format == "qasm2":
        return qpu_jax.parse_qasm(circuit)
    return qpu_jax.parse_json_circuit(json.loads(circuit) if isinstance(circuit, str) else circuit)


def calibration_for(snapshot: dict[str, Any] | None, num_qubits: int) -> qpu_jax.Calibration:
    if snapshot:
        return qpu_jax.Calibration.model_validate(snapshot)
    return qpu_jax.default_calibration(num_qubits)


def execute(spec: JobSpec, snapshot: dict[str, Any] | None, physical_qubits: list[int],
            crosstalk: dict[int, float] | None = None) -> Execution:
    circuit = parse(spec.circuit_format, spec.circuit)
    calibration = calibration_for(snapshot, max(physical_qubits, default=0) + 1)
    result = qpu_jax.run(circuit, calibration, shots=spec.shots, seed=spec.seed,
                         physical_qubits=physical_qubits or None, crosstalk=crosstalk or None)
    fidelity = None
    if crosstalk:
        # the fidelity cost of sharing the QPU, measured: the same run without the neighbours' crosstalk
        alone = qpu_jax.run(circuit, calibration, shots=1, seed=spec.seed, physical_qubits=physical_qubits or None)
        fidelity = classical_fidelity(result.probabilities, alone.probabilities)
    return Execution(counts=dict(result.counts), qpu_seconds=float(result.qpu_seconds),
                     compute_seconds=float(result.seconds), crosstalk_fidelity=fidelity)


def classical_fidelity(p: dict[str, float], q: dict[str, float]) -> float:
    """(sum_x sqrt(p(x) q(x)))^2 of two outcome distributions."""
    return float(sum((p.get(k, 0.0) * q.get(k, 0.0)) ** 0.5 for k in set(p) | set(q)) ** 2)


def default_calibration(num_qubits: int, coupling_map: list[tuple[int, int]] | None = None) -> qpu_jax.Calibration:
    return qpu_jax.default_calibration(num_qubits, coupling_map)


def recalibrate(snapshot: dict[str, Any] | None, epoch: int) -> dict[str, Any]:
    """A fresh calibration snapshot for the same processor: new numbers, drawn from the epoch."""
    current = calibration_for(snapshot, 1)
    fresh = qpu_jax.default_calibration(current.num_qubits, current.coupling_map, seed=epoch)
    return fresh.model_dump(mode="json")


def warm_start(cache_dir: Any) -> None:
    qpu_jax.enable_compilation_cache(cache_dir)
