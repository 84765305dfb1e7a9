from __future__ import annotations

from domain import dispatch, intake
from domain import events as ev

from tests.domain.factories import T0, submitted


def _registered(qpu: str = "qpu-a", n: int = 4) -> ev.QpuRegistered:
    return ev.QpuRegistered(event_id=f"reg-{qpu}", aggregate_id=qpu, aggregate_version=0, occurred_at=T0, qpu_id=qpu,
                            num_qubits=n, coupling_map=[(0, 1)], calibration={})


def _done(r: ev.SlotReserved) -> ev.JobCompleted:
    return ev.JobCompleted(event_id=f"done-{r.job_id}", tenant_id=r.tenant_id, aggregate_id=r.job_id, aggregate_version=5,
                           occurred_at=T0, job_id=r.job_id, qpu_id=r.qpu_id, calibration_epoch=r.calibration_epoch)


def test_one_job_at_a_time_in_arrival_order_and_duplicates_ignored():
    s = dispatch.fold(dispatch.new_state("qpu-a"), _registered())
    a, b = intake.accept(submitted("a")), intake.accept(submitted("b"))
    for e in (a, b, a):  # `a` delivered twice
        s = dispatch.fold(s, e)
    assert [q["job_id"] for q in s["queue"]] == ["a", "b"]
    s, r1 = dispatch.next_reservation(s, T0)
    assert r1 is not None and r1.job_id == "a" and r1.slot == 0
    s, none = dispatch.next_reservation(s, T0)
    assert none is None  # busy until `a` finishes
    s = dispatch.fold(s, _done(r1))
    s, r2 = dispatch.next_reservation(s, T0)
    assert r2 is not None and r2.job_id == "b" and r2.slot == 1
    s = dispatch.fold(s, a)  # a late duplicate after it ran is not queued again
    assert s["queue"] == []


def test_no_reservation_while_calibrating_or_drained_and_epoch_is_stamped():
    s = dispatch.fold(dispatch.new_state("qpu-a"), _registered())
    s = dispatch.fold(s, intake.accept(submitted("a")))
    s = dispatch.fold(s, ev.CalibrationStarted(event_id="cs", aggregate_id="qpu-a", aggregate_version=1, occurred_at=T0,
                                               qpu_id="qpu-a", epoch=1, trigger="schedule"))
    assert dispatch.next_reservation(s, T0)[1] is None
    s = dispatch.fold(s, ev.CalibrationCompleted(event_id="cc", aggregate_id="qpu-a", aggregate_version=2, occurred_at=T0,
                                                 qpu_id="qpu-a", epoch=1, snapshot={}))
    s = dispatch.fold(s, ev.QpuDrained(event_id="d", aggregate_id="qpu-a", aggregate_version=3, occurred_at=T0, qpu_id="qpu-a"))
    assert dispatch.next_reservation(s, T0)[1] is None
    s = dispatch.fold(s, ev.QpuResumed(event_id="r", aggregate_id="qpu-a", aggregate_version=4, occurred_at=T0, qpu_id="qpu-a"))
    _, r = dispatch.next_reservation(s, T0)
    assert r is not None and r.calibration_epoch == 1


def test_replay_gives_identical_state():
    evs = [_registered(), intake.accept(submitted("a")), intake.accept(submitted("b"))]

    def run():
        s = dispatch.new_state("qpu-a")
        for e in evs:
            s = dispatch.fold(s, e)
        return dispatch.next_reservation(s, T0)

    assert run() == run()


def test_placement_uses_connected_qubits_with_the_lowest_errors():
    good, bad = {"gate_error_1q": 0.0001, "readout_p1_given_0": 0.001, "readout_p0_given_1": 0.001}, \
        {"gate_error_1q": 0.01, "readout_p1_given_0": 0.05, "readout_p0_given_1": 0.05}
    cal = {"qubits": [bad, bad, good, good, bad]}
    reg = ev.QpuRegistered(event_id="reg", aggregate_id="qpu-a", aggregate_version=0, occurred_at=T0, qpu_id="qpu-a",
                           num_qubits=5, coupling_map=[(0, 1), (1, 2), (2, 3), (3, 4)], calibration=cal)
    s = dispatch.fold(dispatch.new_state("qpu-a"), reg)
    s = dispatch.fold(s, intake.accept(submitted("a", n=2)))
    _, r = dispatch.next_reservation(s, T0)
    assert r is not None and sorted(r.physical_qubits) == [2, 3]
