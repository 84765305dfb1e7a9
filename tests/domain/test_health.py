from __future__ import annotations

from datetime import timedelta

from domain import dispatch, intake
from domain import events as ev
from tests.domain.factories import T0, submitted

QUBIT = {"gate_error_1q": 0.001, "readout_p1_given_0": 0.01, "readout_p0_given_1": 0.01}


def _qpu() -> dict:
    reg = ev.QpuRegistered(event_id="reg", aggregate_id="qpu-a", aggregate_version=0, occurred_at=T0, qpu_id="qpu-a",
                           num_qubits=6, coupling_map=[(i, i + 1) for i in range(5)], calibration={"qubits": [QUBIT] * 6})
    return dispatch.fold(dispatch.new_state("qpu-a"), reg)


def _run(s: dict, job_id: str, tenant: str, at: float, pulse: bool = False) -> tuple[dict, list[ev.Event], ev.SlotReserved]:
    e = submitted(job_id, tenant=tenant, at=T0 + timedelta(seconds=at))
    if pulse:
        e = e.model_copy(update={"pulse_level": True})
    s = dispatch.fold(s, intake.accept(e))
    s, r = dispatch.next_reservation(s, T0 + timedelta(seconds=at))
    assert r is not None and r.job_id == job_id
    done = ev.JobCompleted(event_id=f"c{job_id}", tenant_id=tenant, aggregate_id=job_id, aggregate_version=5,
                           occurred_at=T0 + timedelta(seconds=at + 1), job_id=job_id, qpu_id="qpu-a", calibration_epoch=0)
    s, out = dispatch.on_job_end(s, done)
    return dispatch.fold(s, done), out, r


def test_ordinary_jobs_get_a_health_check_and_no_incident():
    s = _qpu()
    for i in range(4):
        s, out, _ = _run(s, f"j{i}", "acme", 10 * i)
        assert [x.type for x in out] == ["HealthChecked"]
    assert s["quarantined"] == [] and dispatch.health.drift_ratio(s) < 1.5


def test_pulse_level_work_is_detected_throttled_and_others_are_told():
    s = _qpu()
    s, _, victim = _run(s, "v1", "globex", 0)
    s, out, noisy = _run(s, "p1", "mallory", 10, pulse=True)
    types = [x.type for x in out]
    assert types == ["HealthChecked", "NoisyNeighbourDetected"]
    check, incident = out
    hot = {int(q) for q, v in check.qubit_error.items() if v > 1.5 * 0.011}
    assert set(noisy.physical_qubits) <= hot
    assert incident.suspect_tenant_id == "mallory" and incident.action == "throttle"
    assert "globex" in incident.affected_tenants or not set(victim.physical_qubits) & set(incident.qubits)
    # heating raises the measured error far enough that the next boundary calibrates for drift
    s2, started = dispatch.maybe_calibrate(s, T0 + timedelta(seconds=20), interval_s=10_000)
    assert started is not None and started.trigger == "drift"


def test_quarantined_qubits_are_avoided_until_the_next_calibration():
    s = _qpu()
    q = ev.NoisyNeighbourDetected(event_id="n1", aggregate_id="qpu-a", aggregate_version=9, occurred_at=T0,
                                  qpu_id="qpu-a", suspect_tenant_id=None, qubits=[0, 1, 2], action="quarantine")
    s = dispatch.fold(s, q)
    s = dispatch.fold(s, q)  # redelivered: counted once
    s = dispatch.fold(s, intake.accept(submitted("a", n=3)))
    _, r = dispatch.next_reservation(s, T0)
    assert r is not None and not set(r.physical_qubits) & {0, 1, 2}
    s = dispatch.fold(s, ev.CalibrationCompleted(event_id="cc", aggregate_id="qpu-a", aggregate_version=10,
                                                 occurred_at=T0, qpu_id="qpu-a", epoch=1, snapshot={"qubits": [QUBIT] * 6}))
    assert s["quarantined"] == []
