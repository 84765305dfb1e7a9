"""Noisy channels built inside `jit` from gate matrices and per-gate noise parameters.

Same convention as `channels` (row-major vec(rho), qubit 1 most significant), same physics:
a gate channel is unitary, then depolarizing, then amplitude + phase damping per qubit, then crosstalk
depolarizing; a reset maps every state to |0><0|. Only the numbers arrive as arrays, so one compiled
program serves every circuit of a bucket and the host never multiplies a superoperator.

Shapes: 1-qubit superoperators are (..., 4, 4) on vec index (r, c); 2-qubit ones (..., 16, 16) on
(r_a, r_b, c_a, c_b).

Parameter columns (float32):
- 1-qubit entries `prm1[..., 5]`: depolarizing p, gamma, lambda, crosstalk p, reset flag;
- 2-qubit entries `prm2[..., 7]`: depolarizing p, then (gamma, lambda, crosstalk p) for qubit a and for b.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_VEC_I2 = jnp.array([1.0, 0.0, 0.0, 1.0], jnp.complex64)
_VEC_I4 = jnp.eye(4, dtype=jnp.complex64).reshape(16)
_RESET = jnp.array([[1, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], jnp.complex64)


def unitary1(u: jax.Array) -> jax.Array:
    """(..., 2, 2) -> (..., 4, 4): kron(u, conj(u))."""
    return jnp.einsum("...ab,...cd->...acbd", u, u.conj()).reshape(u.shape[:-2] + (4, 4))


def unitary2(u: jax.Array) -> jax.Array:
    """(..., 4, 4) -> (..., 16, 16): kron(u, conj(u))."""
    return jnp.einsum("...ab,...cd->...acbd", u, u.conj()).reshape(u.shape[:-2] + (16, 16))


def depolarize(m: jax.Array, p: jax.Array, vec_i: jax.Array) -> jax.Array:
    """D(p) @ m with D = (1-p) I + (p/d) vec(I) vec(I)^T, without forming D."""
    d = jnp.real(vec_i.sum())
    p = p[..., None, None].astype(m.dtype)
    traced = jnp.einsum("i,...ij->...j", vec_i, m)  # vec(I)^T m: the trace of each output
    return (1 - p) * m + (p / d) * vec_i[:, None] * traced[..., None, :]


def _post_on(x: jax.Array, axes: tuple[int, int], gamma: jax.Array, lam: jax.Array, xtalk: jax.Array) -> jax.Array:
    """Relaxation then crosstalk depolarizing applied to the (row, column) output axes of one qubit of x.

    Elementwise on the four (r, c) slices, which XLA fuses; x has a leading batch axis, the parameters
    are (G,).
    """
    r, c = axes
    shape = (-1,) + (1,) * (x.ndim - 3)
    gamma, lam, xtalk = (v.reshape(shape) for v in (gamma, lam, xtalk))
    take = lambda i, j: lax.index_in_dim(lax.index_in_dim(x, i, r, False), j, c - 1, False)  # noqa: E731
    keep = (jnp.sqrt(1 - gamma) * jnp.sqrt(1 - lam) * (1 - xtalk)).astype(x.dtype)
    d0 = take(0, 0) + gamma.astype(x.dtype) * take(1, 1)
    d1 = (1 - gamma).astype(x.dtype) * take(1, 1)
    mix = (xtalk / 2).astype(x.dtype) * (d0 + d1)
    d0 = (1 - xtalk).astype(x.dtype) * d0 + mix
    d1 = (1 - xtalk).astype(x.dtype) * d1 + mix
    rows = [jnp.stack([d0, keep * take(0, 1)], c - 1), jnp.stack([keep * take(1, 0), d1], c - 1)]
    return jnp.stack(rows, r)


def one_qubit(u: jax.Array, prm: jax.Array) -> jax.Array:
    """(G, 2, 2), (G, 5) -> (G, 4, 4) channels of 1-qubit gates, resets and idle waits."""
    g = jnp.where(prm[:, 4, None, None] > 0.5, _RESET, unitary1(u))
    g = depolarize(g, prm[:, 0], _VEC_I2).reshape(-1, 2, 2, 4)  # (r, c, in)
    return _post_on(g, (1, 2), prm[:, 1], prm[:, 2], prm[:, 3]).reshape(-1, 4, 4)


def chain_products(c: jax.Array, starts: jax.Array) -> jax.Array:
    """Running products within segments: out[i] = c[i] @ ... @ c[s] where s is the last start <= i."""

    def combine(earlier, later):
        (a, fa), (b, fb) = earlier, later
        return jnp.where(fb[..., None, None], b, b @ a), fa | fb

    out, _ = lax.associative_scan(combine, (c, starts))
    return out


def local_pair(ca: jax.Array, cb: jax.Array) -> jax.Array:
    """Two 1-qubit superoperators (..., 4, 4) -> their product channel on (a, b), (..., 16, 16)."""
    ta = ca.reshape(ca.shape[:-2] + (2, 2, 2, 2))
    tb = cb.reshape(cb.shape[:-2] + (2, 2, 2, 2))
    return jnp.einsum("...acAC,...bdBD->...abcdABCD", ta, tb).reshape(ca.shape[:-2] + (16, 16))


def two_qubit(u: jax.Array, prm: jax.Array, before_a: jax.Array, before_b: jax.Array) -> jax.Array:
    """(G, 4, 4), (G, 7), (G, 4, 4) x2 -> (G, 16, 16): the 1-qubit chains before a gate, then the gate's channel."""
    m = unitary2(u) @ local_pair(before_a, before_b)
    m = depolarize(m, prm[:, 0], _VEC_I4)
    m = m.reshape(-1, 2, 2, 2, 2, 16)  # (r_a, r_b, c_a, c_b, in)
    m = _post_on(m, (1, 3), prm[:, 1], prm[:, 2], prm[:, 3])
    m = _post_on(m, (2, 4), prm[:, 4], prm[:, 5], prm[:, 6])
    return m.reshape(-1, 16, 16)


