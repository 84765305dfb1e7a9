"""Admission: quotas held on acceptance, settled on finish, released on cancel or rejection.

The state is a plain value folded from the event log with `apply`; `admit` is a pure decision on
it. Quota windows are calendar windows in UTC: shots per day, QPU-seconds per month. A hold
counts against the window of the day (month) it was taken in, and its settlement replaces it in
that same window, so a job that runs across midnight never counts twice or nowhere.

The rate limiter is a token bucket per tenant spent by `JobSubmitted`: a submission the limiter
refused never reaches the log, so `admit` decides on the state before that submission is folded.

Duplicates: consumers drop repeated events by `event_id` (see DESIGN.md); `apply` additionally
ignores a second hold of an open job and a settle/release of a job it does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Literal

from domain import events as ev
from domain.scheduling.plans import Plan, PlanError, plan_from_terms, plan_named
from domain.scheduling.ratelimit import TokenBucket

Limit = Literal["tenant", "rate", "max_queued", "shots_per_day", "qpu_seconds_per_month"]
Phase = Literal["queued", "running", "finished"]


@dataclass(frozen=True, slots=True)
class Hold:
    shots: int
    qpu_seconds: float
    day: str
    month: str
    phase: Phase = "queued"


@dataclass(frozen=True, slots=True)
class Account:
    plan: Plan
    bucket: TokenBucket
    holds: dict[str, Hold] = field(default_factory=dict)  # open jobs only; never mutated in place
    shots_by_day: dict[str, int] = field(default_factory=dict)  # held + settled
    qpu_s_by_month: dict[str, float] = field(default_factory=dict)

    @property
    def queued(self) -> int:
        return sum(1 for h in self.holds.values() if h.phase == "queued")

    @property
    def running(self) -> int:
        return sum(1 for h in self.holds.values() if h.phase == "running")


State = dict[str, Account]  # tenant id -> account; treat as immutable, `apply` returns a new one


@dataclass(frozen=True, slots=True)
class Request:
    tenant_id: str
    job_id: str
    shots: int
    qpu_seconds_estimate: float


@dataclass(frozen=True, slots=True)
class Admitted:
    tenant_id: str
    job_id: str
    lane: str
    shots: int
    qpu_seconds_estimate: float


@dataclass(frozen=True, slots=True)
class Rejected:
    tenant_id: str
    job_id: str
    limit: Limit
    message: str
    resets_at: datetime | None = None
    retry_after_s: float | None = None  # set for "rate": the Retry-After of the 429


def day_key(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d")


def month_key(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m")


def next_day(t: datetime) -> datetime:
    d = t.astimezone(timezone.utc)
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc) + timedelta(days=1)


def next_month(t: datetime) -> datetime:
    d = t.astimezone(timezone.utc)
    return datetime(d.year + d.month // 12, d.month % 12 + 1, 1, tzinfo=timezone.utc)


def estimate_qpu_seconds(num_gates: int, shots: int, gate_s: float = 1e-6, reset_s: float = 2.5e-4) -> float:
    """An upper-bound style estimate for the hold: shots x (gate time x gates + reset and readout)."""
    return shots * (num_gates * gate_s + reset_s)


def request_of(e: ev.JobSubmitted, qpu_seconds_estimate: float | None = None) -> Request:
    est = qpu_seconds_estimate if qpu_seconds_estimate is not None else estimate_qpu_seconds(e.num_gates, e.shots)
    return Request(e.tenant_id, e.job_id, e.shots, est)


def new_account(plan: Plan) -> Account:
    return Account(plan=plan, bucket=TokenBucket.full(plan.rate_limit.tokens_per_s, plan.rate_limit.burst))


def admit(state: State, req: Request, now: datetime) -> Admitted | Rejected:
    acct = state.get(req.tenant_id)
    if acct is None:
        return Rejected(req.tenant_id, req.job_id, "tenant", f"tenant {req.tenant_id!r} is not registered; "
                        "ask an operator to register it")
    plan, t = acct.plan, now.timestamp()
    wait = acct.bucket.retry_after_s(t)
    if wait > 0:
        return Rejected(req.tenant_id, req.job_id, "rate",
                        f"rate limit of {plan.rate_limit.tokens_per_s:g}/s (burst {plan.rate_limit.burst:g}) "
                        f"exceeded; retry after {wait:.2f} s", now + timedelta(seconds=wait), wait)
    if acct.queued + 1 > plan.max_queued:
        return Rejected(req.tenant_id, req.job_id, "max_queued",
                        f"{acct.queued} jobs already queued, plan {plan.name!r} allows {plan.max_queued}; "
                        "wait for some to start or cancel some")
    day, month = day_key(now), month_key(now)
    used_shots = acct.shots_by_day.get(day, 0)
    if used_shots + req.shots > plan.shots_per_day:
        left = plan.shots_per_day - used_shots
        return Rejected(req.tenant_id, req.job_id, "shots_per_day",
                        f"{req.shots} shots requested, {max(0, left)} of {plan.shots_per_day} left today (UTC); "
                        "resets at midnight UTC", next_day(now))
    used_s = acct.qpu_s_by_month.get(month, 0.0)
    if used_s + req.qpu_seconds_estimate > plan.qpu_seconds_per_month + 1e-9:
        left_s = plan.qpu_seconds_per_month - used_s
        return Rejected(req.tenant_id, req.job_id, "qpu_seconds_per_month",
                        f"job needs about {req.qpu_seconds_estimate:.3f} QPU-s, {max(0.0, left_s):.3f} of "
                        f"{plan.qpu_seconds_per_month:g} left this month (UTC); resets on the 1st", next_month(now))
    return Admitted(req.tenant_id, req.job_id, plan.lane, req.shots, req.qpu_seconds_estimate)


def _with(state: State, tenant_id: str, acct: Account) -> State:
    return {**state, tenant_id: acct}


def _add(d: dict, key: str, delta: float, keep: int = 3) -> dict:
    out = {**d, key: d.get(key, 0) + delta}
    # old windows can never be asked about again; keep the dict small
    return dict(sorted(out.items())[-keep:]) if len(out) > keep else out


def apply(state: State, e: ev.Event) -> State:
    """Fold one event into the admission state; events that do not concern it leave it unchanged."""
    tid = e.tenant_id
    acct = state.get(tid) if tid is not None else None
    match e:
        case ev.TenantRegistered() if acct is None:
            try:
                plan = plan_named(e.plan)
            except PlanError:
                plan = plan_named("standard")  # the tenant agent should have refused; keep the fold total
            return _with(state, e.tenant_id, new_account(plan))
        case ev.PlanAssigned() if acct is not None:
            plan = plan_from_terms(e.plan)
            rl = plan.rate_limit
            return _with(state, e.tenant_id, replace(acct, plan=plan, bucket=acct.bucket.with_rate(rl.tokens_per_s, rl.burst)))
        case ev.JobSubmitted() if acct is not None:
            return _with(state, e.tenant_id, replace(acct, bucket=acct.bucket.take(e.occurred_at.timestamp())))
        case ev.QuotaHeld() if acct is not None and e.job_id not in acct.holds:
            h = Hold(e.shots, e.qpu_seconds_estimate, day_key(e.occurred_at), month_key(e.occurred_at))
            return _with(state, e.tenant_id, replace(
                acct, holds={**acct.holds, e.job_id: h},
                shots_by_day=_add(acct.shots_by_day, h.day, h.shots),
                qpu_s_by_month=_add(acct.qpu_s_by_month, h.month, h.qpu_seconds)))
        case ev.JobStarted() if acct is not None and e.job_id in acct.holds:
            return _phase(state, acct, e.tenant_id, e.job_id, "running")
        case ev.JobAborted() if acct is not None and e.job_id in acct.holds:
            return _phase(state, acct, e.tenant_id, e.job_id, "queued" if e.will_retry else "finished")
        case (ev.JobCompleted() | ev.JobFailed() | ev.JobCancelled()) if acct is not None and e.job_id in acct.holds:
            return _phase(state, acct, e.tenant_id, e.job_id, "finished")
        case ev.QuotaSettled() if acct is not None and e.job_id in acct.holds:
            h = acct.holds[e.job_id]
            return _close(state, acct, e.tenant_id, e.job_id, e.shots - h.shots, e.qpu_seconds - h.qpu_seconds)
        case ev.QuotaReleased() if acct is not None and e.job_id in acct.holds:
            h = acct.holds[e.job_id]
            return _close(state, acct, e.tenant_id, e.job_id, -h.shots, -h.qpu_seconds)
    return state


def _phase(state: State, acct: Account, tid: str, job_id: str, phase: Phase) -> State:
    return _with(state, tid, replace(acct, holds={**acct.holds, job_id: replace(acct.holds[job_id], phase=phase)}))


def _close(state: State, acct: Account, tid: str, job_id: str, d_shots: float, d_qpu_s: float) -> State:
    h = acct.holds[job_id]
    holds = {k: v for k, v in acct.holds.items() if k != job_id}
    return _with(state, tid, replace(
        acct, holds=holds, shots_by_day=_add(acct.shots_by_day, h.day, int(d_shots)),
        qpu_s_by_month=_add(acct.qpu_s_by_month, h.month, d_qpu_s)))


def fold(events: list[ev.Event], state: State | None = None) -> State:
    s: State = {} if state is None else state
    for e in events:
        s = apply(s, e)
    return s
