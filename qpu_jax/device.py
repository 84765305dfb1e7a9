"""The public entry points: run one circuit, or many of one size at once."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from qpu_jax.calibration import Calibration
from qpu_jax.circuit import Circuit, CircuitError
from qpu_jax.kernels import GATHER_MAX_QUBITS, compiled_run
from qpu_jax.lowering import Lowered, lower

_cache_ready = False


def enable_compilation_cache(path: str | Path | None = None) -> Path:
    """Persist compiled buckets on disk so a restarted worker skips compilation.

    Called on first use with the default `~/.cache/qpu_jax/xla`; call it earlier to choose the place.
    """
    global _cache_ready
    import jax

    where = Path(path) if path is not None else Path.home() / ".cache" / "qpu_jax" / "xla"
    where.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(where))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _cache_ready = True
    return where


def _ensure_cache() -> None:
    if not _cache_ready:
        enable_compilation_cache()


@dataclass(frozen=True)
class RunResult:
    probabilities: dict[str, float]  # exact, after readout error; classical bit 0 is the rightmost character
    counts: dict[str, int]
    qubits: int
    seconds: float  # wall time of this call
    qpu_seconds: float  # modelled hardware time: shots * (schedule + readout + reset)
    shots: int = 0
    seed: int = 0
    bucket: tuple[int, ...] = field(default=(0, 0, 0))  # (width, 1-qubit entries, blocks) of the compiled program

    def to_json(self) -> dict:
        return {"probabilities": self.probabilities, "counts": self.counts, "qubits": self.qubits,
                "seconds": self.seconds, "qpu_seconds": self.qpu_seconds}


def _check_shots_seed(shots: object, seed: object) -> None:
    if not isinstance(shots, int) or isinstance(shots, bool) or shots < 1:
        raise CircuitError(f"shots={shots!r} must be a positive integer")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise CircuitError(f"seed={seed!r} must be a non-negative integer")


def _keys(circuit: Circuit, low: Lowered) -> np.ndarray:
    """The classical bitstring of every qubit bit pattern (classical bit 0 rightmost), once per circuit."""
    key = ("keys", low.width)
    if key not in circuit.memo:
        n, c = low.width, circuit.num_clbits
        idx = np.arange(2**n)
        chars = np.full((2**n, c), ord("0"), np.uint8)
        for q, clbit in zip(low.measured_qubits, low.clbits):
            chars[:, c - 1 - clbit] += ((idx >> (n - 1 - q)) & 1).astype(np.uint8)
        circuit.memo[key] = np.array([row.tobytes().decode() for row in chars], dtype=object)
    return circuit.memo[key]


def outcome_distribution(probs: np.ndarray, low: Lowered, circuit: Circuit) -> dict[str, float]:
    """Kernel output (probability of each qubit bit pattern after readout) -> classical bitstrings."""
    p = np.asarray(probs, np.float64)
    p = p / p.sum()  # in double: the kernel's float32 sum is off by ~1e-7
    nz = np.flatnonzero(p > 1e-12)
    return dict(zip(_keys(circuit, low)[nz].tolist(), p[nz].tolist()))


def sample_counts(probabilities: dict[str, float], shots: int, seed: int) -> dict[str, int]:
    """Multinomial counts from an explicit seed; keys in sorted order so the draw is reproducible."""
    keys = sorted(probabilities)
    p = np.array([probabilities[k] for k in keys])
    drawn = np.random.Generator(np.random.PCG64(seed)).multinomial(shots, p / p.sum())
    return {k: int(c) for k, c in zip(keys, drawn) if c}


def _qpu_seconds(circuit: Circuit, calibration: Calibration, shots: int) -> float:
    per_shot = circuit.duration_us(calibration) + calibration.readout_time_us + calibration.reset_time_us
    return shots * per_shot * 1e-6


def _finish(probs: np.ndarray, low: Lowered, circuit: Circuit, calibration: Calibration, shots: int, seed: int,
            seconds: float) -> RunResult:
    dist = outcome_distribution(probs, low, circuit)
    return RunResult(probabilities=dist, counts=sample_counts(dist, shots, seed), qubits=circuit.num_qubits,
                     seconds=seconds, qpu_seconds=_qpu_seconds(circuit, calibration, shots),
                     shots=shots, seed=seed, bucket=low.bucket)


def _check_inputs(circuit: object, calibration: object) -> None:
    if not isinstance(circuit, Circuit):
        raise CircuitError(f"circuit must be a qpu_jax.Circuit (from parse_qasm or parse_json_circuit), "
                           f"got {type(circuit).__name__}")
    if not isinstance(calibration, Calibration):
        raise CircuitError(f"calibration must be a qpu_jax.Calibration, got {type(calibration).__name__}")


def run(circuit: Circuit, calibration: Calibration, *, shots: int, seed: int,
        physical_qubits: list[int] | None = None, crosstalk: dict[int, float] | None = None,
        calibration_age_s: float = 0.0) -> RunResult:
    """Execute one circuit: the same (circuit, calibration, shots, seed, ...) always gives the same counts."""
    started = time.perf_counter()
    _check_inputs(circuit, calibration)
    _check_shots_seed(shots, seed)
    low = lower(circuit, calibration, physical_qubits=physical_qubits, crosstalk=crosstalk,
                calibration_age_s=calibration_age_s)
    _ensure_cache()
    probs = np.asarray(compiled_run(low.width)(*low.arrays()))
    cal = calibration.drifted(calibration_age_s)
    r = _finish(probs, low, circuit, cal, shots, seed, 0.0)
    return replace(r, seconds=time.perf_counter() - started)


def run_batch(circuits: Sequence[Circuit], calibration: Calibration, *, shots: int | Sequence[int],
              seeds: Sequence[int], physical_qubits: Sequence[list[int] | None] | None = None) -> list[RunResult]:
    """Execute many circuits; those of one small width share a single vmapped call.

    Batching pays while per-call overhead dominates (small widths); wider circuits run one by one.
    Each result's `seconds` is its share of the batch's wall time.
    """
    started = time.perf_counter()
    circuits = list(circuits)
    shots_list = [shots] * len(circuits) if isinstance(shots, int) else list(shots)
    seeds = list(seeds)
    placements = list(physical_qubits) if physical_qubits is not None else [None] * len(circuits)
    if not (len(shots_list) == len(seeds) == len(placements) == len(circuits)):
        raise CircuitError(f"run_batch needs one seed (and shots, physical_qubits if given) per circuit: got "
                           f"{len(circuits)} circuits, {len(seeds)} seeds, {len(shots_list)} shots")
    for c, s, sd in zip(circuits, shots_list, seeds):
        _check_inputs(c, calibration)
        _check_shots_seed(s, sd)
    _ensure_cache()
    lows: list[Lowered | None] = [None] * len(circuits)
    probs: list[np.ndarray | None] = [None] * len(circuits)
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(circuits):
        low = lower(c, calibration, physical_qubits=placements[i])
        lows[i] = low
        if low.width <= GATHER_MAX_QUBITS:
            groups.setdefault(low.width, []).append(i)
        else:
            probs[i] = np.asarray(compiled_run(low.width)(*low.arrays()))
    for width, idx in groups.items():
        lengths = (max(lows[i].bucket[1] for i in idx), max(lows[i].bucket[2] for i in idx))
        group = [lows[i] if lows[i].bucket[1:] == lengths else
                 lower(circuits[i], calibration, physical_qubits=placements[i], lengths=lengths) for i in idx]
        for i, low in zip(idx, group):
            lows[i] = low
        stacked = [np.stack(col) for col in zip(*(low.arrays() for low in group))]
        stacked[8] = np.int32(max(low.nops for low in group))
        out = np.asarray(compiled_run(width, batched=True)(*stacked))
        for k, i in enumerate(idx):
            probs[i] = out[k]
    share = (time.perf_counter() - started) / max(1, len(circuits))
    return [_finish(probs[i], lows[i], c, calibration, shots_list[i], seeds[i], share)
            for i, c in enumerate(circuits)]
