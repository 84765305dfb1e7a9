"""An independent dense NumPy reference: full 2^n x 2^n matrices, rho -> sum K rho K^dag, complex128.

It shares only the parsed gate list with qpu_jax (so both see the same native gates); every channel,
the embedding into the full space, the readout model and the bitstring mapping are written anew.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

I2 = np.eye(2, dtype=complex)
PAULIS = [I2, np.array([[0, 1], [1, 0]], complex), np.array([[0, -1j], [1j, 0]]), np.diag([1.0 + 0j, -1.0])]


def full_operator(k: np.ndarray, qubits: tuple[int, ...], n: int) -> np.ndarray:
    """Embed an operator on `qubits` (first = most significant) into n qubits (qubit 0 = most significant)."""
    m = len(qubits)
    op = np.zeros((2**n, 2**n), complex)
    for col in range(2**n):
        bits = [(col >> (n - 1 - q)) & 1 for q in range(n)]
        sub = sum(bits[q] << (m - 1 - i) for i, q in enumerate(qubits))
        for out_sub in range(2**m):
            amp = k[out_sub, sub]
            if amp == 0:
                continue
            nb = list(bits)
            for i, q in enumerate(qubits):
                nb[q] = (out_sub >> (m - 1 - i)) & 1
            row = sum(b << (n - 1 - q) for q, b in enumerate(nb))
            op[row, col] += amp
    return op


def apply_kraus(rho: np.ndarray, kraus: list[np.ndarray], qubits: tuple[int, ...], n: int) -> np.ndarray:
    out = np.zeros_like(rho)
    for k in kraus:
        big = full_operator(k, qubits, n)
        out += big @ rho @ big.conj().T
    return out


def depolarizing_kraus(p: float, m: int) -> list[np.ndarray]:
    # (1-p) rho + p I/d = (1 - p + p/d^2) rho + p/d^2 sum_{P != I} P rho P
    d2 = 4**m
    ops = []
    for idx, paulis in enumerate(itertools.product(PAULIS, repeat=m)):
        mat = paulis[0]
        for p_ in paulis[1:]:
            mat = np.kron(mat, p_)
        w = 1 - p + p / d2 if idx == 0 else p / d2
        ops.append(math.sqrt(w) * mat)
    return ops


def relax_kraus(t: float, t1: float, t2: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    g = 1 - math.exp(-t / t1)
    tphi_inv = 1 / t2 - 1 / (2 * t1)
    lam = 1 - math.exp(-2 * t * tphi_inv)
    ad = [np.array([[1, 0], [0, math.sqrt(1 - g)]]), np.array([[0, math.sqrt(g)], [0, 0]])]
    pd = [np.array([[1, 0], [0, math.sqrt(1 - lam)]]), np.array([[0, 0], [0, math.sqrt(lam)]])]
    return [a.astype(complex) for a in ad], [b.astype(complex) for b in pd]


def density_matrix(circuit, cal, physical=None, crosstalk=None) -> np.ndarray:
    n = circuit.num_qubits
    phys = physical or list(range(n))
    crosstalk = crosstalk or {}
    rho = np.zeros((2**n, 2**n), complex)
    rho[0, 0] = 1
    sched = circuit.schedule(cal) if cal.idle_relaxation else None
    free = [0.0] * n
    for i, g in enumerate(circuit.gates):
        if sched is not None:
            start, end = sched[i]
            for q in g.qubits:
                if start > free[q]:
                    c = cal.qubits[phys[q]]
                    ad, pd = relax_kraus(start - free[q], c.t1_us, c.t2_us)
                    rho = apply_kraus(apply_kraus(rho, ad, (q,), n), pd, (q,), n)
                free[q] = end
        if g.matrix is None:
            rho = apply_kraus(rho, [np.array([[1, 0], [0, 0]], complex), np.array([[0, 1], [0, 0]], complex)], g.qubits, n)
            continue
        rho = apply_kraus(rho, [g.matrix], g.qubits, n)
        if len(g.qubits) == 1:
            p, t = cal.qubits[phys[g.qubits[0]]].gate_error_1q, cal.gate_time_1q_us
        else:
            p, t = cal.gate_error_2q(phys[g.qubits[0]], phys[g.qubits[1]]), cal.gate_time_2q_us
        rho = apply_kraus(rho, depolarizing_kraus(p, len(g.qubits)), g.qubits, n)
        for q in g.qubits:
            c = cal.qubits[phys[q]]
            ad, pd = relax_kraus(t, c.t1_us, c.t2_us)
            rho = apply_kraus(apply_kraus(rho, ad, (q,), n), pd, (q,), n)
        for q in g.qubits:
            if crosstalk.get(phys[q], 0) > 0:
                rho = apply_kraus(rho, depolarizing_kraus(crosstalk[phys[q]], 1), (q,), n)
    if sched is not None:
        end = max(free)
        for q, _ in circuit.measurements:
            if end > free[q]:
                c = cal.qubits[phys[q]]
                ad, pd = relax_kraus(end - free[q], c.t1_us, c.t2_us)
                rho = apply_kraus(apply_kraus(rho, ad, (q,), n), pd, (q,), n)
    return rho


def probabilities(circuit, cal, physical=None, crosstalk=None) -> dict[str, float]:
    n = circuit.num_qubits
    phys = physical or list(range(n))
    diag = np.real(np.diag(density_matrix(circuit, cal, physical, crosstalk)))
    out: dict[str, float] = {}
    for state in range(2**n):
        true_bits = [(state >> (n - 1 - q)) & 1 for q in range(n)]
        for reads in itertools.product((0, 1), repeat=len(circuit.measurements)):
            w = diag[state]
            bits = ["0"] * circuit.num_clbits
            for (q, c), r in zip(circuit.measurements, reads):
                cq = cal.qubits[phys[q]]
                p1 = cq.readout_p1_given_0 if true_bits[q] == 0 else 1 - cq.readout_p0_given_1
                w *= p1 if r else 1 - p1
                bits[circuit.num_clbits - 1 - c] = str(r)
            key = "".join(bits)
            out[key] = out.get(key, 0.0) + w
    return out


def tvd(p: dict[str, float], q: dict[str, float]) -> float:
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))
