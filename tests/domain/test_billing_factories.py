"""Builders of job and price-book facts for the billing tests (no tests here)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from domain import events as ev

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
BOOK_T = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def price_book(version: int = 1, effective_from: datetime = BOOK_T, per_shot: int = 10, per_second: int = 1_000_000,
               per_job: int = 5_000, lanes: dict[str, int] | None = None,
               published: datetime | None = None) -> ev.PriceBookPublished:
    return ev.PriceBookPublished(
        event_id=ev.deterministic_id("PriceBookPublished", version), aggregate_id="pricebook",
        aggregate_version=version, occurred_at=published or effective_from, version=version,
        effective_from=effective_from, per_shot_micro=per_shot, per_qpu_second_micro=per_second,
        per_job_micro=per_job, lane_multiplier_milli=lanes if lanes is not None else {"standard": 1000, "priority": 1500})


def _base(kind: str, job: str, tenant: str, v: int, t: datetime, *extra: object) -> dict:
    return dict(event_id=ev.deterministic_id(kind, tenant, job, *extra), tenant_id=tenant, aggregate_id=job,
                aggregate_version=v, occurred_at=t, job_id=job)


def accepted(job: str, tenant: str = "acme", lane: str = "standard", t: datetime = T0, qpu: str = "qpu-a") -> ev.JobAccepted:
    return ev.JobAccepted(**_base("JobAccepted", job, tenant, 1, t), qpu_id=qpu, lane=lane)


def started(job: str, tenant: str = "acme", attempt: int = 1, epoch: int = 3, t: datetime = T0,
            qpu: str = "qpu-a") -> ev.JobStarted:
    return ev.JobStarted(**_base("JobStarted", job, tenant, 1 + 2 * attempt, t, attempt), qpu_id=qpu,
                         attempt=attempt, calibration_epoch=epoch)


def measured(job: str, tenant: str = "acme", shots: int = 1000, secs: float = 0.25, epoch: int = 3,
             t: datetime = T0, qpu: str = "qpu-a") -> ev.ShotsMeasured:
    return ev.ShotsMeasured(**_base("ShotsMeasured", job, tenant, 10, t), qpu_id=qpu, shots=shots,
                            counts={"00": shots // 2, "11": shots - shots // 2}, qpu_seconds=secs,
                            calibration_epoch=epoch, compute_seconds=0.01)


def completed(job: str, tenant: str = "acme", t: datetime = T0, epoch: int = 3, qpu: str = "qpu-a") -> ev.JobCompleted:
    return ev.JobCompleted(**_base("JobCompleted", job, tenant, 11, t), qpu_id=qpu, calibration_epoch=epoch)


def failed(job: str, tenant: str = "acme", system_fault: bool = True, t: datetime = T0, qpu: str = "qpu-a") -> ev.JobFailed:
    return ev.JobFailed(**_base("JobFailed", job, tenant, 11, t), qpu_id=qpu, reason="boom", system_fault=system_fault)


def aborted(job: str, tenant: str = "acme", attempt: int = 1, will_retry: bool = False, t: datetime = T0,
            qpu: str = "qpu-a") -> ev.JobAborted:
    return ev.JobAborted(**_base("JobAborted", job, tenant, 2 + 2 * attempt, t, attempt), qpu_id=qpu,
                         attempt=attempt, reason="readout timeout", will_retry=will_retry)


def cancelled(job: str, tenant: str = "acme", shots_done: int = 0, secs: float = 0.0, t: datetime = T0,
              qpu: str = "qpu-a") -> ev.JobCancelled:
    return ev.JobCancelled(**_base("JobCancelled", job, tenant, 11, t), qpu_id=qpu, shots_done=shots_done,
                           qpu_seconds=secs)


def completed_job(job: str, tenant: str = "acme", lane: str = "standard", shots: int = 1000, secs: float = 0.25,
                  t: datetime = T0, epoch: int = 3) -> list[ev.Event]:
    return [accepted(job, tenant, lane, t), started(job, tenant, 1, epoch, t), measured(job, tenant, shots, secs, epoch, t),
            completed(job, tenant, t, epoch)]


def mixed_log(tenants: tuple[str, ...] = ("acme", "globex"), jobs_per_tenant: int = 6) -> list[ev.Event]:
    """A small log with every outcome: completed (two lanes), cancelled mid-run, aborted, failed."""
    log: list[ev.Event] = [price_book(1)]
    for tenant in tenants:
        for i in range(jobs_per_tenant):
            job, t = f"{tenant}-j{i}", at(60 * i)
            kind = i % 6
            if kind in (0, 1):
                log += completed_job(job, tenant, "priority" if kind else "standard", 100 * (i + 1), 0.0123456 * (i + 1), t)
            elif kind == 2:
                log += [accepted(job, tenant, t=t), started(job, tenant, t=t), cancelled(job, tenant, 40, 0.004, t)]
            elif kind == 3:
                log += [accepted(job, tenant, t=t), started(job, tenant, t=t), aborted(job, tenant, 1, True, t),
                        started(job, tenant, 2, 4, t), measured(job, tenant, 500, 0.1, 4, t), completed(job, tenant, t, 4)]
            elif kind == 4:
                log += [accepted(job, tenant, t=t), started(job, tenant, t=t), failed(job, tenant, True, t)]
            else:
                log += [accepted(job, tenant, t=t), started(job, tenant, t=t), aborted(job, tenant, 1, False, t)]
    return log
