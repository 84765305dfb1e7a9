"""qpu_jax: a JAX-jitted noisy density-matrix QPU that runs OpenQASM 2.

Public API (see README): parse a circuit, pick a calibration snapshot, run it.
"""

from qpu_jax.calibration import Calibration, Drift, PairCalibration, QubitCalibration, default_calibration
from qpu_jax.circuit import MAX_QUBITS, Circuit, CircuitError, parse_qasm
from qpu_jax.device import RunResult, enable_compilation_cache, run, run_batch
from qpu_jax.json_circuit import parse_json_circuit

__all__ = [
    "MAX_QUBITS", "Calibration", "Circuit", "CircuitError", "Drift", "PairCalibration", "QubitCalibration",
    "RunResult", "default_calibration", "enable_compilation_cache", "parse_json_circuit", "parse_qasm", "run",
    "run_batch",
]
