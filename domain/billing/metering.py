"""Metering: fold one job's events into what, if anything, is billable.

The rules (the README repeats them for tenants):

- A job is billed for what it consumed on the QPU: the shots and QPU-seconds of its
  `ShotsMeasured`. A co-scheduled job's `ShotsMeasured` carries its own QPU-seconds, so it is
  billed for those and nothing of its neighbours'.
- A cancelled job is billed up to the point it reached: `JobCancelled.shots_done` and
  `JobCancelled.qpu_seconds`.
- Hardware aborts (`JobAborted`) and system failures (`JobFailed` with `system_fault=True`) are
  never billed; a job that consumed nothing (no shots, no QPU time) is not billed either, so
  the per-job fee is charged only to jobs that ran.
- A user-caused failure (`system_fault=False`) is billed for what was measured before it.

The first terminal fact of a job decides (`JobCompleted`, `JobCancelled`, `JobFailed`, or a
`JobAborted` that will not be retried); a job's execution facts come from the one executor of its
QPU, in order, so "first" is well defined. Only the first `ShotsMeasured` of a job counts: the
job aggregate allows one measurement, and a second would mean the job ran twice, which the
tenant must not pay for. Deliveries of an event already seen (same `event_id`) change nothing.
The lane comes from `JobAccepted`, which may arrive in any order relative to the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain import events as ev
from domain.billing.pricing import qpu_seconds_to_micro

JOB_FACTS = frozenset({"JobAccepted", "SlotReserved", "JobStarted", "ShotsMeasured", "JobCompleted",
                       "JobFailed", "JobAborted", "JobCancelled"})


@dataclass(frozen=True)
class Usage:
    """A billable outcome: what the job consumed and the facts it rests on."""

    shots: int
    qpu_seconds: float
    qpu_seconds_micro: int
    calibration_epoch: int
    at: datetime                 # the terminal fact's time: prices and periods are taken at it
    sources: tuple[ev.Event, ...]  # usage fact(s) and terminal fact, in that order, no repeats


@dataclass(frozen=True)
class NotBilled:
    reason: str
    at: datetime
    terminal: ev.Event


@dataclass
class JobMeter:
    job_id: str
    tenant_id: str
    accepted: ev.JobAccepted | None = None
    measured: ev.ShotsMeasured | None = None
    started: ev.JobStarted | None = None
    reserved: ev.SlotReserved | None = None
    terminal: ev.Event | None = None
    ignored: list[str] = field(default_factory=list)  # event ids that arrived but could not count

    def observe(self, e: ev.Event) -> bool:
        """Fold one fact in; True when it changed what the meter knows."""
        t = e.type
        if t == "JobAccepted":
            if self.accepted is None:
                self.accepted = e  # type: ignore[assignment]
                return True
        elif t == "ShotsMeasured":
            if self.measured is None and self.terminal is None:
                self.measured = e  # type: ignore[assignment]
                return True
            self.ignored.append(e.event_id)
        elif t == "JobStarted":
            if self.started is None or e.attempt > self.started.attempt:  # type: ignore[attr-defined]
                self.started = e  # type: ignore[assignment]
                return True
        elif t == "SlotReserved":
            if self.reserved is None:
                self.reserved = e  # type: ignore[assignment]
                return True
        elif t == "JobAborted" and e.will_retry:  # type: ignore[attr-defined]
            return False
        elif t in ("JobCompleted", "JobFailed", "JobAborted", "JobCancelled"):
            if self.terminal is None:
                self.terminal = e
                return True
            self.ignored.append(e.event_id)
        return False

    @property
    def lane(self) -> str | None:
        return self.accepted.lane if self.accepted is not None else None

    def _epoch(self) -> int:
        if self.started is not None:
            return self.started.calibration_epoch
        if self.reserved is not None:
            return self.reserved.calibration_epoch
        return 0

    def outcome(self) -> Usage | NotBilled | None:
        """None while the job has not ended; then its usage, or why it is not billed."""
        term = self.terminal
        if term is None:
            return None
        at = term.occurred_at
        if term.type == "JobAborted":
            return NotBilled("hardware abort, not billed", at, term)
        if term.type == "JobFailed" and term.system_fault:  # type: ignore[attr-defined]
            return NotBilled("system failure, not billed", at, term)
        if term.type == "JobCancelled":
            shots, secs = term.shots_done, term.qpu_seconds  # type: ignore[attr-defined]
            sources: tuple[ev.Event, ...] = (term,) if self.started is None else (self.started, term)
            epoch = self._epoch()
        elif self.measured is not None:
            m = self.measured
            shots, secs, epoch = m.shots, m.qpu_seconds, m.calibration_epoch
            sources = (m, term)
        else:
            shots, secs, epoch, sources = 0, 0.0, self._epoch(), (term,)
        micro = qpu_seconds_to_micro(secs)
        if shots == 0 and micro == 0:
            reason = "cancelled before running, not billed" if term.type == "JobCancelled" else "consumed nothing, not billed"
            return NotBilled(reason, at, term)
        return Usage(shots=shots, qpu_seconds=secs, qpu_seconds_micro=micro, calibration_epoch=epoch,
                     at=at, sources=sources)
