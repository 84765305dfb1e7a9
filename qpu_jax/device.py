"""The public entry points: run one circuit, or many of one size at once."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qpu_jax.calibration import Calibration
from qpu_jax.circuit import Circuit, CircuitError
from qpu_jax.kernels import GATHER_MAX_QUBITS, compiled
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
    bucket: tuple[int, int] = field(default=(0, 0))

    def to_json(self) -> dict:
        return {"probabilities": self.probabilities, "counts": self.counts, "qubits": self.qubits,
                "seconds": self.seconds, "qpu_seconds": self.qpu_seconds}


def _check_shots_seed(shots: object, seed: object) -> None:
    if not isinstance(shots, int) or isinstance(shots, bool) or shots < 1:
        raise CircuitError(f"shots={shots!r} must be a positive integer")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise CircuitError(f"seed={seed!r} must be a non-negative integer")


def outcome_distribution(diagonal: np.ndarray, low: Lowered, num_clbits: int) -> dict[str, float]:
    """Diagonal of rho -> probabilities of classical bitstrings, readout error included."""
    p = np.clip(np.asarray(diagonal, np.float64), 0.0, None)
    p = p / p.sum()
    n = low.width
    t = p.reshape((2,) * n)
    m = len(low.measured_qubits)
    keep = list(low.measured_qubits)
    t = t.sum(axis=tuple(q for q in range(n) if q not in keep)) if m < n else t
    # remaining axes are in qubit order; put them in measurement order
    order = sorted(keep)
    t = np.transpose(t, [order.index(q) for q in keep])
    for j in range(m):
        t = np.moveaxis(np.tensordot(low.confusion[j], t, axes=([1], [j])), 0, j)
    flat = t.reshape(-1)
    out: dict[str, float] = {}
    for idx in np.nonzero(flat > 1e-12)[0]:
        bits = ["0"] * num_clbits
        for j in range(m):
            bits[num_clbits - 1 - low.clbits[j]] = "1" if (idx >> (m - 1 - j)) & 1 else "0"
        key = "".join(bits)
        out[key] = out.get(key, 0.0) + float(flat[idx])
    return out


def sample_counts(probabilities: dict[str, float], shots: int, seed: int) -> dict[str, int]:
    """Multinomial counts from an explicit seed; keys in sorted order so the draw is reproducible."""
    keys = sorted(probabilities)
    p = np.array([probabilities[k] for k in keys])
    drawn = np.random.Generator(np.random.PCG64(seed)).multinomial(shots, p / p.sum())
    return {k: int(c) for k, c in zip(keys, drawn) if c}


def _qpu_seconds(circuit: Circuit, calibration: Calibration, shots: int) -> float:
    per_shot = circuit.duration_us(calibration) + calibration.readout_time_us + calibration.reset_time_us
    return shots * per_shot * 1e-6


def _finish(diag: np.ndarray, low: Lowered, circuit: Circuit, calibration: Calibration, shots: int, seed: int,
            started: float) -> RunResult:
    probs = outcome_distribution(diag, low, circuit.num_clbits)
    return RunResult(probabilities=probs, counts=sample_counts(probs, shots, seed), qubits=circuit.num_qubits,
                     seconds=time.perf_counter() - started, qpu_seconds=_qpu_seconds(circuit, calibration, shots),
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
    diag = compiled(low.width)(low.ops, low.pairs, np.int32(low.nops))
    cal = calibration.drifted(calibration_age_s)
    return _finish(np.asarray(diag), low, circuit, cal, shots, seed, started)


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
    diags: list[np.ndarray | None] = [None] * len(circuits)
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(circuits):
        width = max(2, c.num_qubits)
        if width <= GATHER_MAX_QUBITS:
            groups.setdefault(width, []).append(i)
        else:
            low = lower(c, calibration, physical_qubits=placements[i])
            lows[i] = low
            diags[i] = np.asarray(compiled(low.width)(low.ops, low.pairs, np.int32(low.nops)))
    for width, idx in groups.items():
        for i in idx:
            lows[i] = lower(circuits[i], calibration, physical_qubits=placements[i])
        length = max(len(lows[i].pairs) for i in idx)
        # padding entries are never executed (the loop stops at nops), so zeros are fine
        ops = np.zeros((len(idx), length, 16, 16), np.complex64)
        pairs = np.zeros((len(idx), length), np.int32)
        for k, i in enumerate(idx):
            ops[k, : len(lows[i].pairs)] = lows[i].ops
            pairs[k, : len(lows[i].pairs)] = lows[i].pairs
        nops = np.array([lows[i].nops for i in idx], np.int32)
        out = np.asarray(compiled(width, batched=True)(ops, pairs, nops))
        for k, i in enumerate(idx):
            diags[i] = out[k]
    share = (time.perf_counter() - started) / max(1, len(circuits))
    results = []
    for i, c in enumerate(circuits):
        r = _finish(diags[i], lows[i], c, calibration, shots_list[i], seeds[i], time.perf_counter())
        results.append(RunResult(**{**r.__dict__, "seconds": share}))
    return results
