"""The event catalogue: every state change in qmux is one of these immutable facts.

Every event carries an `event_id` (deterministic where the fact is, so a retried producer emits
the same id and consumers can drop the copy), the `tenant_id` where it has one, the aggregate it
belongs to and its version there, the time the fact happened (taken from the fact, never from a
consumer's clock), and a schema version. On Kafka an event is its JSON (`to_json`), keyed per
topic (see streams/topics.py), so any Kafka client can read it.

This module depends on pydantic and the standard library only.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

SCHEMA_VERSION = 1
_NS = uuid.UUID("6b1f3c2e-8f7a-4c55-9d0e-2a4f1e9b7c31")


def deterministic_id(*parts: object) -> str:
    """A stable id for a fact that must not be emitted twice (uuid5 over its identifying parts)."""
    return str(uuid.uuid5(_NS, "\x1f".join(str(p) for p in parts)))


def utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("event times must be timezone-aware (UTC)")
    return dt.astimezone(timezone.utc)


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    event_id: str
    tenant_id: str | None = None
    aggregate_id: str
    aggregate_version: int = Field(ge=0)
    occurred_at: datetime
    schema_version: int = SCHEMA_VERSION

    _v_time = field_validator("occurred_at")(classmethod(lambda cls, v: utc(v)))

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


# ---------------------------------------------------------------- admin: tenants, keys, QPUs


class TenantRegistered(Event):
    type: Literal["TenantRegistered"] = "TenantRegistered"
    tenant_id: str
    name: str
    plan: str = "standard"


class ApiKeyIssued(Event):
    """Only the SHA-256 of the key is ever stored or sent; the key itself is shown once."""

    type: Literal["ApiKeyIssued"] = "ApiKeyIssued"
    tenant_id: str
    key_id: str
    key_sha256: str
    role: Literal["tenant", "operator", "auditor", "analyst"] = "tenant"
    expires_at: datetime | None = None


class ApiKeyRevoked(Event):
    type: Literal["ApiKeyRevoked"] = "ApiKeyRevoked"
    tenant_id: str
    key_id: str


class PlanAssigned(Event):
    type: Literal["PlanAssigned"] = "PlanAssigned"
    tenant_id: str
    plan: dict[str, Any]  # domain.scheduling plan fields, validated there


class QpuRegistered(Event):
    type: Literal["QpuRegistered"] = "QpuRegistered"
    qpu_id: str
    num_qubits: int = Field(ge=1)
    coupling_map: list[tuple[int, int]]
    calibration: dict[str, Any]  # qpu_jax Calibration snapshot (JSON)


class QpuDrained(Event):
    type: Literal["QpuDrained"] = "QpuDrained"
    qpu_id: str
    reason: str = ""


class QpuResumed(Event):
    type: Literal["QpuResumed"] = "QpuResumed"
    qpu_id: str


class PriceBookPublished(Event):
    type: Literal["PriceBookPublished"] = "PriceBookPublished"
    version: int = Field(ge=1)
    effective_from: datetime
    per_shot_micro: int = Field(ge=0)
    per_qpu_second_micro: int = Field(ge=0)
    per_job_micro: int = Field(ge=0)
    lane_multiplier_milli: dict[str, int]  # lane -> multiplier in thousandths (1000 = 1x)


# ---------------------------------------------------------------- the job path


class JobSubmitted(Event):
    type: Literal["JobSubmitted"] = "JobSubmitted"
    tenant_id: str
    job_id: str
    qpu_id: str
    circuit_format: Literal["qasm2", "json"]
    circuit: str  # OpenQASM 2 text, or the JSON gate list as text
    num_qubits: int = Field(ge=1)
    num_gates: int = Field(ge=0)
    shots: int = Field(ge=1)
    seed: int
    idempotency_key: str | None = None
    max_calibration_age_s: float | None = None
    pulse_level: bool = False      # declared pulse-level / high-amplitude operation
    coschedule: bool = False       # the tenant's plan lets small jobs share the QPU with others
    lane: str = "standard"         # the tenant's plan at submission time
    weight: float = Field(1.0, gt=0)
    qpu_seconds_estimate: float = Field(0.0, ge=0)


class JobSpec(BaseModel):
    """What the scheduler and the executor need to run a job, carried forward with it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    circuit_format: Literal["qasm2", "json"]
    circuit: str
    num_qubits: int = Field(ge=1)
    num_gates: int = Field(ge=0)
    shots: int = Field(ge=1)
    seed: int
    submitted_at: datetime
    max_calibration_age_s: float | None = None
    pulse_level: bool = False


