"""Circuit + calibration -> padded arrays for the kernels: gate matrices, noise numbers, qubit indices.

Each native gate becomes one noisy channel, exactly as the calibration says:
unitary, then depolarizing(p) on its qubits, then per qubit amplitude damping (gamma = 1-exp(-t/T1))
followed by phase damping (lambda = 1-exp(-2t/Tphi)), then any crosstalk depolarizing.
The host only looks numbers up (per calibration, once) and scatters them over the circuit's fusion
plan (per circuit, once); the channels themselves are built inside `jit` (see `superops`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qpu_jax.calibration import Calibration
from qpu_jax.circuit import Circuit, CircuitError
from qpu_jax.plan import GATE, IDLE, RESET, plan


@dataclass(frozen=True)
class Lowered:
    width: int  # kernel width (>= 2; a 1-qubit circuit gets an idle partner)
    u1: np.ndarray  # complex64[G1, 2, 2]
    prm1: np.ndarray  # float32[G1, 5]   (see superops)
    starts: np.ndarray  # bool[G1]
    u2: np.ndarray  # complex64[G2, 4, 4]
    prm2: np.ndarray  # float32[G2, 7]
    chain_a: np.ndarray  # int32[G2], G1 for "no run"
    chain_b: np.ndarray
    pairs: np.ndarray  # int32[G2]: index of (qa, qb) in pair_list(width)
    nops: int
    readout: np.ndarray  # float32[width, 2, 2]: readout[q][read, true]; unmeasured qubits always read 0
    measured_qubits: tuple[int, ...]  # circuit qubits, in measurement order
    clbits: tuple[int, ...]

    @property
    def bucket(self) -> tuple[int, int, int]:
        return self.width, len(self.starts), len(self.pairs)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The kernel's per-circuit inputs, in its argument order."""
        return (self.u1, self.prm1, self.starts, self.u2, self.prm2, self.chain_a, self.chain_b, self.pairs,
                np.int32(self.nops), self.readout)


def bucket_length(count: int, least: int = 16) -> int:
    """Pad lengths to powers of two so few buckets cover all circuits."""
    return max(least, 1 << max(0, count - 1).bit_length())


def check_placement(circuit: Circuit, calibration: Calibration, physical_qubits: Sequence[int] | None) -> list[int]:
    n = circuit.num_qubits
    if physical_qubits is None:
        if n > calibration.num_qubits:
            raise CircuitError(f"circuit uses {n} qubits but the calibration describes {calibration.num_qubits}: "
                               "pass a calibration for at least as many qubits")
        return list(range(n))
    phys = list(physical_qubits)
    if len(phys) != n:
        raise CircuitError(f"physical_qubits has {len(phys)} entries but the circuit has {n} qubits: give one per qubit")
    if len(set(phys)) != n or any(not isinstance(p, int) or not 0 <= p < calibration.num_qubits for p in phys):
        raise CircuitError(f"physical_qubits={phys} must be distinct integers in 0..{calibration.num_qubits - 1}")
    return phys


class _CalibrationArrays:
    """Per physical qubit numbers of one snapshot, looked up once and reused by every run against it."""

    def __init__(self, cal: Calibration):
        q = cal.qubits
        self.t1 = np.array([c.t1_us for c in q])
        self.t2 = np.array([c.t2_us for c in q])
        self.e1 = np.array([c.gate_error_1q for c in q])
        self.p10 = np.array([c.readout_p1_given_0 for c in q])
        self.p01 = np.array([c.readout_p0_given_1 for c in q])
        nq = len(q)
        self.e2 = np.full((nq, nq), cal.gate_error_2q(-1, -1))  # (-1, -1) is no pair: the uncoupled rate
        for p in reversed(cal.pairs):  # so that the first listing of a pair wins, as in gate_error_2q
            a, b = p.qubits
            self.e2[a, b] = self.e2[b, a] = p.gate_error_2q
        self.relax1 = relaxation_parameters(cal.gate_time_1q_us, self.t1, self.t2)
        self.relax2 = relaxation_parameters(cal.gate_time_2q_us, self.t1, self.t2)


_CAL_CACHE: dict[int, tuple[Calibration, _CalibrationArrays]] = {}


def calibration_arrays(cal: Calibration) -> _CalibrationArrays:
    hit = _CAL_CACHE.get(id(cal))
    if hit is not None and hit[0] is cal:
        return hit[1]
    if len(_CAL_CACHE) >= 16:
        _CAL_CACHE.pop(next(iter(_CAL_CACHE)))
    arrays = _CalibrationArrays(cal)
    _CAL_CACHE[id(cal)] = (cal, arrays)  # holding `cal` keeps its id from being reused
    return arrays


