"""Circuits: parse OpenQASM 2 (through qiskit.qasm2) or a JSON gate list, validate, lower to gates.

qiskit.qasm2 is the parser: a maintained, spec-complete OpenQASM 2 reader with a Rust core that
knows every gate of qelib1.inc (with Qiskit's legacy extensions c3x, c4x, rc3x, ...) and reports
errors with line and column. What it accepts and we refuse (classical control, mid-circuit
measurement) is checked here, before anything reaches `jit`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import qiskit.qasm2 as qasm2
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import Operator

from qpu_jax.calibration import Calibration

MAX_QUBITS = 14  # complex64 rho at 14 qubits is 2 GiB; the kernels need about 3x that at peak


class CircuitError(ValueError):
    """A circuit we cannot run; the message names the line or argument and what to change."""


@dataclass(frozen=True)
class Gate:
    """One native operation: a unitary on 1-2 qubits (matrix ordered with qubits[0] most significant) or a reset."""

    name: str
    qubits: tuple[int, ...]
    matrix: np.ndarray | None  # None for reset


@dataclass(frozen=True)
class Circuit:
    num_qubits: int
    num_clbits: int
    gates: tuple[Gate, ...]
    measurements: tuple[tuple[int, int], ...]  # (qubit, clbit), terminal
    # what is derived from the circuit alone (fusion plan, schedule, bitstrings), computed once
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def num_gates(self) -> int:
        return len(self.gates)

    def schedule(self, calibration: Calibration) -> list[tuple[float, float]]:
        """ASAP (start, end) in microseconds of every gate: gates on disjoint qubits run in parallel."""
        key = ("schedule", calibration.gate_time_1q_us, calibration.gate_time_2q_us, calibration.readout_time_us)
        if key not in self.memo:
            self.memo[key] = self._schedule(calibration)
        return self.memo[key]

    def _schedule(self, calibration: Calibration) -> list[tuple[float, float]]:
        free = [0.0] * self.num_qubits
        out = []
        for g in self.gates:
            dur = _duration(g, calibration)
            start = max(free[q] for q in g.qubits)
            for q in g.qubits:
                free[q] = start + dur
            out.append((start, start + dur))
        return out

    def duration_us(self, calibration: Calibration) -> float:
        """Length of the gate schedule (critical path), excluding readout."""
        key = ("duration", calibration.gate_time_1q_us, calibration.gate_time_2q_us, calibration.readout_time_us)
        if key not in self.memo:
            self.memo[key] = max((end for _, end in self.schedule(calibration)), default=0.0)
        return self.memo[key]


def _duration(g: Gate, calibration: Calibration) -> float:
    if g.matrix is None:
        return calibration.readout_time_us  # an active reset measures and conditionally flips
    return calibration.gate_time_2q_us if len(g.qubits) == 2 else calibration.gate_time_1q_us


def parse_qasm(text: str) -> Circuit:
    """OpenQASM 2.0 text -> Circuit; raises CircuitError naming the line and what to fix."""
    if not isinstance(text, str) or not text.strip():
        raise CircuitError("circuit is empty: pass OpenQASM 2.0 text starting with 'OPENQASM 2.0;'")
    try:
        qc = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except qasm2.QASM2ParseError as exc:
        raise CircuitError(f"OpenQASM 2 {_qiskit_location(str(exc))}") from None
    return _from_quantum_circuit(qc, _Locator(text))


def _qiskit_location(msg: str) -> str:
    m = re.match(r"[\'\"]?<input>:(\d+),(\d+): (.*?)[\'\"]?$", msg.strip(), re.S)
    return f"line {m.group(1)}, column {int(m.group(2)) + 1}: {m.group(3)}" if m else msg


class _Locator:
    """Finds the source line of a refused construct (qiskit's circuit keeps no line numbers)."""

    def __init__(self, text: str):
        self.statements: list[tuple[int, str]] = []
        depth, line, start_line, buf = 0, 1, 1, []
        clean = re.sub(r"//[^\n]*", "", text)
        for ch in clean:
            if not buf and not ch.isspace():
                start_line = line
            if ch == "\n":
                line += 1
            if ch == "{":
                depth += 1
                continue
            if ch == "}":
                depth -= 1
                buf = []
                continue
            if depth:
                continue
            if ch == ";":
                self.statements.append((start_line, "".join(buf).strip()))
                buf = []
            elif buf or not ch.isspace():
                buf.append(ch)

    def first(self, pattern: str) -> int | None:
        return next((ln for ln, s in self.statements if re.match(pattern, s)), None)

    def after_measure(self) -> int | None:
        """Line of the first gate or reset that touches an already measured qubit."""
        measured: set[str] = set()
        for ln, s in self.statements:
            m = re.match(r"measure\s+([\w\[\]\s]+?)\s*->", s)
            if m:
                measured.add(m.group(1).replace(" ", ""))
                continue
            if re.match(r"(barrier|OPENQASM|include|qreg|creg|gate|opaque)\b", s):
                continue
            m = re.match(r"[A-Za-z_]\w*\s*(?:\([^)]*\))?\s*(.*)$", s, re.S)
            tail = m.group(1) if m else ""
            args = {a.replace(" ", "") for a in re.findall(r"[A-Za-z_]\w*\s*(?:\[\s*\d+\s*\])?", tail)}
            for a in args:
                reg = a.split("[")[0]
                if any(x == a or x == reg or x.split("[")[0] == a for x in measured):
                    return ln
        return None


def _where(line: int | None) -> str:
    return f"line {line}: " if line else ""


def _from_quantum_circuit(qc: QuantumCircuit, where: _Locator | None = None) -> Circuit:
    n = qc.num_qubits
    if n == 0:
        raise CircuitError("circuit declares no qubits: add a 'qreg q[N];'")
    if n > MAX_QUBITS:
        raise CircuitError(f"circuit has {n} qubits; this device simulates at most {MAX_QUBITS} "
                           "(a density matrix doubles the width): split the circuit or use fewer qubits")
    gates: list[Gate] = []
    measurements: list[tuple[int, int]] = []
    measured: set[int] = set()
    written: set[int] = set()

    def lower(op, qubits: list[int]) -> None:
        if op.name == "barrier":
            return
        if op.name == "reset":
            gates.append(Gate("reset", (qubits[0],), None))
            return
        if op.num_qubits <= 2:
            u = np.asarray(Operator(op).data, complex)
            k = op.num_qubits
            # qiskit orders matrix bits little-endian (qubit 0 least significant); ours is the reverse
            u = u.reshape((2,) * (2 * k)).transpose(list(range(k))[::-1] + list(range(k, 2 * k))[::-1])
            gates.append(Gate(op.name, tuple(qubits), u.reshape(2**k, 2**k)))
            return
        if op.definition is None:
            raise CircuitError(f"gate '{op.name}' on {op.num_qubits} qubits has no definition to decompose: "
                               "define it with a 'gate' block")
        d = op.definition
        for inner in d.data:
            lower(inner.operation, [qubits[d.find_bit(q).index] for q in inner.qubits])

    for ins in qc.data:
        op = ins.operation
        qs = [qc.find_bit(q).index for q in ins.qubits]
        if op.name in ("if_else", "while_loop", "for_loop", "switch_case") or getattr(op, "condition", None):
            line = where.first(r"if\s*\(") if where else None
            raise CircuitError(f"{_where(line)}classical control ('if') is not supported: this device runs "
                               "circuits with terminal measurements only; remove the condition or split the job")
        if op.name == "measure":
            c = qc.find_bit(ins.clbits[0]).index
            if qs[0] in measured:
                raise CircuitError(f"qubit {qs[0]} is measured twice: measure each qubit once, at the end")
            if c in written:
                raise CircuitError(f"classical bit {c} is written by two measurements: give each its own bit")
            measured.add(qs[0])
            written.add(c)
            measurements.append((qs[0], c))
            continue
        if op.name == "barrier":
            continue
        if measured & set(qs):
            line = where.after_measure() if where else None
            raise CircuitError(f"{_where(line)}mid-circuit measurement is not supported: '{op.name}' acts on "
                               f"qubit(s) {sorted(measured & set(qs))} after they were measured; move every "
                               "measurement to the end of the circuit")
        lower(op, qs)
    if not measurements:  # nothing measured: report the whole register, as a user running it would expect
        measurements = [(q, q) for q in range(n)]
        num_clbits = n
    else:
        num_clbits = qc.num_clbits
    return Circuit(num_qubits=n, num_clbits=num_clbits, gates=tuple(gates), measurements=tuple(measurements))
