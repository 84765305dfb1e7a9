"""Intake: turn a submission into an accepted job (with its spec) or a rejection.

Pure: the decision depends only on the submission and the tenant's standing folded from events.
Quotas, caps and rate limits plug in here through `domain.scheduling.admission`.
"""

from __future__ import annotations

from domain import events as ev


def spec_of(e: ev.JobSubmitted) -> ev.JobSpec:
    return ev.JobSpec(
        circuit_format=e.circuit_format, circuit=e.circuit, num_qubits=e.num_qubits,
        num_gates=e.num_gates, shots=e.shots, seed=e.seed, submitted_at=e.occurred_at,
        max_calibration_age_s=e.max_calibration_age_s, pulse_level=e.pulse_level,
    )


def accept(e: ev.JobSubmitted) -> ev.JobAccepted:
    return ev.JobAccepted(
        event_id=ev.deterministic_id(e.job_id, "JobAccepted"), tenant_id=e.tenant_id,
        aggregate_id=e.job_id, aggregate_version=1, occurred_at=e.occurred_at,
        job_id=e.job_id, qpu_id=e.qpu_id, lane=e.lane, weight=e.weight,
        qpu_seconds_estimate=e.qpu_seconds_estimate, coschedule=e.coschedule, spec=spec_of(e),
    )


def quota_held(e: ev.JobSubmitted) -> ev.QuotaHeld:
    """The hold taken when a submission is admitted (the gateway applies the same fact at once)."""
    return ev.QuotaHeld(
        event_id=ev.deterministic_id(e.job_id, "QuotaHeld"), tenant_id=e.tenant_id, aggregate_id=e.job_id,
        aggregate_version=1, occurred_at=e.occurred_at, job_id=e.job_id, shots=e.shots,
        qpu_seconds_estimate=e.qpu_seconds_estimate,
    )


def reject(e: ev.JobSubmitted, reason: str, limit: str | None = None) -> ev.JobRejected:
    return ev.JobRejected(
        event_id=ev.deterministic_id(e.job_id, "JobRejected"), tenant_id=e.tenant_id,
        aggregate_id=e.job_id, aggregate_version=1, occurred_at=e.occurred_at,
        job_id=e.job_id, qpu_id=e.qpu_id, reason=reason, limit=limit,
    )


def decide(e: ev.JobSubmitted) -> list[ev.Event]:
    """Admission itself is decided at the gateway (it must answer 4xx/429 synchronously); what
    reaches the log was admitted, and becomes a queued job with its quota hold."""
    return [quota_held(e), accept(e)]