# Real coordinates of one qubit's (rho_00, rho_01, rho_10, rho_11): (rho_00, rho_11, Re rho_01, Im rho_01).
# A Hermitian rho has a real vector in the product basis, and every channel a real matrix.
TO_REAL = np.array([[1, 0, 0, 0], [0, 0, 0, 1], [0, 0.5, 0.5, 0], [0, -0.5j, 0.5j, 0]], np.complex64)
FROM_REAL = np.linalg.inv(TO_REAL).astype(np.complex64)
_TO_REAL2 = np.kron(TO_REAL, TO_REAL)
_FROM_REAL2 = np.kron(FROM_REAL, FROM_REAL)


def to_real(s: jax.Array) -> jax.Array:
    """(..., 16, 16) on (r_a, r_b, c_a, c_b) -> the same channel as a real matrix on qubit a's then b's real
    coordinates; the imaginary part is rounding only."""
    t = s.reshape(s.shape[:-2] + (2,) * 8)
    k = t.ndim - 8
    t = jnp.transpose(t, tuple(range(k)) + tuple(k + i for i in (0, 2, 1, 3, 4, 6, 5, 7)))
    return jnp.real(_TO_REAL2 @ t.reshape(s.shape) @ _FROM_REAL2)


def blocks(u1, prm1, starts, u2, prm2, chain_a, chain_b) -> jax.Array:
    """Every fused 2-qubit block of a circuit, real (G2, 16, 16) (see `to_real`).

    `starts` marks where each qubit's run of 1-qubit entries begins (entries are sorted by run);
    `chain_a/b` index the last entry of the run that precedes block g on its qubit a/b, or G1 for none.
    """
    runs = chain_products(one_qubit(u1, prm1), starts)
    runs = jnp.concatenate([runs, jnp.eye(4, dtype=runs.dtype)[None]], axis=0)
    return to_real(two_qubit(u2, prm2, runs[chain_a], runs[chain_b]))
