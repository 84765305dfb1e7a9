from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from domain import events as ev
from domain.scheduling import admission as adm
from domain.scheduling.plans import PlanError, plan_from_terms, plan_named
from domain.scheduling.ratelimit import TokenBucket

T = datetime(2026, 3, 31, 23, 0, tzinfo=timezone.utc)
_n = [0]


def base(t, tenant="t1", agg="x"):
    _n[0] += 1
    return dict(event_id=str(_n[0]), tenant_id=tenant, aggregate_id=agg, aggregate_version=0, occurred_at=t)


def state(plan="free", **terms):
    s = adm.apply({}, ev.TenantRegistered(**base(T), name="t1", plan=plan))
    if terms:
        s = adm.apply(s, ev.PlanAssigned(**base(T), plan={"name": plan, **terms}))
    return s


def hold(s, job, shots, secs, t=T):
    return adm.apply(s, ev.QuotaHeld(**base(t), job_id=job, shots=shots, qpu_seconds_estimate=secs))


def test_plan_terms_override_defaults_and_bad_terms_name_the_field():
    p = plan_from_terms({"name": "standard", "weight": 3, "rate_limit": {"burst": 7}})
    assert p.weight == 3 and p.rate_limit.burst == 7 and p.lane == "standard"
    try:
        plan_from_terms({"name": "standard", "weight": -1})
    except PlanError as e:
        assert "weight" in str(e)
    else:
        raise AssertionError("a negative weight must be refused")


def test_shots_quota_rejects_with_limit_and_reset_at_next_utc_midnight():
    s = hold(state("free"), "a", plan_named("free").shots_per_day - 10, 1.0)
    d = adm.admit(s, adm.Request("t1", "b", 11, 0.1), T)
    assert isinstance(d, adm.Rejected) and d.limit == "shots_per_day"
    assert d.resets_at == datetime(2026, 4, 1, tzinfo=timezone.utc)
    assert isinstance(adm.admit(s, adm.Request("t1", "b", 10, 0.1), T), adm.Admitted)


def test_release_on_cancel_frees_the_quota_and_settle_replaces_the_hold():
    s = hold(state("free", shots_per_day=100), "a", 100, 5.0)
    assert adm.admit(s, adm.Request("t1", "b", 1, 0.1), T).limit == "shots_per_day"
    released = adm.apply(s, ev.QuotaReleased(**base(T), job_id="a", reason="cancelled"))
    assert isinstance(adm.admit(released, adm.Request("t1", "b", 100, 0.1), T), adm.Admitted)
    settled = adm.apply(s, ev.QuotaSettled(**base(T), job_id="a", shots=60, qpu_seconds=2.0))
    assert settled["t1"].shots_by_day["2026-03-31"] == 60
    assert settled["t1"].qpu_s_by_month["2026-03"] == 2.0
    # a settlement delivered twice must not count twice
    again = adm.apply(settled, ev.QuotaSettled(**base(T), job_id="a", shots=60, qpu_seconds=2.0))
    assert again["t1"].shots_by_day == settled["t1"].shots_by_day


def test_month_quota_resets_on_the_first_and_hold_stays_in_its_window():
    s = hold(state("free", qpu_seconds_per_month=10.0), "a", 1, 9.5)
    d = adm.admit(s, adm.Request("t1", "b", 1, 1.0), T)
    assert d.limit == "qpu_seconds_per_month" and d.resets_at == datetime(2026, 4, 1, tzinfo=timezone.utc)
    # settled after midnight: still counted in March, so April starts empty
    s2 = adm.apply(s, ev.QuotaSettled(**base(T + timedelta(hours=2)), job_id="a", shots=1, qpu_seconds=9.0))
    assert isinstance(adm.admit(s2, adm.Request("t1", "b", 1, 10.0), T + timedelta(hours=2)), adm.Admitted)


