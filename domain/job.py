"""The Job aggregate: one quantum job's lifecycle, with guards on every transition.

The aggregate is an `eventsourcing` Aggregate. Kafka is the event store, so the aggregate is
rebuilt from the pydantic events of `domain.events` through `JobMapper.apply` (the mapper between
the wire events and the aggregate's own methods); guards raise `InvalidTransition` before
anything is recorded, so an out-of-order or duplicated delivery can be recognised and dropped.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from eventsourcing.domain import Aggregate, event

from domain import events as ev

QUEUED, RESERVED, RUNNING, MEASURED = "queued", "reserved", "running", "measured"
COMPLETED, FAILED, REJECTED, CANCELLED = "completed", "failed", "rejected", "cancelled"
SUBMITTED = "submitted"
TERMINAL = frozenset({COMPLETED, FAILED, REJECTED, CANCELLED})


class JobError(Exception):
    """Base of the job aggregate's domain errors."""


class InvalidTransition(JobError):
    def __init__(self, job_id: str, status: str, action: str):
        super().__init__(f"job {job_id} is {status}; cannot {action}")
        self.job_id, self.status, self.action = job_id, status, action


_NS = uuid.UUID("0d8e4f0a-3a57-4f7e-8a63-3b8c9e9f4a11")


class Job(Aggregate):
    @classmethod
    def create_id(cls, job_id: str, **_: object) -> uuid.UUID:
        return uuid.uuid5(_NS, job_id)

    @event("Submitted")
    def __init__(self, job_id: str, tenant_id: str, qpu_id: str, shots: int, submitted_at: datetime):
        self.job_id, self.tenant_id, self.qpu_id = job_id, tenant_id, qpu_id
        self.shots = shots
        self.submitted_at = submitted_at
        self.status = SUBMITTED
        self.attempts = 0
        self.calibration_epoch: int | None = None
        self.counts: dict[str, int] | None = None
        self.reason: str | None = None

    def _guard(self, allowed: set[str], action: str) -> None:
        if self.status not in allowed:
            raise InvalidTransition(self.job_id, self.status, action)

    def accept(self) -> None:
        self._guard({SUBMITTED}, "accept")
        self._accepted()

    @event("Accepted")
    def _accepted(self) -> None:
        self.status = QUEUED

    def reject(self, reason: str) -> None:
        self._guard({SUBMITTED}, "reject")
        self._rejected(reason)

    @event("Rejected")
    def _rejected(self, reason: str) -> None:
        self.status, self.reason = REJECTED, reason

    def reserve(self, epoch: int) -> None:
        self._guard({QUEUED}, "reserve a slot")
        self._reserved(epoch)

    @event("Reserved")
    def _reserved(self, epoch: int) -> None:
        self.status, self.calibration_epoch = RESERVED, epoch

    def start(self, attempt: int) -> None:
        self._guard({RESERVED, RUNNING}, "start")
        if attempt <= self.attempts:
            raise InvalidTransition(self.job_id, f"{self.status} (attempt {self.attempts})", f"start attempt {attempt}")
        self._started(attempt)

    @event("Started")
    def _started(self, attempt: int) -> None:
        self.status, self.attempts = RUNNING, attempt

    def abort(self, will_retry: bool) -> None:
        """A hardware abort: back to reserved for a retry, or failed (never billed either way)."""
        self._guard({RUNNING}, "abort")
        self._aborted(will_retry)

    @event("Aborted")
    def _aborted(self, will_retry: bool) -> None:
        self.status = RESERVED if will_retry else FAILED

    def measure(self, counts: dict[str, int]) -> None:
        self._guard({RUNNING}, "record measurements")
        self._measured(counts)

    @event("Measured")
    def _measured(self, counts: dict[str, int]) -> None:
        self.status, self.counts = MEASURED, dict(counts)

    def complete(self) -> None:
        self._guard({MEASURED}, "complete")
        self._completed()

    @event("Completed")
    def _completed(self) -> None:
        self.status = COMPLETED

    def fail(self, reason: str) -> None:
        self._guard({QUEUED, RESERVED, RUNNING, MEASURED}, "fail")
        self._failed(reason)

    @event("Failed")
    def _failed(self, reason: str) -> None:
        self.status, self.reason = FAILED, reason

    def cancel(self) -> None:
        self._guard({SUBMITTED, QUEUED, RESERVED, RUNNING}, "cancel")
        self._cancelled()

    @event("Cancelled")
    def _cancelled(self) -> None:
        self.status = CANCELLED

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


class JobMapper:
    """Maps wire events (domain.events) onto the aggregate's methods."""

    @staticmethod
    def create(e: ev.JobSubmitted) -> Job:
        return Job(job_id=e.job_id, tenant_id=e.tenant_id, qpu_id=e.qpu_id, shots=e.shots,
                   submitted_at=e.occurred_at)

    @staticmethod
    def apply(job: Job, e: ev.Event) -> None:
        match e:
            case ev.JobAccepted():
                job.accept()
            case ev.JobRejected(reason=reason):
                job.reject(reason)
            case ev.SlotReserved(calibration_epoch=epoch):
                job.reserve(epoch)
            case ev.JobStarted(attempt=attempt):
                job.start(attempt)
            case ev.JobAborted(will_retry=retry):
                job.abort(retry)
            case ev.ShotsMeasured(counts=counts):
                job.measure(counts)
            case ev.JobCompleted():
                job.complete()
            case ev.JobFailed(reason=reason):
                job.fail(reason)
            case ev.JobCancelled():
                job.cancel()
            case _:
                raise JobError(f"{e.type} is not a job event")