class JobAccepted(Event):
    type: Literal["JobAccepted"] = "JobAccepted"
    tenant_id: str
    job_id: str
    qpu_id: str
    lane: str = "standard"
    weight: float = Field(1.0, gt=0)
    qpu_seconds_estimate: float = Field(0.0, ge=0)
    coschedule: bool = False
    spec: JobSpec | None = None


class JobRejected(Event):
    type: Literal["JobRejected"] = "JobRejected"
    tenant_id: str
    job_id: str
    qpu_id: str
    reason: str
    limit: str | None = None  # which quota or cap


class QuotaHeld(Event):
    type: Literal["QuotaHeld"] = "QuotaHeld"
    tenant_id: str
    job_id: str
    shots: int
    qpu_seconds_estimate: float


class CancelRequested(Event):
    type: Literal["CancelRequested"] = "CancelRequested"
    tenant_id: str
    job_id: str
    qpu_id: str


class JobCancelled(Event):
    type: Literal["JobCancelled"] = "JobCancelled"
    tenant_id: str
    job_id: str
    qpu_id: str
    shots_done: int = 0
    qpu_seconds: float = 0.0


class SlotReserved(Event):
    type: Literal["SlotReserved"] = "SlotReserved"
    tenant_id: str
    job_id: str
    qpu_id: str
    slot: int = Field(ge=0)  # position in this QPU's execution order
    physical_qubits: list[int]
    calibration_epoch: int = Field(ge=0)
    queue_wait_s: float = Field(ge=0)
    spec: JobSpec | None = None
    crosstalk: dict[int, float] = {}   # extra depolarizing probability from co-scheduled neighbours
    shared: bool = False               # placed beside other jobs (co-scheduled)


class JobStarted(Event):
    type: Literal["JobStarted"] = "JobStarted"
    tenant_id: str
    job_id: str
    qpu_id: str
    attempt: int = Field(ge=1)
    calibration_epoch: int = Field(ge=0)


class ShotsMeasured(Event):
    type: Literal["ShotsMeasured"] = "ShotsMeasured"
    tenant_id: str
    job_id: str
    qpu_id: str
    shots: int
    counts: dict[str, int]
    qpu_seconds: float = Field(ge=0, description="modelled QPU time: shots x (circuit duration + reset)")
    calibration_epoch: int = Field(ge=0)
    compute_seconds: float = Field(ge=0, description="wall time the simulator took; telemetry, not billed")
    crosstalk_fidelity: float | None = Field(
        None, description="co-scheduled jobs: classical fidelity of the outcome distribution with vs without crosstalk")


class JobCompleted(Event):
    type: Literal["JobCompleted"] = "JobCompleted"
    tenant_id: str
    job_id: str
    qpu_id: str
    calibration_epoch: int = Field(ge=0)


class JobFailed(Event):
    type: Literal["JobFailed"] = "JobFailed"
    tenant_id: str
    job_id: str
    qpu_id: str
    reason: str
    system_fault: bool = True  # system failures are not billed


class JobAborted(Event):
    """A hardware abort: retried up to a limit, never billed."""

    type: Literal["JobAborted"] = "JobAborted"
    tenant_id: str
    job_id: str
    qpu_id: str
    attempt: int = Field(ge=1)
    reason: str
    will_retry: bool


# ---------------------------------------------------------------- calibration


class CalibrationRequested(Event):
    """An operator asks for a calibration; it starts at the QPU's next job boundary."""

    type: Literal["CalibrationRequested"] = "CalibrationRequested"
    qpu_id: str
    reason: str = ""


