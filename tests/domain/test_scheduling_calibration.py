from datetime import datetime, timezone

from domain import events as ev
from domain.scheduling import aborts, calibration as cal
from domain.scheduling.neighbours import RecentJob, detect
from domain.scheduling.placement import Device

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
Q = "q0"
_n = [0]


def base(t, agg=Q, tenant=None):
    _n[0] += 1
    return dict(event_id=str(_n[0]), tenant_id=tenant, aggregate_id=agg, aggregate_version=0,
                occurred_at=datetime.fromtimestamp(T0 + t, tz=timezone.utc))


def calibrated(t=0.0, epoch=0):
    snap = {"qubit_error": {"0": 0.01, "1": 0.01}}
    return cal.apply(cal.CalState(Q), ev.CalibrationCompleted(**base(t), qpu_id=Q, epoch=epoch, snapshot=snap))


def test_drift_is_deterministic_and_grows_with_time_and_load():
    base_err = {0: 0.01, 1: 0.02}
    a = cal.drifted_errors(base_err, 3600, 0, seed=1, epoch=2)
    assert a == cal.drifted_errors(base_err, 3600, 0, seed=1, epoch=2)
    assert a != cal.drifted_errors(base_err, 3600, 0, seed=2, epoch=2)
    later, loaded = cal.drifted_errors(base_err, 7200, 0, 1, 2), cal.drifted_errors(base_err, 3600, 3600, 1, 2)
    assert all(later[q] > a[q] and loaded[q] > a[q] > base_err[q] for q in base_err)


def test_scheduled_calibration_waits_for_the_running_job_boundary():
    p = cal.CalParams(interval_s=100.0)
    s = calibrated()
    s = cal.apply(s, ev.SlotReserved(**base(50, "j", "t"), job_id="j", qpu_id=Q, slot=0, physical_qubits=[0],
                                     calibration_epoch=0, queue_wait_s=0))
    d = cal.decide(s, T0 + 150, p)
    assert d.action == "hold" and d.trigger == "schedule"
    assert not cal.in_service(s, T0 + 150, p)  # no new job may start while a calibration waits
    s = cal.apply(s, ev.JobCompleted(**base(160, "j", "t"), job_id="j", qpu_id=Q, calibration_epoch=0))
    assert cal.decide(s, T0 + 160, p).action == "start"


def test_drift_threshold_triggers_from_health_checks():
    s = cal.apply(calibrated(), ev.HealthChecked(**base(10), qpu_id=Q, calibration_epoch=0,
                                                 qubit_error={"0": 0.02, "1": 0.02}))
    d = cal.decide(s, T0 + 10)
    assert d.action == "start" and d.trigger == "drift"
    stale = cal.apply(calibrated(), ev.HealthChecked(**base(10), qpu_id=Q, calibration_epoch=7, qubit_error={"0": 1.0}))
    assert cal.decide(stale, T0 + 10).action == "none"  # a check from another epoch is ignored


def test_failed_calibration_keeps_the_qpu_out_until_a_retry_succeeds():
    p = cal.CalParams(retry_base_s=100.0)
    s = cal.apply(calibrated(), ev.CalibrationStarted(**base(10), qpu_id=Q, epoch=1, trigger="schedule"))
    assert not cal.in_service(s, T0 + 10, p)
    s = cal.apply(s, ev.CalibrationFailed(**base(20), qpu_id=Q, epoch=1, reason="x"))
    assert not cal.in_service(s, T0 + 50, p) and cal.decide(s, T0 + 50, p).action == "none"
    assert cal.decide(s, T0 + 120, p).trigger == "retry"
    s = cal.apply(s, ev.CalibrationFailed(**base(130), qpu_id=Q, epoch=1, reason="x"))
    assert cal.decide(s, T0 + 250, p).action == "none" and cal.decide(s, T0 + 330, p).action == "start"
    s = cal.apply(s, ev.CalibrationCompleted(**base(400), qpu_id=Q, epoch=1, snapshot={}))
    assert cal.in_service(s, T0 + 400, p) and s.epoch == 1 and s.failures == 0


