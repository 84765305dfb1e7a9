"""Physics of the device: valid states after every op, closed-form T1/T2 decay, depolarized purity,
agreement with the independent dense reference, jit == eager, seeded determinism."""

from __future__ import annotations

import logging

import jax
import numpy as np
import pytest

import qpu_jax
from qpu_jax.calibration import Calibration, PairCalibration, QubitCalibration
from qpu_jax.kernels import build_ops, compiled
from qpu_jax.lowering import lower
from tests.qpu_jax import reference
from tests.qpu_jax.circuits import random_qasm

HEAD = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'


def ideal_readout(n: int, *, t1=1e9, t2=1e9, e1=0.0, e2=0.0, **kw) -> Calibration:
    q = QubitCalibration(t1_us=t1, t2_us=t2, gate_error_1q=e1, readout_p1_given_0=0.0, readout_p0_given_1=0.0)
    pairs = [PairCalibration(qubits=(i, i + 1), gate_error_2q=e2) for i in range(n - 1)]
    return Calibration(qubits=[q] * n, pairs=pairs, **kw)


def states_after_each_op(circuit, cal, strategy=None):
    low = lower(circuit, cal)
    prog = compiled(low.width, full_state=True, strategy=strategy)
    ops = build_ops(low.u1, low.prm1, low.starts, low.u2, low.prm2, low.chain_a, low.chain_b)
    for k in range(1, low.nops + 1):
        yield np.asarray(prog(ops, low.pairs, np.int32(k)), np.complex128)


@pytest.mark.parametrize("n,strategy", [(3, "gather"), (4, "switch")])
def test_trace_hermiticity_positivity_after_every_op(n, strategy):
    circuit = qpu_jax.parse_qasm(random_qasm(n, 30, seed=n))
    cal = qpu_jax.default_calibration(n, seed=3)
    seen = 0
    for rho in states_after_each_op(circuit, cal, strategy):
        seen += 1
        assert abs(np.trace(rho) - 1) < 1e-5
        assert np.abs(rho - rho.conj().T).max() < 1e-6
        assert np.linalg.eigvalsh((rho + rho.conj().T) / 2).min() > -1e-5
    assert seen > 5


@pytest.mark.parametrize("k", [0, 10, 40])
def test_t1_decay_matches_exp(k):
    t1, dt = 20.0, 0.1
    cal = ideal_readout(1, t1=t1, t2=2 * t1, gate_time_1q_us=dt)
    circuit = qpu_jax.parse_qasm(HEAD + "qreg q[1]; creg c[1];\nx q[0];\n" + "id q[0];\n" * k + "measure q[0] -> c[0];")
    p1 = qpu_jax.run(circuit, cal, shots=1, seed=0).probabilities.get("1", 0.0)
    assert p1 == pytest.approx(np.exp(-(k + 1) * dt / t1), abs=1e-5)


@pytest.mark.parametrize("k", [0, 8, 30])
def test_ramsey_dephasing_matches_exp(k):
    t2, dt = 5.0, 0.1
    cal = ideal_readout(1, t1=1e9, t2=t2, gate_time_1q_us=dt)
    circuit = qpu_jax.parse_qasm(HEAD + "qreg q[1]; creg c[1];\nh q[0];\n" + "id q[0];\n" * k + "h q[0];\nmeasure q[0] -> c[0];")
    p0 = qpu_jax.run(circuit, cal, shots=1, seed=0).probabilities["0"]
    assert p0 == pytest.approx(0.5 * (1 + np.exp(-(k + 1) * dt / t2)), abs=1e-5)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5])
def test_depolarized_state_purity(p):
    cal = ideal_readout(2, e1=p, gate_time_1q_us=0.0)
    circuit = qpu_jax.parse_qasm(HEAD + "qreg q[2]; creg c[2];\nx q[0];\nmeasure q[0] -> c[0];")
    *_, rho = states_after_each_op(circuit, cal)
    expected = (1 - p / 2) ** 2 + (p / 2) ** 2  # eigenvalues 1 - p/2 and p/2 on the gated qubit
    assert np.real(np.trace(rho @ rho)) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("n,seed", [(2, 1), (3, 2), (4, 3), (5, 4), (7, 5)])
