"""The same noisy circuits on other density-matrix simulators: Cirq, PennyLane (default.mixed), TensorCircuit.

Every peer gets exactly the device's channels: each native gate's unitary, then one Kraus channel
holding its depolarizing, relaxation and crosstalk (from `qpu_jax.channels`, the host reference),
then the calibration's readout error applied to the exact probabilities. A peer that cannot run a
circuit (missing package, unsupported operation) is reported, never timed on different work.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from qpu_jax import channels as ch

PEERS = ("cirq", "pennylane", "tensorcircuit")


def installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def kraus_from_superoperator(s: np.ndarray, k: int) -> list[np.ndarray]:
    """Kraus operators of a CPTP superoperator (row-major vec convention) from its Choi matrix."""
    d = 2**k
    choi = np.transpose(s.reshape(d, d, d, d), (0, 2, 1, 3)).reshape(d * d, d * d)
    w, v = np.linalg.eigh((choi + choi.conj().T) / 2)
    return [np.sqrt(x) * v[:, i].reshape(d, d) for i, x in enumerate(w) if x > 1e-14]


def noisy_gates(circuit, cal) -> list[tuple[tuple[int, ...], np.ndarray, list[np.ndarray]]]:
    """(qubits, unitary, noise Kraus) per gate, qubit 0 most significant as in qpu_jax."""
    out = []
    for g in circuit.gates:
        if g.matrix is None:
            raise ValueError("resets are not part of the benchmark families")
        k = len(g.qubits)
        if k == 1:
            p, t = cal.qubits[g.qubits[0]].gate_error_1q, cal.gate_time_1q_us
        else:
            p, t = cal.gate_error_2q(*g.qubits), cal.gate_time_2q_us
        s = ch.depolarizing(p, k)
        for i, q in enumerate(g.qubits):
            c = cal.qubits[q]
            s = ch.embed(ch.relaxation(t, c.t1_us, c.t2_us), [i], list(range(k))) @ s
        out.append((g.qubits, g.matrix, kraus_from_superoperator(s, k)))
    return out


def with_readout(probs: np.ndarray, cal, n: int) -> dict[str, float]:
    """Probabilities indexed with qubit 0 most significant -> bitstrings (clbit q = qubit q) after readout."""
    t = np.asarray(probs, np.float64).reshape((2,) * n)
    for q in range(n):
        c = cal.qubits[q]
        conf = np.array([[1 - c.readout_p1_given_0, c.readout_p0_given_1],
                         [c.readout_p1_given_0, 1 - c.readout_p0_given_1]])
        t = np.moveaxis(np.tensordot(conf, t, axes=([1], [q])), 0, q)
    flat = t.reshape(-1)
    # clbit 0 is the rightmost character: reverse the qubit-ordered bits
    return {format(i, f"0{n}b")[::-1]: float(p) for i, p in enumerate(flat) if p > 1e-12}


def runner(name: str, circuit, cal, n: int):
    """A no-argument function returning exact pre-readout probabilities (qubit 0 most significant)."""
    ops = noisy_gates(circuit, cal)
    return {"cirq": _cirq, "pennylane": _pennylane, "tensorcircuit": _tensorcircuit}[name](ops, n)


def _cirq(ops, n):
    import cirq

    qs = cirq.LineQubit.range(n)
    c = cirq.Circuit()
    for qubits, u, kraus in ops:
        targets = [qs[q] for q in qubits]
        c.append(cirq.MatrixGate(u).on(*targets))
        c.append(cirq.KrausChannel(kraus).on(*targets))
    sim = cirq.DensityMatrixSimulator(dtype=np.complex64)
    return lambda: np.real(np.diagonal(sim.simulate(c, qubit_order=qs).final_density_matrix))


def _pennylane(ops, n):
    import pennylane as qml

    dev = qml.device("default.mixed", wires=n)

    @qml.qnode(dev)
    def circuit():
        for qubits, u, kraus in ops:
            qml.QubitUnitary(u, wires=list(qubits))
            qml.QubitChannel(kraus, wires=list(qubits))
        return qml.probs(wires=list(range(n)))

    return lambda: np.asarray(circuit())


def _tensorcircuit(ops, n):
    import tensorcircuit as tc

    tc.set_dtype("complex64")

    def run():
        c = tc.DMCircuit(n)
        for qubits, u, kraus in ops:
            c.any(*qubits, unitary=u)
            c.general_kraus([k.astype(np.complex64) for k in kraus], *qubits)
        return np.real(np.asarray(c.probability()))

    return run
