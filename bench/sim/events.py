"""Builders of catalogue events for the simulator, so the policies fold the same facts as in production."""

from __future__ import annotations

from datetime import datetime, timezone

from domain import events as ev

T0 = datetime(2026, 1, 5, tzinfo=timezone.utc).timestamp()  # a Monday, 00:00 UTC
QPU = "sim-qpu-0"
_n = 0


def at(t: float) -> datetime:
    return datetime.fromtimestamp(T0 + t, tz=timezone.utc)


def _base(t: float, agg: str, tenant: str | None) -> dict:
    global _n
    _n += 1
    return dict(event_id=f"sim-{_n}", tenant_id=tenant, aggregate_id=agg, aggregate_version=0, occurred_at=at(t))


def submitted(t: float, job_id: str, tenant: str, num_qubits: int, num_gates: int, shots: int) -> ev.JobSubmitted:
    return ev.JobSubmitted(**_base(t, job_id, tenant), job_id=job_id, qpu_id=QPU, circuit_format="json", circuit="[]",
                           num_qubits=num_qubits, num_gates=num_gates, shots=shots, seed=0)


def held(t: float, job_id: str, tenant: str, shots: int, qpu_s: float) -> ev.QuotaHeld:
    return ev.QuotaHeld(**_base(t, job_id, tenant), job_id=job_id, shots=shots, qpu_seconds_estimate=qpu_s)


def reserved(t: float, job_id: str, tenant: str, qubits: list[int], epoch: int, wait: float) -> ev.SlotReserved:
    return ev.SlotReserved(**_base(t, job_id, tenant), job_id=job_id, qpu_id=QPU, slot=0, physical_qubits=qubits,
                           calibration_epoch=epoch, queue_wait_s=wait)


def started(t: float, job_id: str, tenant: str, attempt: int, epoch: int) -> ev.JobStarted:
    return ev.JobStarted(**_base(t, job_id, tenant), job_id=job_id, qpu_id=QPU, attempt=attempt, calibration_epoch=epoch)


def measured(t: float, job_id: str, tenant: str, shots: int, qpu_s: float, epoch: int) -> ev.ShotsMeasured:
    return ev.ShotsMeasured(**_base(t, job_id, tenant), job_id=job_id, qpu_id=QPU, shots=shots, counts={},
                            qpu_seconds=qpu_s, calibration_epoch=epoch, compute_seconds=0.0)


def completed(t: float, job_id: str, tenant: str, epoch: int) -> ev.JobCompleted:
    return ev.JobCompleted(**_base(t, job_id, tenant), job_id=job_id, qpu_id=QPU, calibration_epoch=epoch)


def aborted(t: float, job_id: str, tenant: str, attempt: int, retry: bool) -> ev.JobAborted:
    return ev.JobAborted(**_base(t, job_id, tenant), job_id=job_id, qpu_id=QPU, attempt=attempt,
                         reason="injected hardware abort", will_retry=retry)


def failed(t: float, job_id: str, tenant: str, reason: str) -> ev.JobFailed:
    return ev.JobFailed(**_base(t, job_id, tenant), job_id=job_id, qpu_id=QPU, reason=reason)


def cancelled(t: float, job_id: str, tenant: str) -> ev.JobCancelled:
    return ev.JobCancelled(**_base(t, job_id, tenant), job_id=job_id, qpu_id=QPU)


def settled(t: float, job_id: str, tenant: str, shots: int, qpu_s: float) -> ev.QuotaSettled:
    return ev.QuotaSettled(**_base(t, job_id, tenant), job_id=job_id, shots=shots, qpu_seconds=qpu_s)


def released(t: float, job_id: str, tenant: str, reason: str) -> ev.QuotaReleased:
    return ev.QuotaReleased(**_base(t, job_id, tenant), job_id=job_id, reason=reason)


def rejected(t: float, job_id: str, tenant: str, reason: str, limit: str) -> ev.JobRejected:
    return ev.JobRejected(**_base(t, job_id, tenant), job_id=job_id, qpu_id=QPU, reason=reason, limit=limit)


def registered(tenant: str, plan: str) -> ev.TenantRegistered:
    return ev.TenantRegistered(**_base(0.0, tenant, tenant), name=tenant, plan=plan)


def plan_assigned(tenant: str, terms: dict) -> ev.PlanAssigned:
    return ev.PlanAssigned(**_base(0.0, tenant, tenant), plan=terms)


def health(t: float, epoch: int, errors: dict[int, float]) -> ev.HealthChecked:
    return ev.HealthChecked(**_base(t, QPU, None), qpu_id=QPU, calibration_epoch=epoch,
                            qubit_error={str(q): e for q, e in errors.items()})


def cal_started(t: float, epoch: int, trigger: str) -> ev.CalibrationStarted:
    return ev.CalibrationStarted(**_base(t, QPU, None), qpu_id=QPU, epoch=epoch, trigger=trigger)


def cal_completed(t: float, epoch: int, errors: dict[int, float]) -> ev.CalibrationCompleted:
    return ev.CalibrationCompleted(**_base(t, QPU, None), qpu_id=QPU, epoch=epoch,
                                   snapshot={"qubit_error": {str(q): e for q, e in errors.items()}})


def cal_failed(t: float, epoch: int) -> ev.CalibrationFailed:
    return ev.CalibrationFailed(**_base(t, QPU, None), qpu_id=QPU, epoch=epoch, reason="injected failure")
