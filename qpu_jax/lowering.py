"""Circuit + calibration -> padded arrays for the kernels (host side, complex128 until the cast).

Each native gate becomes one noisy channel, exactly as the calibration says:
unitary, then depolarizing(p) on its qubits, then per qubit amplitude damping (gamma = 1-exp(-t/T1))
followed by phase damping (lambda = 1-exp(-2t/Tphi)), then any crosstalk depolarizing.
Channels are then fused greedily into 2-qubit superoperators (a 1-qubit block is always its qubit's
latest, so it can ride along with the next 2-qubit gate on that qubit): this cuts the number of
passes over the 4^n density matrix to about the number of 2-qubit gates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qpu_jax import channels as ch
from qpu_jax.calibration import Calibration
from qpu_jax.circuit import Circuit, CircuitError, Gate
from qpu_jax.kernels import pair_list


@dataclass(frozen=True)
class Lowered:
    width: int  # kernel width (>= 2; a 1-qubit circuit gets an idle partner)
    ops: np.ndarray  # complex64[L, 16, 16]
    pairs: np.ndarray  # int32[L]
    nops: int
    measured_qubits: tuple[int, ...]  # circuit qubits, in measurement order
    clbits: tuple[int, ...]
    confusion: np.ndarray  # float64[m, 2, 2]: confusion[j][read, true]

    @property
    def bucket(self) -> tuple[int, int]:
        return self.width, len(self.pairs)


def bucket_length(nops: int) -> int:
    """Pad lengths to powers of two (min 16) so few buckets cover all circuits."""
    return max(16, 1 << max(0, nops - 1).bit_length())


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


def _noise(qubits: tuple[int, ...], cal: Calibration, phys: list[int], crosstalk: dict[int, float]) -> np.ndarray:
    """Everything that follows a gate's unitary on `qubits`: depolarizing, relaxation, crosstalk."""
    k = len(qubits)
    pq = [phys[q] for q in qubits]
    if k == 1:
        p, t = cal.qubits[pq[0]].gate_error_1q, cal.gate_time_1q_us
    else:
        p, t = cal.gate_error_2q(*pq), cal.gate_time_2q_us
    s = ch.depolarizing(p, k)
    for q, pp in zip(qubits, pq):
        c = cal.qubits[pp]
        s = ch.embed(ch.relaxation(t, c.t1_us, c.t2_us), [q], qubits) @ s
    for q, pp in zip(qubits, pq):
        extra = crosstalk.get(pp, 0.0)
        if extra > 0:
            s = ch.embed(ch.depolarizing(extra, 1), [q], qubits) @ s
    return s


def _channels(circuit: Circuit, cal: Calibration, phys: list[int], crosstalk: dict[int, float]) -> list[np.ndarray]:
    noise: dict[tuple[int, ...], np.ndarray] = {}
    out = []
    for g in circuit.gates:
        if g.matrix is None:
            out.append(ch.from_kraus(ch.reset_kraus()))
            continue
        if g.qubits not in noise:
            noise[g.qubits] = _noise(g.qubits, cal, phys, crosstalk)
        out.append(noise[g.qubits] @ ch.unitary(g.matrix))
    return out