def test_max_queued_counts_only_jobs_not_started():
    s = state("free", max_queued=1)
    s = hold(s, "a", 1, 0.1)
    assert adm.admit(s, adm.Request("t1", "b", 1, 0.1), T).limit == "max_queued"
    s = adm.apply(s, ev.JobStarted(**base(T), job_id="a", qpu_id="q", attempt=1, calibration_epoch=0))
    assert isinstance(adm.admit(s, adm.Request("t1", "b", 1, 0.1), T), adm.Admitted)


def test_rate_limit_says_when_to_retry_and_refills():
    s = state("free", rate_limit={"tokens_per_s": 2.0, "burst": 2})
    for i in range(2):
        assert isinstance(adm.admit(s, adm.Request("t1", f"j{i}", 1, 0.1), T), adm.Admitted)
        s = adm.apply(s, ev.JobSubmitted(**base(T), job_id=f"j{i}", qpu_id="q", circuit_format="json", circuit="[]",
                                         num_qubits=1, num_gates=1, shots=1, seed=0))
    d = adm.admit(s, adm.Request("t1", "j2", 1, 0.1), T)
    assert d.limit == "rate" and abs(d.retry_after_s - 0.5) < 1e-9
    assert isinstance(adm.admit(s, adm.Request("t1", "j2", 1, 0.1), T + timedelta(seconds=0.5)), adm.Admitted)


def test_unknown_tenant_is_rejected_not_crashed():
    assert adm.admit({}, adm.Request("nobody", "j", 1, 1.0), T).limit == "tenant"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["submit", "settle", "release", "start"]),
                          st.integers(1, 400), st.floats(0, 30), st.integers(0, 3 * 86400)), max_size=60))
def test_quotas_are_never_crossed(ops):
    """Whatever arrives, holds plus settlements (settle <= hold) stay within every window's quota."""
    plan = {"shots_per_day": 1000, "qpu_seconds_per_month": 100.0, "max_queued": 10,
            "rate_limit": {"tokens_per_s": 0.01, "burst": 5}}
    s, open_jobs, t, n = state("free", **plan), [], T, 0
    for kind, shots, secs, dt in ops:
        t = t + timedelta(seconds=dt // 50)
        if kind == "submit":
            n += 1
            d = adm.admit(s, adm.Request("t1", f"j{n}", shots, secs), t)
            if isinstance(d, adm.Rejected) and d.limit == "rate":
                continue
            s = adm.apply(s, ev.JobSubmitted(**base(t), job_id=f"j{n}", qpu_id="q", circuit_format="json",
                                             circuit="[]", num_qubits=1, num_gates=1, shots=shots, seed=0))
            if isinstance(d, adm.Admitted):
                s = hold(s, f"j{n}", shots, secs, t)
                open_jobs.append((f"j{n}", shots, secs))
        elif open_jobs:
            job, hs, hq = open_jobs.pop(0)
            if kind == "settle":
                s = adm.apply(s, ev.QuotaSettled(**base(t), job_id=job, shots=hs // 2, qpu_seconds=hq / 2))
            elif kind == "release":
                s = adm.apply(s, ev.QuotaReleased(**base(t), job_id=job, reason="cancelled"))
            else:
                s = adm.apply(s, ev.JobStarted(**base(t), job_id=job, qpu_id="q", attempt=1, calibration_epoch=0))
                open_jobs.append((job, hs, hq))
        a = s["t1"]
        assert all(v <= 1000 for v in a.shots_by_day.values())
        assert all(v <= 100.0 + 1e-6 for v in a.qpu_s_by_month.values())
        assert a.queued <= 10


@given(st.floats(0.1, 50), st.floats(1, 20), st.lists(st.floats(0, 5), max_size=40))
def test_token_bucket_never_allows_more_than_burst_plus_refill(rate, burst, gaps):
    b, t, taken = TokenBucket.full(rate, burst), 0.0, 0
    for g in gaps:
        t += g
        if b.retry_after_s(t) == 0:
            b, taken = b.take(t), taken + 1
    assert taken <= burst + rate * t + 1e-6
