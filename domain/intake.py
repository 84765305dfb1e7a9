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
        max_calibration_age_s=e.max_calibration_age_s,
    )


def accept(e: ev.JobSubmitted, lane: str = "standard") -> ev.JobAccepted:
    return ev.JobAccepted(
        event_id=ev.deterministic_id(e.job_id, "JobAccepted"), tenant_id=e.tenant_id,
        aggregate_id=e.job_id, aggregate_version=1, occurred_at=e.occurred_at,
        job_id=e.job_id, qpu_id=e.qpu_id, lane=lane, spec=spec_of(e),
    )


def reject(e: ev.JobSubmitted, reason: str, limit: str | None = None) -> ev.JobRejected:
    return ev.JobRejected(
        event_id=ev.deterministic_id(e.job_id, "JobRejected"), tenant_id=e.tenant_id,
        aggregate_id=e.job_id, aggregate_version=1, occurred_at=e.occurred_at,
        job_id=e.job_id, qpu_id=e.qpu_id, reason=reason, limit=limit,
    )


def decide(e: ev.JobSubmitted, lane: str = "standard") -> ev.JobAccepted | ev.JobRejected:
    return accept(e, lane)