def test_max_calibration_age_filters_stale_qpus():
    s = calibrated(t=0.0)
    assert cal.fresh_enough(s, T0 + 50, 100.0) and not cal.fresh_enough(s, T0 + 150, 100.0)
    assert cal.fresh_enough(s, T0 + 10**6, None)


def test_abort_retries_back_off_then_give_up_and_aborted_attempts_are_not_billed():
    p = aborts.AbortPolicy(max_attempts=3, base_delay_s=5, factor=2)
    assert aborts.on_abort(1, p) == aborts.Retry(2, 5.0)
    assert aborts.on_abort(2, p) == aborts.Retry(3, 10.0)
    assert isinstance(aborts.on_abort(3, p), aborts.GiveUp)
    kw = dict(tenant_id="t", job_id="j", qpu_id=Q)
    log = [ev.JobStarted(**base(0, "j", "t"), **{k: v for k, v in kw.items() if k != "tenant_id"}, attempt=1, calibration_epoch=0),
           ev.ShotsMeasured(**base(1, "j", "t"), job_id="j", qpu_id=Q, shots=100, counts={}, qpu_seconds=1.0,
                            calibration_epoch=0, compute_seconds=0),
           ev.JobAborted(**base(2, "j", "t"), job_id="j", qpu_id=Q, attempt=1, reason="x", will_retry=True),
           ev.JobStarted(**base(3, "j", "t"), job_id="j", qpu_id=Q, attempt=2, calibration_epoch=0),
           ev.ShotsMeasured(**base(4, "j", "t"), job_id="j", qpu_id=Q, shots=100, counts={}, qpu_seconds=1.5,
                            calibration_epoch=0, compute_seconds=0)]
    b = aborts.billable(log)
    assert (b.shots, b.qpu_seconds, b.aborted_attempts) == (100, 1.5, 1)
    assert aborts.injected_abort(1, "j", 1, 0.5) == aborts.injected_abort(1, "j", 1, 0.5)


def test_noisy_neighbour_with_pulse_declaration_is_throttled_and_victims_notified():
    adj = Device.grid(4, 5).adjacency
    cal_err = {q: 0.01 for q in range(20)}
    measured = {**cal_err, 2: 0.05}
    recent = [RecentJob("a", "loud", (1,), True, 0.02, ("quiet",)), RecentJob("b", "quiet", (3, 4), False, 0.05, ("loud",))]
    inc = detect(measured, cal_err, recent, adj)
    assert inc.action == "throttle" and inc.suspect_tenant_id == "loud" and inc.affected_tenants == ("quiet",)


def test_elevated_qubits_without_a_culprit_are_quarantined_and_calm_is_none():
    adj = Device.grid(4, 5).adjacency
    cal_err = {q: 0.01 for q in range(20)}
    assert detect(cal_err, cal_err, [], adj) is None
    inc = detect({**cal_err, 7: 0.1}, cal_err, [RecentJob("a", "x", (7,), False, 0.1, ())], adj)
    assert inc.action == "quarantine" and inc.qubits == (7,) and inc.affected_tenants == ("x",)


def test_co_tenant_comparison_finds_the_harmful_tenant_without_health_signal():
    adj = Device.grid(4, 5).adjacency
    cal_err = {q: 0.01 for q in range(20)}
    recent = [RecentJob(f"w{i}", "v", (10,), False, 0.05, ("noisy",)) for i in range(4)]
    recent += [RecentJob(f"o{i}", "v", (10,), False, 0.01, ()) for i in range(4)]
    recent += [RecentJob(f"n{i}", "noisy", (0,), False, 0.01, ("v",)) for i in range(4)]
    inc = detect(cal_err, cal_err, recent, adj)
    assert inc.suspect_tenant_id == "noisy" and inc.action == "throttle" and "v" in inc.affected_tenants
