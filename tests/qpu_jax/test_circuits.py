"""Circuits in: OpenQASM 2 (all of qelib1.inc), the JSON gate list, and the errors users see."""

from __future__ import annotations

import json

import pytest

import qpu_jax
from tests.qpu_jax import reference

HEAD = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
QELIB1 = """qreg q[5]; creg c[5];
u3(0.1,0.2,0.3) q[0]; u2(0.1,0.2) q[1]; u1(0.3) q[2]; U(0.1,0.2,0.3) q[3]; CX q[0],q[1]; cx q[1],q[2];
id q[0]; u0(1) q[0]; u(0.1,0.2,0.3) q[4]; p(0.4) q[4]; x q[0]; y q[1]; z q[2]; h q[3]; s q[4]; sdg q[0];
t q[1]; tdg q[2]; rx(0.5) q[3]; ry(0.6) q[4]; rz(0.7) q[0]; sx q[1]; sxdg q[2]; swap q[0],q[1];
cswap q[0],q[1],q[2]; cz q[0],q[1]; cy q[1],q[2]; ch q[2],q[3]; csx q[3],q[4]; ccx q[0],q[1],q[2];
crx(0.1) q[0],q[1]; cry(0.2) q[1],q[2]; crz(0.3) q[2],q[3]; cu1(0.4) q[3],q[4]; cp(0.5) q[0],q[4];
cu3(0.1,0.2,0.3) q[1],q[3]; cu(0.1,0.2,0.3,0.4) q[0],q[2]; rxx(0.3) q[0],q[1]; rzz(0.4) q[1],q[2];
rccx q[0],q[1],q[2]; rc3x q[0],q[1],q[2],q[3]; c3x q[0],q[1],q[2],q[3]; c3sqrtx q[0],q[1],q[2],q[3];
c4x q[0],q[1],q[2],q[3],q[4]; barrier q; reset q[2];
measure q -> c;
"""


def test_every_qelib1_gate_runs_and_lowers_to_one_and_two_qubit_gates():
    circuit = qpu_jax.parse_qasm(HEAD + QELIB1)
    assert circuit.num_qubits == 5 and circuit.num_clbits == 5
    assert all(len(g.qubits) <= 2 for g in circuit.gates)
    result = qpu_jax.run(circuit, qpu_jax.default_calibration(5), shots=100, seed=1)
    assert abs(sum(result.probabilities.values()) - 1) < 1e-9 and sum(result.counts.values()) == 100


def test_bit_order_follows_qiskit_clbit_zero_rightmost():
    cal = qpu_jax.default_calibration(3).model_copy(update={"qubits": [
        q.model_copy(update={"readout_p1_given_0": 0.0, "readout_p0_given_1": 0.0, "gate_error_1q": 0.0,
                             "t1_us": 1e9, "t2_us": 1e9}) for q in qpu_jax.default_calibration(3).qubits]})
    circuit = qpu_jax.parse_qasm(HEAD + "qreg q[3]; creg a[2]; creg b[2];\nx q[0];\nmeasure q[0] -> a[0];"
                                        "\nmeasure q[1] -> b[1];\nmeasure q[2] -> a[1];")
    result = qpu_jax.run(circuit, cal, shots=10, seed=0)
    assert result.probabilities["0001"] == pytest.approx(1.0, abs=1e-6) and result.counts == {"0001": 10}


def test_mid_circuit_measurement_is_refused_with_its_line():
    src = HEAD + "qreg q[2];\ncreg c[2];\nmeasure q[0] -> c[0];\n// a comment\nh q[1];\nx q[0];\nmeasure q[1] -> c[1];"
    with pytest.raises(qpu_jax.CircuitError, match=r"line 8: mid-circuit measurement"):
        qpu_jax.parse_qasm(src)


def test_classical_control_is_refused_with_its_line():
    src = HEAD + "qreg q[2];\ncreg c[2];\nh q[0];\nif (c==1) x q[1];\nmeasure q -> c;"
    with pytest.raises(qpu_jax.CircuitError, match=r"line 6: classical control"):
        qpu_jax.parse_qasm(src)


def test_syntax_errors_name_line_and_column():
    with pytest.raises(qpu_jax.CircuitError, match=r"line 4, column 1: 'foo' is not defined"):
        qpu_jax.parse_qasm(HEAD + "qreg q[2];\nfoo q[0];")


def test_too_wide_circuits_are_refused_with_the_limit():
    with pytest.raises(qpu_jax.CircuitError, match=f"at most {qpu_jax.MAX_QUBITS}"):
        qpu_jax.parse_qasm(HEAD + f"qreg q[{qpu_jax.MAX_QUBITS + 1}];\nh q[0];")


def test_json_gate_list_is_the_same_circuit_as_its_qasm():
    gates = [{"name": "h", "qubits": [0]}, {"name": "cx", "qubits": [0, 1]},
             {"name": "rz", "qubits": [1], "params": ["pi/4"]}, {"name": "u3", "qubits": [0], "params": [0.1, 0.2, 0.3]},
             {"name": "measure", "qubits": [0, 1], "clbits": [1, 0]}]
    from_json = qpu_jax.parse_json_circuit(json.dumps({"num_qubits": 2, "gates": gates}))
    from_qasm = qpu_jax.parse_qasm(HEAD + "qreg q[2]; creg c[2];\nh q[0]; cx q[0],q[1]; rz(pi/4) q[1];"
                                          "u3(0.1,0.2,0.3) q[0];\nmeasure q[0] -> c[1]; measure q[1] -> c[0];")
    cal = qpu_jax.default_calibration(2)
    a = qpu_jax.run(from_json, cal, shots=50, seed=5)
    b = qpu_jax.run(from_qasm, cal, shots=50, seed=5)
    assert reference.tvd(a.probabilities, b.probabilities) < 1e-9 and a.counts == b.counts
    assert qpu_jax.parse_json_circuit(gates).num_qubits == 2


@pytest.mark.parametrize("bad,msg", [
    ([{"name": "h", "qubits": [0]}, {"name": "nope", "qubits": [0]}], r"gates\[1\]: 'nope' is not defined"),
    ([{"name": "rz", "qubits": [0], "params": ["1); x q[0"]}], r"gates\[0\]: parameter"),
    ([{"name": "h", "qubits": [-1]}], r"gates\[0\]: 'qubits'"),
    ([{"name": "measure", "qubits": [0], "clbits": [0]}, {"name": "x", "qubits": [0]}], "mid-circuit"),
    ({"gates": [], "shots": 3}, "unknown keys"),
    ("{not json", "not valid JSON"),
])
def test_json_errors_name_the_entry(bad, msg):
    with pytest.raises(qpu_jax.CircuitError, match=msg):
        qpu_jax.parse_json_circuit(bad)


def test_duration_is_the_critical_path():
    cal = qpu_jax.default_calibration(3)
    circuit = qpu_jax.parse_qasm(HEAD + "qreg q[3];\nh q[0]; h q[1]; h q[2]; cx q[0],q[1]; x q[2]; cx q[1],q[2];")
    assert circuit.duration_us(cal) == pytest.approx(cal.gate_time_1q_us + 2 * cal.gate_time_2q_us)
    r = qpu_jax.run(circuit, cal, shots=1000, seed=0)
    per_shot = circuit.duration_us(cal) + cal.readout_time_us + cal.reset_time_us
    assert r.qpu_seconds == pytest.approx(1000 * per_shot * 1e-6)