def test_agrees_with_dense_reference_on_random_circuits(n, seed):
    circuit = qpu_jax.parse_qasm(random_qasm(n, 25, seed=seed, measure=list(range(n))[::-1][: max(1, n - 1)]))
    cal = qpu_jax.default_calibration(n + 2, seed=seed).model_copy(update={"idle_relaxation": seed % 2 == 1})
    physical = list(range(n + 2))[2:] if n % 2 else None
    crosstalk = {3: 0.01, 4: 0.02} if n >= 3 else None
    ours = qpu_jax.run(circuit, cal, shots=10, seed=0, physical_qubits=physical, crosstalk=crosstalk).probabilities
    ref = reference.probabilities(circuit, cal, physical, crosstalk)
    assert reference.tvd(ours, ref) < 1e-5
    assert abs(sum(ours.values()) - 1) < 1e-9


def test_batched_equals_single_runs():
    circuits = [qpu_jax.parse_qasm(random_qasm(n, 15 + 5 * i, seed=i)) for i, n in enumerate([3, 3, 4, 3, 4])]
    cal = qpu_jax.default_calibration(4)
    batch = qpu_jax.run_batch(circuits, cal, shots=200, seeds=[1, 2, 3, 4, 5])
    for c, r, s in zip(circuits, batch, [1, 2, 3, 4, 5]):
        single = qpu_jax.run(c, cal, shots=200, seed=s)
        assert reference.tvd(single.probabilities, r.probabilities) < 1e-6


def test_jit_and_eager_agree():
    circuit = qpu_jax.parse_qasm(random_qasm(3, 12, seed=11))
    cal = qpu_jax.default_calibration(3)
    jitted = qpu_jax.run(circuit, cal, shots=500, seed=9)
    with jax.disable_jit():
        eager = qpu_jax.run(circuit, cal, shots=500, seed=9)
    assert reference.tvd(jitted.probabilities, eager.probabilities) < 1e-6
    assert jitted.counts == eager.counts


def test_counts_are_determined_by_the_seed():
    circuit = qpu_jax.parse_qasm(random_qasm(4, 20, seed=3))
    cal = qpu_jax.default_calibration(4)
    a, b = (qpu_jax.run(circuit, cal, shots=4000, seed=42) for _ in range(2))
    c = qpu_jax.run(circuit, cal, shots=4000, seed=43)
    assert a.counts == b.counts and sum(a.counts.values()) == 4000
    assert a.counts != c.counts


class _CompileCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "Compiling" in record.getMessage()


def compilations(fn) -> int:
    counter = _CompileCounter()
    logger = logging.getLogger("jax")
    logger.addHandler(counter)
    try:
        with jax.log_compiles():
            fn()
    finally:
        logger.removeHandler(counter)
    return counter.count


def test_new_circuit_in_a_compiled_bucket_does_not_recompile():
    cal = qpu_jax.default_calibration(5)
    first = qpu_jax.parse_qasm(random_qasm(5, 20, seed=100, resets=False))
    second = qpu_jax.parse_qasm(random_qasm(5, 21, seed=101, resets=False))
    assert lower(second, cal).bucket == lower(first, cal).bucket
    assert compilations(lambda: qpu_jax.run(first, cal, shots=1, seed=0)) >= 0
    assert compilations(lambda: qpu_jax.run(second, cal, shots=1, seed=0)) == 0
    wider = qpu_jax.parse_qasm(random_qasm(6, 20, seed=102, resets=False))
    assert compilations(lambda: qpu_jax.run(wider, qpu_jax.default_calibration(6), shots=1, seed=0)) > 0
