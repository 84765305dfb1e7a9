"""A circuit's fusion plan: which gates form each 2-qubit block. Structure only, no noise numbers.

Every 2-qubit gate becomes one block that first applies the runs of 1-qubit operations that precede
it on its two qubits; runs left after a qubit's last 2-qubit gate commute to the end and are paired
into final blocks. A plan depends on the circuit alone (and on whether idle waits are modelled), so
it is computed once per circuit and reused by every run, whatever the calibration or placement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qpu_jax.circuit import Circuit

GATE, RESET, IDLE = 0, 1, 2  # kinds of 1-qubit entries
_SWAP_AXES = (1, 0, 3, 2)


@dataclass(frozen=True)
class Plan:
    width: int  # >= 2: a 1-qubit circuit gets an idle partner
    # 1-qubit entries, sorted by run (a run is contiguous, in gate order)
    kind1: np.ndarray  # int8[G1]
    qubit1: np.ndarray  # int32[G1] circuit qubit
    u1: np.ndarray  # complex128[G1, 2, 2] (identity for resets and idle waits)
    idle1: np.ndarray  # int32[G1]: index into the idle durations (IDLE entries), else -1
    starts: np.ndarray  # bool[G1]: first entry of a run
    # blocks in execution order; the last `finals` carry no gate
    qa: np.ndarray  # int32[G2] circuit qubits, qa < qb
    qb: np.ndarray
    u2: np.ndarray  # complex128[G2, 4, 4] on (qa, qb)
    chain_a: np.ndarray  # int32[G2]: last entry of the run before the block on qa, or -1
    chain_b: np.ndarray
    finals: int
    idle_slots: tuple[tuple[int, int], ...]  # (gate index or -1 for the end, circuit qubit) of each idle wait

    @property
    def gates(self) -> np.ndarray:
        """bool[G2]: the block carries a 2-qubit gate (and its noise)."""
        return np.arange(len(self.qa)) < len(self.qa) - self.finals


def plan(circuit: Circuit, idle: bool) -> Plan:
    memo = circuit.memo
    key = ("plan", idle)
    if key not in memo:
        memo[key] = _build(circuit, idle)
    return memo[key]


def _build(circuit: Circuit, idle: bool) -> Plan:
    n, width = circuit.num_qubits, max(2, circuit.num_qubits)
    runs: list[list[tuple[int, int, np.ndarray | None, int]]] = []  # entries (kind, qubit, u, idle index)
    current: list[int | None] = [None] * width
    idle_slots: list[tuple[int, int]] = []
    two: list[tuple[int, int, np.ndarray, int | None, int | None]] = []

    def push(q: int, entry) -> None:
        if current[q] is None:
            current[q] = len(runs)
            runs.append([])
        runs[current[q]].append(entry)

    def wait(i: int, q: int) -> None:
        push(q, (IDLE, q, None, len(idle_slots)))
        idle_slots.append((i, q))

    for i, g in enumerate(circuit.gates):
        if idle:
            for q in g.qubits:
                wait(i, q)
        if len(g.qubits) == 1:
            push(g.qubits[0], (RESET, g.qubits[0], None, -1) if g.matrix is None else (GATE, g.qubits[0], g.matrix, -1))
            continue
        a, b = g.qubits
        u = g.matrix
        if a > b:
            a, b = b, a
            u = u.reshape(2, 2, 2, 2).transpose(_SWAP_AXES).reshape(4, 4)
        two.append((a, b, u, current[a], current[b]))
        current[a] = current[b] = None
    if idle:
        for q, _ in circuit.measurements:
            wait(-1, q)
    pending = [q for q in range(width) if current[q] is not None]
    finals = 0
    eye = np.eye(4, dtype=complex)
    while pending:
        a = pending.pop(0)
        if pending:
            b = pending.pop(0)
            runs_ab = {a: current[a], b: current[b]}
        else:  # a partner whose own run, if any, went into an earlier final block
            b = a + 1 if a + 1 < width else a - 1
            runs_ab = {a: current[a], b: None}
        a, b = min(a, b), max(a, b)
        two.append((a, b, eye, runs_ab[a], runs_ab[b]))
        finals += 1
    # lay the runs out contiguously and point each block at the last entry of its runs
    last: list[int] = []
    entries: list[tuple[int, int, np.ndarray | None, int]] = []
    starts: list[bool] = []
    for r in runs:
        starts += [True] + [False] * (len(r) - 1)
        entries += r
        last.append(len(entries) - 1)
    ident = np.eye(2, dtype=complex)
    g1 = len(entries)
    return Plan(
        width=width,
        kind1=np.array([e[0] for e in entries], np.int8),
        qubit1=np.array([e[1] for e in entries], np.int32),
        u1=np.array([e[2] if e[2] is not None else ident for e in entries], complex).reshape(g1, 2, 2),
        idle1=np.array([e[3] for e in entries], np.int32),
        starts=np.array(starts, bool),
        qa=np.array([t[0] for t in two], np.int32), qb=np.array([t[1] for t in two], np.int32),
        u2=np.array([t[2] for t in two], complex).reshape(len(two), 4, 4),
        chain_a=np.array([-1 if t[3] is None else last[t[3]] for t in two], np.int32),
        chain_b=np.array([-1 if t[4] is None else last[t[4]] for t in two], np.int32),
        finals=finals, idle_slots=tuple(idle_slots))