class CalibrationStarted(Event):
    type: Literal["CalibrationStarted"] = "CalibrationStarted"
    qpu_id: str
    epoch: int = Field(ge=1)
    trigger: Literal["schedule", "drift", "operator", "retry"]


class CalibrationCompleted(Event):
    type: Literal["CalibrationCompleted"] = "CalibrationCompleted"
    qpu_id: str
    epoch: int = Field(ge=0)
    snapshot: dict[str, Any]


class CalibrationFailed(Event):
    type: Literal["CalibrationFailed"] = "CalibrationFailed"
    qpu_id: str
    epoch: int = Field(ge=1)
    reason: str


class HealthChecked(Event):
    type: Literal["HealthChecked"] = "HealthChecked"
    qpu_id: str
    calibration_epoch: int = Field(ge=0)
    qubit_error: dict[str, float]  # physical qubit -> measured error


class NoisyNeighbourDetected(Event):
    type: Literal["NoisyNeighbourDetected"] = "NoisyNeighbourDetected"
    qpu_id: str
    suspect_tenant_id: str | None
    qubits: list[int]
    action: Literal["quarantine", "throttle", "notify"]
    affected_tenants: list[str] = []


# ---------------------------------------------------------------- billing


class UsageCharged(Event):
    type: Literal["UsageCharged"] = "UsageCharged"
    tenant_id: str
    job_id: str
    amount_micro: int
    shots: int
    qpu_seconds_micro: int  # QPU-seconds in millionths, integers all the way
    price_book_version: int
    calibration_epoch: int
    source_event_ids: list[str]
    chain_hash: str = ""


class QuotaSettled(Event):
    type: Literal["QuotaSettled"] = "QuotaSettled"
    tenant_id: str
    job_id: str
    shots: int
    qpu_seconds: float


class QuotaReleased(Event):
    type: Literal["QuotaReleased"] = "QuotaReleased"
    tenant_id: str
    job_id: str
    reason: str


class InvoiceIssued(Event):
    type: Literal["InvoiceIssued"] = "InvoiceIssued"
    tenant_id: str
    invoice_id: str
    period: str  # e.g. 2026-11
    total_micro: int
    lines: list[dict[str, Any]]
    adjusts_invoice_id: str | None = None
    chain_hash: str = ""


# ---------------------------------------------------------------- dead letters


class DeadLettered(Event):
    type: Literal["DeadLettered"] = "DeadLettered"
    source_topic: str
    source_partition: int
    source_offset: int
    reason: str
    payload: str  # the raw message, as text (lossy for binary)


AnyEvent = Annotated[
    Union[
        TenantRegistered, ApiKeyIssued, ApiKeyRevoked, PlanAssigned, QpuRegistered, QpuDrained,
        QpuResumed, PriceBookPublished, JobSubmitted, JobAccepted, JobRejected, QuotaHeld,
        CancelRequested, JobCancelled, SlotReserved, JobStarted, ShotsMeasured, JobCompleted,
        JobFailed, JobAborted, CalibrationRequested, CalibrationStarted, CalibrationCompleted, CalibrationFailed,
        HealthChecked, NoisyNeighbourDetected, UsageCharged, QuotaSettled, QuotaReleased,
        InvoiceIssued, DeadLettered,
    ],
    Field(discriminator="type"),
]

_adapter: TypeAdapter[Any] = TypeAdapter(AnyEvent)
EVENT_TYPES: dict[str, type[Event]] = {
    cls.model_fields["type"].default: cls for cls in Event.__subclasses__()
}
TERMINAL_JOB_EVENTS = frozenset({"JobCompleted", "JobFailed", "JobRejected", "JobCancelled"})


def parse_event(raw: bytes | str | dict[str, Any]) -> Event:
    """Decode one event; raises pydantic.ValidationError with the reason for anything malformed."""
    if isinstance(raw, dict):
        return _adapter.validate_python(raw)
    return _adapter.validate_json(raw)