class _Fuser:
    def __init__(self) -> None:
        self.blocks: list[tuple[tuple[int, ...], np.ndarray] | None] = []
        self.last: dict[int, int] = {}

    def add(self, qubits: tuple[int, ...], s: np.ndarray) -> None:
        owners = {self.last[q] for q in qubits if q in self.last}
        if len(owners) == 1:
            (b,) = owners
            bq, bs = self.blocks[b]  # type: ignore[misc]
            union = tuple(sorted(set(bq) | set(qubits)))
            if len(union) <= 2 and all(self.last.get(q) == b for q in union if q in qubits):
                # moving the gate back to block b is safe: nothing after b touches its qubits
                self.blocks[b] = (union, ch.embed(s, qubits, union) @ ch.embed(bs, bq, union))
                for q in qubits:  # the block's other qubit may have later blocks: keep those
                    self.last[q] = b
                return
        if len(qubits) == 2:
            # absorb single-qubit blocks that are their qubit's latest: they commute forward to here
            for q in qubits:
                b = self.last.get(q)
                if b is not None and self.blocks[b] is not None and len(self.blocks[b][0]) == 1:
                    bq, bs = self.blocks[b]
                    s = s @ ch.embed(bs, bq, qubits)
                    self.blocks[b] = None
        self.blocks.append((qubits, s))
        for q in qubits:
            self.last[q] = len(self.blocks) - 1

    def pairs(self, width: int) -> list[tuple[tuple[int, int], np.ndarray]]:
        out, singles = [], []
        for blk in self.blocks:
            if blk is None:
                continue
            (qs, s) = blk
            if len(qs) == 1:
                singles.append(blk)  # always its qubit's last block, so it may run at the end
            else:
                out.append((qs, s))
        while singles:
            (q1,), s1 = singles.pop(0)
            if singles:
                (q2,), s2 = singles.pop(0)
                qs = (q1, q2)
                out.append((qs, ch.embed(s1, [q1], qs) @ ch.embed(s2, [q2], qs)))
            else:
                partner = q1 + 1 if q1 + 1 < width else q1 - 1
                qs = (q1, partner)
                out.append((qs, ch.embed(s1, [q1], qs)))
        return [(tuple(sorted(qs)), ch.embed(s, qs, sorted(qs))) for qs, s in out]


def lower(circuit: Circuit, calibration: Calibration, *, physical_qubits: Sequence[int] | None = None,
          crosstalk: dict[int, float] | None = None, calibration_age_s: float = 0.0,
          length: int | None = None) -> Lowered:
    phys = check_placement(circuit, calibration, physical_qubits)
    crosstalk = dict(crosstalk or {})
    for q, p in crosstalk.items():
        if not isinstance(q, int) or not 0 <= q < calibration.num_qubits or not 0 <= p <= 1:
            raise CircuitError(f"crosstalk[{q!r}]={p!r}: keys are physical qubits of the calibration, "
                               "values probabilities in [0, 1]")
    if calibration_age_s < 0:
        raise CircuitError(f"calibration_age_s={calibration_age_s} is negative: pass seconds since calibration")
    cal = calibration.drifted(calibration_age_s)
    width = max(2, circuit.num_qubits)
    fuser = _Fuser()
    schedule = circuit.schedule(cal) if cal.idle_relaxation else None
    free = [0.0] * circuit.num_qubits
    for i, (g, s) in enumerate(zip(circuit.gates, _channels(circuit, cal, phys, crosstalk))):
        if schedule is not None:
            start, end = schedule[i]
            for q in g.qubits:
                if start - free[q] > 0:
                    c = cal.qubits[phys[q]]
                    s = s @ ch.embed(ch.relaxation(start - free[q], c.t1_us, c.t2_us), [q], g.qubits)
                free[q] = end
        fuser.add(g.qubits, s)
    if schedule is not None:
        makespan = max(free, default=0.0)
        for q, _ in circuit.measurements:
            if makespan - free[q] > 0:
                c = cal.qubits[phys[q]]
                fuser.add((q,), ch.relaxation(makespan - free[q], c.t1_us, c.t2_us))
    blocks = fuser.pairs(width)
    index = {p: i for i, p in enumerate(pair_list(width))}
    nops = len(blocks)
    size = length if length is not None else bucket_length(nops)
    if size < nops:
        raise ValueError(f"length={size} is shorter than the {nops} fused operations")
    ops = np.zeros((size, 16, 16), np.complex64)
    pairs = np.zeros(size, np.int32)
    for i, (qs, s) in enumerate(blocks):
        ops[i], pairs[i] = s, index[qs]
    measured = tuple(q for q, _ in circuit.measurements)
    confusion = np.array([[[1 - cal.qubits[phys[q]].readout_p1_given_0, cal.qubits[phys[q]].readout_p0_given_1],
                           [cal.qubits[phys[q]].readout_p1_given_0, 1 - cal.qubits[phys[q]].readout_p0_given_1]]
                          for q in measured]).reshape(len(measured), 2, 2)
    return Lowered(width, ops, pairs, nops, measured, tuple(c for _, c in circuit.measurements), confusion)
