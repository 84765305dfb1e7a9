"""Benchmark circuits (as OpenQASM 2 text) and the matching Qiskit Aer noise model."""

from __future__ import annotations

import math

import numpy as np

HEAD = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'


def random_layered(n: int, depth: int, seed: int) -> str:
    """Each layer: a random u on every qubit, then cx on a random pairing."""
    rng = np.random.default_rng(seed)
    lines = [f"qreg q[{n}]; creg c[{n}];"]
    for _ in range(depth):
        for q in range(n):
            a, b, c = rng.uniform(0, 2 * math.pi, 3)
            lines.append(f"u({a:.6f},{b:.6f},{c:.6f}) q[{q}];")
        perm = rng.permutation(n)
        for i in range(0, n - 1, 2):
            lines.append(f"cx q[{perm[i]}],q[{perm[i + 1]}];")
    lines.append("measure q -> c;")
    return HEAD + "\n".join(lines) + "\n"


def ghz(n: int) -> str:
    body = [f"qreg q[{n}]; creg c[{n}];", "h q[0];"] + [f"cx q[{i}],q[{i + 1}];" for i in range(n - 1)]
    return HEAD + "\n".join(body + ["measure q -> c;"]) + "\n"


def qft(n: int) -> str:
    body = [f"qreg q[{n}]; creg c[{n}];"] + [f"x q[{i}];" for i in range(0, n, 2)]
    for j in range(n):
        body.append(f"h q[{j}];")
        for k in range(j + 1, n):
            body.append(f"cp({math.pi / 2 ** (k - j):.12f}) q[{k}],q[{j}];")
    body += [f"swap q[{i}],q[{n - 1 - i}];" for i in range(n // 2)]
    return HEAD + "\n".join(body + ["measure q -> c;"]) + "\n"


def aer_noise_model(cal, n: int):
    """The calibration's channels in Aer's terms: depolarizing then thermal relaxation per gate qubit."""
    from qiskit_aer.noise import NoiseModel, depolarizing_error, thermal_relaxation_error

    model = NoiseModel(basis_gates=["u", "h", "x", "cx", "cp", "swap"])
    for q in range(n):
        c = cal.qubits[q]
        err = depolarizing_error(c.gate_error_1q, 1).compose(
            thermal_relaxation_error(c.t1_us, c.t2_us, cal.gate_time_1q_us))
        model.add_quantum_error(err, ["u", "h", "x"], [q])
    for a in range(n):
        for b in range(n):
            if a == b:
                continue
            ca, cb = cal.qubits[a], cal.qubits[b]
            # Aer's tensor order: the first factor acts on the last qubit of the instruction
            relax = thermal_relaxation_error(cb.t1_us, cb.t2_us, cal.gate_time_2q_us).tensor(
                thermal_relaxation_error(ca.t1_us, ca.t2_us, cal.gate_time_2q_us))
            model.add_quantum_error(depolarizing_error(cal.gate_error_2q(a, b), 2).compose(relax),
                                    ["cx", "cp", "swap"], [a, b])
    return model


def with_readout(probs: np.ndarray, cal, n: int) -> dict[str, float]:
    """Aer's exact pre-readout probabilities (index bit q = qubit q) -> bitstrings after readout error."""
    t = probs.reshape((2,) * n)  # axis 0 is the most significant bit = qubit n-1
    for q in range(n):
        c = cal.qubits[q]
        conf = np.array([[1 - c.readout_p1_given_0, c.readout_p0_given_1],
                         [c.readout_p1_given_0, 1 - c.readout_p0_given_1]])
        ax = n - 1 - q
        t = np.moveaxis(np.tensordot(conf, t, axes=([1], [ax])), 0, ax)
    flat = t.reshape(-1)
    return {format(i, f"0{n}b"): float(p) for i, p in enumerate(flat) if p > 1e-12}
