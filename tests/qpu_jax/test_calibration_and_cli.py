"""The calibration snapshot (schema, drift, placement) and the `device run` command."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

import qpu_jax
from qpu_jax import cli
from tests.qpu_jax import reference

GHZ = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3]; creg c[3];\nh q[0]; cx q[0],q[1]; cx q[1],q[2];\nmeasure q -> c;\n'


def test_snapshot_round_trips_through_json():
    cal = qpu_jax.default_calibration(4, [(0, 1), (1, 2), (2, 3), (3, 0)], seed=2)
    again = qpu_jax.Calibration.model_validate(json.loads(json.dumps(cal.model_dump(mode="json"))))
    assert again == cal and again.coupling_map == [(0, 1), (1, 2), (2, 3), (3, 0)]


def test_t2_above_twice_t1_is_rejected():
    with pytest.raises(ValidationError, match="t2_us"):
        qpu_jax.QubitCalibration(t1_us=10, t2_us=25, gate_error_1q=0, readout_p1_given_0=0, readout_p0_given_1=0)


def test_drift_is_deterministic_and_worsens_results_with_age():
    cal = qpu_jax.default_calibration(3).model_copy(update={"drift": qpu_jax.Drift(per_hour=0.5, seed=4)})
    circuit = qpu_jax.parse_qasm(GHZ)
    fresh, old, old_again = (qpu_jax.run(circuit, cal, shots=1, seed=0, calibration_age_s=a).probabilities
                             for a in (0.0, 7200.0, 7200.0))
    assert old == old_again
    assert fresh["000"] + fresh["111"] > old["000"] + old["111"]
    assert cal.drifted(3600).qubits[0].gate_error_1q > cal.qubits[0].gate_error_1q


def test_placement_uses_the_physical_qubits_calibration():
    cal = qpu_jax.default_calibration(6, seed=1)
    worse = cal.model_copy(update={"qubits": cal.qubits[:3] + [q.model_copy(update={"readout_p1_given_0": 0.2})
                                                                for q in cal.qubits[3:]]})
    circuit = qpu_jax.parse_qasm(GHZ)
    on_good = qpu_jax.run(circuit, worse, shots=1, seed=0, physical_qubits=[0, 1, 2]).probabilities
    on_bad = qpu_jax.run(circuit, worse, shots=1, seed=0, physical_qubits=[3, 4, 5]).probabilities
    assert on_bad["000"] < on_good["000"] - 0.1
    assert reference.tvd(on_bad, reference.probabilities(circuit, worse, [3, 4, 5])) < 1e-5
    with pytest.raises(qpu_jax.CircuitError, match="physical_qubits"):
        qpu_jax.run(circuit, worse, shots=1, seed=0, physical_qubits=[0, 0, 1])


@pytest.mark.parametrize("kwargs,msg", [(dict(shots=0, seed=1), "shots"), (dict(shots=5, seed=-1), "seed"),
                                        (dict(shots=5, seed=1, crosstalk={0: 2.0}), "crosstalk")])
def test_bad_arguments_are_named(kwargs, msg):
    with pytest.raises(qpu_jax.CircuitError, match=msg):
        qpu_jax.run(qpu_jax.parse_qasm(GHZ), qpu_jax.default_calibration(3), **kwargs)


def test_cli_prints_json_with_default_calibration(tmp_path, capsys):
    f = tmp_path / "ghz.qasm"
    f.write_text(GHZ)
    assert cli.main(["device", "run", str(f), "--shots", "300", "--seed", "7", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"probabilities", "counts", "qubits", "seconds"} and out["qubits"] == 3
    assert sum(out["counts"].values()) == 300
    expected = qpu_jax.run(qpu_jax.parse_qasm(GHZ), qpu_jax.default_calibration(3), shots=300, seed=7)
    assert out["counts"] == expected.counts


def test_cli_reads_a_calibration_file(tmp_path, capsys):
    f, c = tmp_path / "ghz.qasm", tmp_path / "cal.json"
    f.write_text(GHZ)
    c.write_text(json.dumps(qpu_jax.default_calibration(5, seed=9).model_dump(mode="json")))
    assert cli.main(["device", "run", str(f), "--calibration", str(c), "--shots", "10", "--json",
                     "--physical-qubits", "2,3,4"]) == 0
    assert json.loads(capsys.readouterr().out)["qubits"] == 3


@pytest.mark.parametrize("content,cal,msg", [
    ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1]; creg c[1];\nmeasure q[0] -> c[0];\nx q[0];\n', None, "line 5"),
    (GHZ, '{"qubits": []}', "calibration"),
    (GHZ, "{", "calibration"),
])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, content, cal, msg):
    f = tmp_path / "c.qasm"
    f.write_text(content)
    args = ["device", "run", str(f)]
    if cal is not None:
        (tmp_path / "cal.json").write_text(cal)
        args += ["--calibration", str(tmp_path / "cal.json")]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert msg in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
