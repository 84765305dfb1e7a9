"""Quantum channels as superoperators, built on the host in complex128.

Convention: a k-qubit superoperator S is a (4^k x 4^k) matrix acting on row-major vec(rho), with the
vec index (r_1..r_k, c_1..c_k), qubit 1 the most significant. For Kraus operators {K},
S = sum_K kron(K, conj(K)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def unitary(u: np.ndarray) -> np.ndarray:
    """kron(u, conj(u)) written as one broadcast product: np.kron's overhead dominated lowering."""
    d = u.shape[0]
    return (u[:, None, :, None] * u.conj()[None, :, None, :]).reshape(d * d, d * d)


def from_kraus(kraus: Sequence[np.ndarray]) -> np.ndarray:
    return sum(unitary(k) for k in kraus)


def depolarizing(p: float, k: int) -> np.ndarray:
    """rho -> (1-p) rho + p Tr(rho) I/2^k (Qiskit Aer's parameterisation)."""
    d = 2**k
    vec_identity = np.eye(d).reshape(-1)
    return (1 - p) * np.eye(d * d) + (p / d) * np.outer(vec_identity, vec_identity)


def amplitude_damping_kraus(gamma: float) -> list[np.ndarray]:
    return [np.array([[1, 0], [0, math.sqrt(1 - gamma)]], complex), np.array([[0, math.sqrt(gamma)], [0, 0]], complex)]


def phase_damping_kraus(lam: float) -> list[np.ndarray]:
    return [np.array([[1, 0], [0, math.sqrt(1 - lam)]], complex), np.array([[0, 0], [0, math.sqrt(lam)]], complex)]


def reset_kraus() -> list[np.ndarray]:
    return [np.array([[1, 0], [0, 0]], complex), np.array([[0, 1], [0, 0]], complex)]


def relaxation_parameters(t_us: float, t1_us: float, t2_us: float) -> tuple[float, float]:
    """(gamma, lambda) for a wait of t: gamma = 1 - exp(-t/T1), lambda = 1 - exp(-2t/Tphi)."""
    if t2_us > 2 * t1_us * (1 + 1e-12):
        raise ValueError(f"T2={t2_us} > 2*T1={2 * t1_us} has no physical channel")
    gamma = 1.0 - math.exp(-t_us / t1_us)
    inv_tphi = max(0.0, 1.0 / t2_us - 1.0 / (2.0 * t1_us))
    lam = 1.0 - math.exp(-2.0 * t_us * inv_tphi)
    return gamma, lam


def relaxation(t_us: float, t1_us: float, t2_us: float) -> np.ndarray:
    """Amplitude damping followed by phase damping over a duration t (1 qubit)."""
    gamma, lam = relaxation_parameters(t_us, t1_us, t2_us)
    return from_kraus(phase_damping_kraus(lam)) @ from_kraus(amplitude_damping_kraus(gamma))


def embed(s: np.ndarray, qubits: Sequence[int], onto: Sequence[int]) -> np.ndarray:
    """Extend a superoperator on `qubits` to the ordered qubit list `onto` (identity elsewhere)."""
    qubits, onto = list(qubits), list(onto)
    if qubits == onto:
        return s
    k, m, rest = len(qubits), len(onto), [q for q in onto if q not in qubits]
    r = len(rest)
    # both factors laid out as (out rows, out cols, in rows, in cols), one binary axis per qubit
    t = s.reshape((2,) * (4 * k))
    ident = np.einsum("ac,bd->abcd", np.eye(2**r), np.eye(2**r)).reshape((2,) * (4 * r))
    full = np.multiply.outer(t, ident)

    def axis(group: int, q: int) -> int:
        return group * k + qubits.index(q) if q in qubits else 4 * k + group * r + rest.index(q)

    perm = [axis(g, q) for g in range(4) for q in onto]
    return np.transpose(full, perm).reshape(4**m, 4**m)


def swap_order(s: np.ndarray) -> np.ndarray:
    """A 2-qubit superoperator on (a, b) rewritten for the order (b, a)."""
    return np.transpose(s.reshape((2,) * 8), (1, 0, 3, 2, 5, 4, 7, 6)).reshape(16, 16)


def kraus_completeness(kraus: Sequence[np.ndarray]) -> float:
    """max |sum K^dag K - I|: zero for a trace-preserving channel."""
    d = kraus[0].shape[1]
    return float(np.abs(sum(k.conj().T @ k for k in kraus) - np.eye(d)).max())
