"""Request and response bodies of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class SubmitJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    circuit: str | list[Any] | dict[str, Any] = Field(
        description="OpenQASM 2.0 text, or the JSON gate list (see qpu_jax.parse_json_circuit)")
    format: Literal["qasm2", "json"] | None = Field(
        None, description="inferred when omitted: a string is OpenQASM 2, a list/object is JSON")
    shots: int = Field(1024, description="number of shots, 1..QMUX_MAX_SHOTS")
    qpu: str = Field("qpu-a", description="target QPU id (GET /v1/qpus lists them)")
    seed: int | None = Field(None, description="sampling seed; derived from the job id when omitted")
    max_calibration_age_s: float | None = Field(None, gt=0, description="skip QPUs calibrated longer ago than this")
    pulse_level: bool = Field(False, description="declare pulse-level / high-amplitude operation (heats neighbours)")


class JobAck(BaseModel):
    job_id: str
    status: str
    duplicate: bool = False


class CreateTenant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
    plan: str = "standard"
    role: Literal["tenant", "operator", "auditor", "analyst"] = "tenant"


class TenantCreated(BaseModel):
    tenant_id: str
    api_key: str = Field(description="shown once; only its SHA-256 is stored")
    created: bool


class RegisterQpu(BaseModel):
    model_config = ConfigDict(extra="forbid")
    qpu_id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    num_qubits: int = Field(ge=1, le=64)
    coupling_map: list[tuple[int, int]] | None = None
    calibration: dict[str, Any] | None = None


class SqlQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=20_000)


class Problem(BaseModel):
    detail: str


class PublishPriceBook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_shot_micro: int = Field(ge=0, description="micro-credits per shot")
    per_qpu_second_micro: int = Field(ge=0, description="micro-credits per QPU-second")
    per_job_micro: int = Field(ge=0, description="micro-credits per job")
    lane_multiplier_milli: dict[str, int] = Field(default_factory=dict, description="lane -> multiplier in thousandths")
    effective_from: datetime | None = Field(None, description="when it takes effect (not before now); default now")
