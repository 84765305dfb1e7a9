"""Pure jitted kernels: a density matrix evolved by a padded list of 2-qubit superoperators.

Every circuit is lowered to arrays from which `superops.blocks` builds `ops: complex64[L, 16, 16]`
(superoperators on an ordered qubit pair, row-major vec: index (r_a, r_b, c_a, c_b)); with
`pairs: int32[L]` (index into `pair_list(n)`) and `nops` (how many of the L entries are real) they
evolve |0><0|. One compilation per (n, L) bucket serves every circuit
in it: qubit choice is data, not code, so a new circuit never recompiles.

The state is rho in a real basis (see `superops.to_real`): float32[4^n], one axis of 4 per qubit,
so a block is a real (16 x 16) matrix on two axes: a quarter of the complex flops, half the bytes.

Two strategies, both exact:
- `switch` (n > GATHER_MAX_QUBITS): one static branch per pair, each a reshape-transpose that XLA
  turns into large contiguous copies and one (16 x 16) @ (16 x 4^n/16) product;
- `gather` (small n, and the only one that batches): a precomputed index permutation brings the pair's
  two axes to the front, which vmaps cleanly where a switch would run every branch.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from qpu_jax import superops

GATHER_MAX_QUBITS = 6


@functools.lru_cache(maxsize=None)
def pair_list(n: int) -> tuple[tuple[int, int], ...]:
    return tuple(itertools.combinations(range(n), 2))


def _apply_pair_static(x: jax.Array, s: jax.Array, a: int, b: int, n: int) -> jax.Array:
    """x: float32[4^n] (see `superops.to_real`); s: (16, 16) real, acting on qubits a < b."""
    dims = (4**a, 4, 4 ** (b - a - 1), 4, 4 ** (n - b - 1))
    front = jnp.transpose(x.reshape(dims), (1, 3, 0, 2, 4)).reshape(16, -1)
    out = (s @ front).reshape((4, 4, dims[0], dims[2], dims[4]))
    return jnp.transpose(out, (2, 0, 3, 1, 4)).reshape(x.shape)


def _initial(n: int, anchor: jax.Array) -> jax.Array:
    """|0..0><0..0| in the real basis, tied to a runtime value so XLA does not fold a 4^n constant."""
    return (lax.iota(jnp.int32, 4**n) == (anchor * 0).astype(jnp.int32)).astype(jnp.float32)


def _diagonal(x: jax.Array, n: int) -> jax.Array:
    """Populations of every qubit bit pattern: the coordinates (0, 1) = (rho_00, rho_11) of each qubit."""
    return x.reshape((4,) * n)[(slice(0, 2),) * n].reshape(-1)


def density_matrix(x: jax.Array, n: int) -> jax.Array:
    """The real-basis state back to rho, complex (2^n, 2^n)."""
    t = x.reshape((4,) * n).astype(jnp.complex64)
    for q in range(n):
        t = jnp.moveaxis(jnp.tensordot(superops.FROM_REAL, t, axes=([1], [q])), 0, q)
    t = t.reshape((2, 2) * n)  # (r_0, c_0, r_1, c_1, ...)
    return jnp.transpose(t, list(range(0, 2 * n, 2)) + list(range(1, 2 * n, 2))).reshape(2**n, 2**n)


def _finish(x: jax.Array, n: int, full_state: bool) -> jax.Array:
    return density_matrix(x, n) if full_state else _diagonal(x, n)


def _switch_program(n: int, full_state: bool = False):
    branches = [functools.partial(_apply_pair_static, a=a, b=b, n=n) for a, b in pair_list(n)]

    def program(ops: jax.Array, pairs: jax.Array, nops: jax.Array) -> jax.Array:
        def body(i, x):
            return lax.switch(pairs[i], branches, x, ops[i])

        return _finish(lax.fori_loop(0, nops, body, _initial(n, nops)), n, full_state)

    return program


@functools.lru_cache(maxsize=None)
def gather_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    """For each pair: `fwd` lists the state so that the pair's two axes come first; `inv` undoes it."""
    idx = np.arange(4**n, dtype=np.int32).reshape((4,) * n)
    fwd, inv = [], []
    for a, b in pair_list(n):
        perm = [a, b] + [k for k in range(n) if k not in (a, b)]
        f = np.transpose(idx, perm).reshape(-1)
        fwd.append(f)
        inv.append(np.argsort(f).astype(np.int32))
    return np.stack(fwd), np.stack(inv)


