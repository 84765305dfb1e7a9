"""Plans: what a tenant bought — a lane, a fair-share weight, quotas, caps and a rate limit."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Lane = Literal["premium", "standard", "free"]
LANES: tuple[Lane, ...] = ("premium", "standard", "free")
# Lower rank is served first; lanes are strict, fairness applies inside a lane.
LANE_RANK: dict[str, int] = {lane: i for i, lane in enumerate(LANES)}


class PlanError(ValueError):
    """A plan that cannot be used as given; the message names the field to fix."""


class RateLimit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tokens_per_s: float = Field(gt=0, description="sustained submissions per second")
    burst: float = Field(ge=1, description="submissions allowed back to back")


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    lane: Lane
    weight: float = Field(gt=0, description="fair-share weight; shares are weight / sum of weights")
    shots_per_day: int = Field(ge=0, description="per UTC day")
    qpu_seconds_per_month: float = Field(ge=0, description="per UTC calendar month")
    max_queued: int = Field(ge=0, description="accepted jobs not yet started")
    max_running: int = Field(ge=1, description="jobs holding a QPU slot at once")
    rate_limit: RateLimit
    allow_coscheduling: bool = True


DEFAULT_PLANS: dict[str, Plan] = {
    "premium": Plan(
        name="premium", lane="premium", weight=4.0, shots_per_day=5_000_000,
        qpu_seconds_per_month=500_000.0, max_queued=2_000, max_running=4,
        rate_limit=RateLimit(tokens_per_s=20.0, burst=100.0), allow_coscheduling=False,
    ),
    "standard": Plan(
        name="standard", lane="standard", weight=2.0, shots_per_day=1_000_000,
        qpu_seconds_per_month=100_000.0, max_queued=1_000, max_running=2,
        rate_limit=RateLimit(tokens_per_s=5.0, burst=50.0), allow_coscheduling=True,
    ),
    "free": Plan(
        name="free", lane="free", weight=1.0, shots_per_day=100_000,
        qpu_seconds_per_month=3_600.0, max_queued=50, max_running=1,
        rate_limit=RateLimit(tokens_per_s=1.0, burst=10.0), allow_coscheduling=True,
    ),
}


def plan_named(name: str) -> Plan:
    try:
        return DEFAULT_PLANS[name]
    except KeyError:
        raise PlanError(f"unknown plan {name!r}; use one of {sorted(DEFAULT_PLANS)} or assign full terms") from None


def plan_from_terms(terms: dict[str, Any]) -> Plan:
    """Terms from a `PlanAssigned` event: named defaults overridden field by field.

    `{"name": "standard", "weight": 3}` is the standard plan with weight 3; a name that is not a
    default plan must come with every field.
    """
    name = str(terms.get("name", "standard"))
    base = DEFAULT_PLANS[name].model_dump() if name in DEFAULT_PLANS else {}
    if isinstance(terms.get("rate_limit"), dict) and "rate_limit" in base:
        terms = {**terms, "rate_limit": {**base["rate_limit"], **terms["rate_limit"]}}
    try:
        return Plan.model_validate({**base, **terms, "name": name})
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in exc.errors())
        raise PlanError(f"plan {name!r} is invalid in: {fields}; {exc.errors()[0]['msg']}") from exc
