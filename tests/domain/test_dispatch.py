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


def _line(n: int = 12) -> dict:
    reg = ev.QpuRegistered(event_id="reg", aggregate_id="qpu-a", aggregate_version=0, occurred_at=T0, qpu_id="qpu-a",
                           num_qubits=n, coupling_map=[(i, i + 1) for i in range(n - 1)], calibration={})
    return dispatch.fold(dispatch.new_state("qpu-a"), reg)


def _accept(job_id: str, tenant: str, n: int, share: bool) -> ev.JobAccepted:
    return intake.accept(submitted(job_id, tenant=tenant, n=n).model_copy(update={"coschedule": share}))


def test_small_jobs_that_may_share_run_side_by_side_with_a_buffer_and_crosstalk():
    s = _line()
    for jid, tenant in (("a", "acme"), ("b", "globex"), ("c", "initech")):
        s = dispatch.fold(s, _accept(jid, tenant, 2, True))
    s, rs = dispatch.reserve_all(s, T0)
    assert len(rs) >= 2 and all(r.shared for r in rs)
    used = [set(r.physical_qubits) for r in rs]
    for i, u in enumerate(used):
        for v in used[i + 1:]:
            assert not u & v and all(abs(x - y) > 1 for x in u for y in v)  # disjoint, one-qubit buffer
    assert any(r.crosstalk for r in rs[1:])  # later jobs see their neighbours' crosstalk
    assert set(s["active"]) == {r.job_id for r in rs}


def test_a_job_that_may_not_share_runs_alone_and_a_due_calibration_waits_for_the_boundary():
    s = _line()
    s = dispatch.fold(s, _accept("solo", "acme", 2, False))
    s = dispatch.fold(s, _accept("small", "globex", 2, True))
    s, rs = dispatch.reserve_all(s, T0)
    assert [r.job_id for r in rs] == ["solo"] and not rs[0].shared  # the small job does not join it
    # a calibration falls due while the job runs: nothing new starts, and it begins at the boundary
    later = T0.replace(hour=T0.hour + 1)
    s, rs2 = dispatch.reserve_all(s, later, interval_s=60)
    assert rs2 == []
    s, started = dispatch.maybe_calibrate(s, later, 60)
    assert started is None  # a job still holds qubits
    s = dispatch.fold(s, _done(rs[0]))
    s, started = dispatch.maybe_calibrate(s, later, 60)
    assert started is not None and started.trigger == "schedule"
    s, rs3 = dispatch.reserve_all(s, later, interval_s=60)
    assert rs3 == []  # calibrating