def relaxation_parameters(t: np.ndarray | float, t1: np.ndarray, t2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gamma, lambda) of a wait t, elementwise: gamma = 1 - exp(-t/T1), lambda = 1 - exp(-2t/Tphi)."""
    gamma = -np.expm1(-np.asarray(t) / t1)
    inv_tphi = np.maximum(0.0, 1.0 / t2 - 1.0 / (2.0 * t1))
    return gamma, -np.expm1(-2.0 * np.asarray(t) * inv_tphi)


def idle_durations(circuit: Circuit, cal: Calibration, slots: tuple[tuple[int, int], ...]) -> np.ndarray:
    """How long each qubit of `slots` waits before its gate (or, for gate -1, before readout)."""
    key = ("idle", cal.gate_time_1q_us, cal.gate_time_2q_us, cal.readout_time_us)
    if key not in circuit.memo:
        schedule = circuit.schedule(cal)
        free = [0.0] * circuit.num_qubits
        waits: dict[tuple[int, int], float] = {}
        for i, (g, (start, end)) in enumerate(zip(circuit.gates, schedule)):
            for q in g.qubits:
                waits[(i, q)] = start - free[q]
                free[q] = end
        makespan = max(free, default=0.0)
        for q in range(circuit.num_qubits):
            waits[(-1, q)] = makespan - free[q]
        circuit.memo[key] = np.array([max(0.0, waits[s]) for s in slots])
    return circuit.memo[key]


def _pair_index(a: np.ndarray, b: np.ndarray, width: int) -> np.ndarray:
    """Index of (a, b), a < b, in itertools.combinations(range(width), 2)."""
    return (a * (2 * width - a - 1)) // 2 + (b - a - 1)


def check_crosstalk(crosstalk: dict[int, float] | None, calibration: Calibration) -> dict[int, float]:
    crosstalk = dict(crosstalk or {})
    for q, p in crosstalk.items():
        if not isinstance(q, int) or not 0 <= q < calibration.num_qubits or not 0 <= p <= 1:
            raise CircuitError(f"crosstalk[{q!r}]={p!r}: keys are physical qubits of the calibration, "
                               "values probabilities in [0, 1]")
    return crosstalk


def lower(circuit: Circuit, calibration: Calibration, *, physical_qubits: Sequence[int] | None = None,
          crosstalk: dict[int, float] | None = None, calibration_age_s: float = 0.0,
          lengths: tuple[int, int] | None = None) -> Lowered:
    """`lengths` = (1-qubit entries, blocks) pads to a given bucket; default: the smallest that fits."""
    phys = check_placement(circuit, calibration, physical_qubits)
    crosstalk = check_crosstalk(crosstalk, calibration)
    if calibration_age_s < 0:
        raise CircuitError(f"calibration_age_s={calibration_age_s} is negative: pass seconds since calibration")
    cal = calibration.drifted(calibration_age_s)
    return lower_checked(circuit, cal, phys, crosstalk, lengths)


def lower_checked(circuit: Circuit, cal: Calibration, phys: list[int], crosstalk: dict[int, float],
                  lengths: tuple[int, int] | None = None) -> Lowered:
    pl = plan(circuit, cal.idle_relaxation)
    arr = calibration_arrays(cal)
    width = pl.width
    phys_arr = np.array(phys + [0] * (width - len(phys)), np.int64)
    xt = np.zeros(len(arr.t1))
    for q, p in crosstalk.items():
        xt[q] = p
    g1, g2 = len(pl.kind1), len(pl.qa)
    n1, n2 = lengths if lengths is not None else (bucket_length(g1), bucket_length(g2, 8))
    if n1 < g1 or n2 < g2:
        raise ValueError(f"lengths={(n1, n2)} are shorter than the circuit's ({g1}, {g2})")

    prm1 = np.zeros((n1, 5), np.float32)
    if g1:
        pq = phys_arr[pl.qubit1]
        gate, idle = pl.kind1 == GATE, pl.kind1 == IDLE
        gamma = np.where(gate, arr.relax1[0][pq], 0.0)
        lam = np.where(gate, arr.relax1[1][pq], 0.0)
        if idle.any():
            t = idle_durations(circuit, cal, pl.idle_slots)[pl.idle1[idle]]
            gamma[idle], lam[idle] = relaxation_parameters(t, arr.t1[pq[idle]], arr.t2[pq[idle]])
        prm1[:g1, 0] = np.where(gate, arr.e1[pq], 0.0)
        prm1[:g1, 1], prm1[:g1, 2] = gamma, lam
        prm1[:g1, 3] = np.where(gate, xt[pq], 0.0)
        prm1[:g1, 4] = pl.kind1 == RESET
    u1 = np.zeros((n1, 2, 2), np.complex64)
    u1[:] = np.eye(2)
    u1[:g1] = pl.u1
    starts = np.ones(n1, bool)
    starts[:g1] = pl.starts

    prm2 = np.zeros((n2, 7), np.float32)
    gates = pl.gates
    pa, pb = phys_arr[pl.qa], phys_arr[pl.qb]
    prm2[:g2, 0] = np.where(gates, arr.e2[pa, pb], 0.0)
    for col, qs in ((1, pa), (4, pb)):
        prm2[:g2, col] = np.where(gates, arr.relax2[0][qs], 0.0)
        prm2[:g2, col + 1] = np.where(gates, arr.relax2[1][qs], 0.0)
        prm2[:g2, col + 2] = np.where(gates, xt[qs], 0.0)
    u2 = np.zeros((n2, 4, 4), np.complex64)
    u2[:] = np.eye(4)
    u2[:g2] = pl.u2
    chain_a = np.full(n2, n1, np.int32)
    chain_b = np.full(n2, n1, np.int32)
    chain_a[:g2] = np.where(pl.chain_a < 0, n1, pl.chain_a)
    chain_b[:g2] = np.where(pl.chain_b < 0, n1, pl.chain_b)
    pairs = np.zeros(n2, np.int32)
    pairs[:g2] = _pair_index(pl.qa, pl.qb, width)

    measured = tuple(q for q, _ in circuit.measurements)
    readout = np.zeros((width, 2, 2), np.float32)
    readout[:, 0, :] = 1.0  # unmeasured: summed into "read 0"
    for q in measured:
        p10, p01 = arr.p10[phys[q]], arr.p01[phys[q]]
        readout[q] = [[1 - p10, p01], [p10, 1 - p01]]
    return Lowered(width, u1, prm1, starts, u2, prm2, chain_a, chain_b, pairs, g2, readout, measured,
                   tuple(c for _, c in circuit.measurements))
