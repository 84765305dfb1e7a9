from __future__ import annotations

from datetime import timedelta

from domain import events as ev
from domain import intake
from domain.scheduling import admission
from domain.standing import Standing
from tests.domain.factories import T0, submitted


def _at(s: float):
    return T0 + timedelta(seconds=s)


def _job_events(job_id: str, tenant: str, start: float, took: float):
    b = dict(tenant_id=tenant, aggregate_id=job_id, job_id=job_id, qpu_id="qpu-a")
    yield ev.SlotReserved(event_id=f"r{job_id}", aggregate_version=2, occurred_at=_at(start), slot=0, physical_qubits=[0],
                          calibration_epoch=0, queue_wait_s=0, **b)
    yield ev.JobStarted(event_id=f"s{job_id}", aggregate_version=3, occurred_at=_at(start), attempt=1, calibration_epoch=0, **b)
    yield ev.JobCompleted(event_id=f"c{job_id}", aggregate_version=5, occurred_at=_at(start + took), calibration_epoch=0, **b)


def test_queue_position_eta_and_explanation_from_the_mirrored_scheduler_state():
    st = Standing()
    st.apply(ev.QpuRegistered(event_id="q", aggregate_id="qpu-a", aggregate_version=0, occurred_at=T0, qpu_id="qpu-a",
                              num_qubits=4, coupling_map=[(0, 1)], calibration={}))
    for i, took in enumerate((2.0, 4.0, 3.0)):  # three jobs already served: the ETA is fitted on them
        for e in _job_events(f"old{i}", "acme", 10.0 * i, took):
            st.apply(e)
    queued = [intake.accept(submitted(f"j{i}", tenant="acme" if i % 2 else "globex", at=_at(40 + i))) for i in range(5)]
    for e in queued:
        st.apply(e)
        st.apply(e)  # duplicates change nothing
    last = queued[-1]
    x = st.explain("qpu-a", last.job_id, _at(50).timestamp())
    assert x is not None and x.tenant_id == last.tenant_id
    assert 0 <= x.position < 5 and sum(x.reasons.values()) == x.position
    if x.position:
        assert x.eta_low_s <= x.eta_s <= x.eta_high_s and x.eta_s > 0
    assert "Position" in x.text
    # once reserved it is no longer queued, so there is nothing to explain
    for e in _job_events(last.job_id, last.tenant_id, 60, 1):
        st.apply(e)
    assert st.explain("qpu-a", last.job_id, _at(70).timestamp()) is None


def test_holds_taken_at_the_gateway_are_not_counted_twice_when_the_agent_records_them():
    st = Standing()
    st.apply(ev.TenantRegistered(event_id="t", tenant_id="acme", aggregate_id="acme", aggregate_version=0, occurred_at=T0,
                                 name="acme", plan="free"))
    e = submitted("j1", shots=60_000)
    st.apply(e)
    st.apply(intake.quota_held(e))
    st.apply(intake.quota_held(e))  # the agent's copy of the same hold
    day = admission.day_key(T0)
    assert st.accounts["acme"].shots_by_day[day] == 60_000
    d = admission.admit(st.accounts, admission.Request("acme", "j2", 50_000, 0.1), _at(5))
    assert isinstance(d, admission.Rejected) and d.limit == "shots_per_day"