def _gather_program(n: int, full_state: bool = False):
    def program(ops, pairs, nops, fwd, inv):
        def body(i, x):
            p = pairs[i]
            return (ops[i] @ x[fwd[p]].reshape(16, -1)).reshape(-1)[inv[p]]

        return _finish(lax.fori_loop(0, nops, body, _initial(n, nops)), n, full_state)

    return program


def _readout(diag: jax.Array, readout: jax.Array) -> jax.Array:
    """Outcome probabilities per qubit bit pattern after readout error; unmeasured qubits read 0."""
    n = readout.shape[0]
    t = jnp.maximum(diag, 0.0).reshape((2,) * n)  # rounding can leave tiny negative populations
    for q in range(n):
        t = jnp.moveaxis(jnp.tensordot(readout[q], t, axes=([1], [q])), 0, q)
    return t.reshape(-1)


def _evolver(n: int, strategy: str, full_state: bool = False):
    """(ops, pairs, nops[, fwd, inv]) -> rho or its diagonal, by the chosen strategy."""
    if strategy == "gather":
        return _gather_program(n, full_state)
    prog = _switch_program(n, full_state)
    return lambda ops, pairs, nops, fwd=None, inv=None: prog(ops, pairs, nops)


def _strategy(n: int, strategy: str | None) -> str:
    return strategy or ("gather" if n <= GATHER_MAX_QUBITS else "switch")


def _with_tables(n: int, strategy: str, jitted, batched: bool):
    if strategy != "gather":
        return jitted
    fwd, inv = (jnp.asarray(t) for t in gather_tables(n))
    return lambda *args: jitted(*args, fwd, inv)


@functools.lru_cache(maxsize=None)
def compiled(n: int, batched: bool = False, full_state: bool = False, strategy: str | None = None):
    """The jitted evolution for width n: (ops, pairs, nops) -> float32[2^n] diagonal of rho.

    `full_state` returns the density matrix instead (for inspection and tests); `strategy` forces
    "gather" or "switch" (default: by width; only "gather" batches).
    """
    strategy = _strategy(n, strategy)
    if batched and strategy != "gather":
        raise ValueError("batched execution uses the gather strategy")
    prog = _evolver(n, strategy, full_state)
    if batched:
        prog = jax.vmap(prog, in_axes=(0, 0, 0, None, None))
    return _with_tables(n, strategy, jax.jit(prog), batched)


build_ops = jax.jit(superops.blocks)


@functools.lru_cache(maxsize=None)
def compiled_run(n: int, batched: bool = False, strategy: str | None = None):
    """The whole run in one program: lowered arrays (see `Lowered.arrays`) -> outcome probabilities.

    Channels are built, fused, applied and read out inside one jitted call, so a run costs one dispatch.
    """
    strategy = _strategy(n, strategy)
    if batched and strategy != "gather":
        raise ValueError("batched execution uses the gather strategy")
    evolve = _evolver(n, strategy)

    def program(u1, prm1, starts, u2, prm2, chain_a, chain_b, pairs, nops, readout, fwd=None, inv=None):
        ops = superops.blocks(u1, prm1, starts, u2, prm2, chain_a, chain_b)
        return _readout(evolve(ops, pairs, nops, fwd, inv), readout)

    if batched:
        # one trip count for the whole batch (the largest): blocks past a circuit's own count are identities,
        # and a shared count keeps the loop from selecting between finished and running circuits
        program = jax.vmap(program, in_axes=(0,) * 8 + (None, 0, None, None))
    return _with_tables(n, strategy, jax.jit(program), batched)
