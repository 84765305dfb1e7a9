from __future__ import annotations

import pytest

from domain import events as ev
from domain import intake
from domain.job import COMPLETED, FAILED, InvalidTransition, JobMapper

from tests.domain.factories import T0, submitted


def _base(e: ev.JobSubmitted) -> dict:
    return dict(tenant_id=e.tenant_id, aggregate_id=e.job_id, job_id=e.job_id, qpu_id=e.qpu_id, occurred_at=T0)


def test_happy_path_reaches_completed_and_rebuilds_from_recorded_events():
    sub = submitted()
    job = JobMapper.create(sub)
    b = _base(sub)
    for e in (
        intake.accept(sub),
        ev.SlotReserved(event_id="r", aggregate_version=2, slot=0, physical_qubits=[0, 1], calibration_epoch=3, queue_wait_s=0.1, **b),
        ev.JobStarted(event_id="s", aggregate_version=3, attempt=1, calibration_epoch=3, **b),
        ev.ShotsMeasured(event_id="m", aggregate_version=4, shots=100, counts={"00": 60, "11": 40}, qpu_seconds=0.01,
                         calibration_epoch=3, compute_seconds=0.001, **b),
        ev.JobCompleted(event_id="c", aggregate_version=5, calibration_epoch=3, **b),
    ):
        JobMapper.apply(job, e)
    assert job.status == COMPLETED and job.calibration_epoch == 3 and job.counts == {"00": 60, "11": 40}
    recorded = job.collect_events()
    rebuilt = None
    for de in recorded:
        rebuilt = de.mutate(rebuilt)
    assert rebuilt.status == COMPLETED and rebuilt.version == job.version == len(recorded)


def test_out_of_order_and_duplicate_facts_are_refused_before_recording():
    sub = submitted()
    job = JobMapper.create(sub)
    b = _base(sub)
    done = ev.JobCompleted(event_id="c", aggregate_version=5, calibration_epoch=0, **b)
    with pytest.raises(InvalidTransition, match="cannot complete"):
        JobMapper.apply(job, done)
    JobMapper.apply(job, intake.accept(sub))
    with pytest.raises(InvalidTransition):
        JobMapper.apply(job, intake.accept(sub))
    assert job.version == 2  # nothing recorded for the refused facts


def test_abort_without_retry_fails_and_a_terminal_job_cannot_restart():
    sub = submitted()
    job = JobMapper.create(sub)
    b = _base(sub)
    JobMapper.apply(job, intake.accept(sub))
    JobMapper.apply(job, ev.SlotReserved(event_id="r", aggregate_version=2, slot=0, physical_qubits=[0], calibration_epoch=0, queue_wait_s=0, **b))
    JobMapper.apply(job, ev.JobStarted(event_id="s", aggregate_version=3, attempt=1, calibration_epoch=0, **b))
    JobMapper.apply(job, ev.JobAborted(event_id="a", aggregate_version=4, attempt=1, reason="hw", will_retry=False, **b))
    assert job.status == FAILED
    with pytest.raises(InvalidTransition):
        JobMapper.apply(job, ev.JobStarted(event_id="s2", aggregate_version=5, attempt=2, calibration_epoch=0, **b))
