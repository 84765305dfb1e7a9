"""Hardware aborts: retry up to a limit with exponential backoff; aborted attempts are never billed."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from domain import events as ev


@dataclass(frozen=True, slots=True)
class AbortPolicy:
    max_attempts: int = 3
    base_delay_s: float = 5.0
    factor: float = 2.0
    max_delay_s: float = 300.0


@dataclass(frozen=True, slots=True)
class Retry:
    next_attempt: int
    delay_s: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: str


def on_abort(attempt: int, p: AbortPolicy = AbortPolicy()) -> Retry | GiveUp:
    """What to do after attempt number `attempt` (1-based) was aborted by the hardware."""
    if attempt >= p.max_attempts:
        return GiveUp(f"aborted by the hardware {attempt} time(s), the limit is {p.max_attempts}; not billed, "
                      "resubmit later or ask an operator to check the QPU")
    return Retry(attempt + 1, min(p.max_delay_s, p.base_delay_s * p.factor ** (attempt - 1)))


def injected_abort(seed: int, job_id: str, attempt: int, probability: float) -> bool:
    """Deterministic abort injection: the same (seed, job, attempt) always draws the same outcome."""
    return probability > 0 and random.Random(f"abort:{seed}:{job_id}:{attempt}").random() < probability


@dataclass(frozen=True, slots=True)
class Billable:
    shots: int
    qpu_seconds: float
    attempts: int
    aborted_attempts: int


def billable(job_events: Iterable[ev.Event]) -> Billable:
    """What a job may be billed for: measurements of attempts that were not aborted.

    `ShotsMeasured` carries no attempt number, so it is attributed to the latest `JobStarted`.
    """
    current, per_attempt, aborted = 0, {}, set()
    for e in job_events:
        match e:
            case ev.JobStarted():
                current = e.attempt
            case ev.ShotsMeasured():
                shots, secs = per_attempt.get(current, (0, 0.0))
                per_attempt[current] = (shots + e.shots, secs + e.qpu_seconds)
            case ev.JobAborted():
                aborted.add(e.attempt)
    kept = [v for a, v in per_attempt.items() if a not in aborted]
    return Billable(sum(s for s, _ in kept), sum(q for _, q in kept), current, len(aborted))
