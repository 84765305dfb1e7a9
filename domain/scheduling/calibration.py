"""The calibration controller's policy: drift, health checks, and when to calibrate.

Error rates drift with time since calibration and with load (pulse-level work counts extra), by a
deterministic per-qubit rate drawn from (seed, epoch, qubit). A calibration starts on schedule or
when the health checks say the error has drifted past a threshold, but never while a job holds a
slot: once one is due the controller asks the scheduler to stop dispatching (`hold`), and starts
at the next boundary. A failed calibration keeps the QPU out of service; retries back off
exponentially until one succeeds.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from domain import events as ev


@dataclass(frozen=True, slots=True)
class DriftParams:
    per_hour: float = 0.10  # relative error growth per hour since calibration
    per_load_hour: float = 0.25  # relative growth per QPU-hour of work since calibration
    spread: float = 0.5  # per-qubit rates vary by +-spread around the mean
    pulse_load_factor: float = 5.0  # a QPU-second of pulse-level work drifts like this many


def drifted_errors(calibrated: Mapping[int, float], since_cal_s: float, load_s: float, seed: int, epoch: int,
                   p: DriftParams = DriftParams()) -> dict[int, float]:
    """Per-qubit error now; deterministic in (seed, epoch, qubit), monotone in time and load."""
    out = {}
    for q, base in calibrated.items():
        r = random.Random(f"{seed}:{epoch}:{q}").random()
        rate = 1.0 + p.spread * (2.0 * r - 1.0)
        growth = rate * (p.per_hour * max(0.0, since_cal_s) + p.per_load_hour * max(0.0, load_s)) / 3600.0
        out[q] = min(0.5, base * (1.0 + growth))
    return out


@dataclass(frozen=True, slots=True)
class CalParams:
    interval_s: float = 6 * 3600.0
    drift_threshold: float = 1.5  # mean measured/calibrated error ratio that triggers a calibration
    retry_base_s: float = 300.0
    retry_max_s: float = 3600.0


Status = Literal["in_service", "calibrating", "failed"]


@dataclass(frozen=True, slots=True)
class CalState:
    qpu_id: str
    epoch: int = 0
    calibrated_at: float = 0.0
    status: Status = "in_service"
    running: frozenset[str] = frozenset()
    load_s: float = 0.0
    failures: int = 0
    failed_at: float | None = None
    calibrated_error: dict[int, float] = field(default_factory=dict)
    measured_error: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    action: Literal["none", "hold", "start"]  # hold: stop dispatching, a calibration waits for the boundary
    trigger: Literal["schedule", "drift", "retry"] | None
    reason: str


def drift_ratio(s: CalState) -> float:
    pairs = [(m, s.calibrated_error[q]) for q, m in s.measured_error.items() if s.calibrated_error.get(q, 0) > 0]
    return sum(m / c for m, c in pairs) / len(pairs) if pairs else 1.0


def retry_delay_s(failures: int, p: CalParams) -> float:
    return min(p.retry_max_s, p.retry_base_s * 2 ** max(0, failures - 1))


def due(s: CalState, now: float, p: CalParams = CalParams()) -> Decision:
    """Whether a calibration is due, regardless of running jobs."""
    if s.status == "calibrating":
        return Decision("none", None, "calibration in progress")
    if s.status == "failed":
        wait = (s.failed_at or now) + retry_delay_s(s.failures, p) - now
        if wait > 0:
            return Decision("none", None, f"out of service after {s.failures} failed calibration(s); retry in {wait:.0f} s")
        return Decision("start", "retry", f"retrying after {s.failures} failed calibration(s)")
    ratio = drift_ratio(s)
    if ratio >= p.drift_threshold:
        return Decision("start", "drift", f"health checks show {ratio:.2f}x the calibrated error (threshold {p.drift_threshold})")
    if now - s.calibrated_at >= p.interval_s:
        return Decision("start", "schedule", f"last calibration {now - s.calibrated_at:.0f} s ago (every {p.interval_s:.0f} s)")
    return Decision("none", None, "calibrated and within drift")


def decide(s: CalState, now: float, p: CalParams = CalParams()) -> Decision:
    """Start only at a job boundary: with jobs holding slots, a due calibration becomes `hold`."""
    d = due(s, now, p)
    if d.action == "start" and s.running:
        return Decision("hold", d.trigger, f"{d.reason}; waiting for {len(s.running)} running job(s) to finish")
    return d


def in_service(s: CalState, now: float, p: CalParams = CalParams()) -> bool:
    """May the scheduler start a job now? Not while calibrating, failed, or with a calibration due."""
    return s.status == "in_service" and due(s, now, p).action == "none"


def fresh_enough(s: CalState, now: float, max_calibration_age_s: float | None) -> bool:
    return max_calibration_age_s is None or (s.status == "in_service" and now - s.calibrated_at <= max_calibration_age_s)


def apply(s: CalState, e: ev.Event, pulse_level_jobs: frozenset[str] = frozenset(),
          drift: DriftParams = DriftParams()) -> CalState:
    if getattr(e, "qpu_id", None) != s.qpu_id:
        return s
    t = e.occurred_at.timestamp()
    match e:
        case ev.SlotReserved():
            return replace(s, running=s.running | {e.job_id})
        case ev.JobCompleted() | ev.JobFailed() | ev.JobAborted() | ev.JobCancelled():
            return replace(s, running=s.running - {e.job_id})
        case ev.ShotsMeasured():
            f = drift.pulse_load_factor if e.job_id in pulse_level_jobs else 1.0
            return replace(s, load_s=s.load_s + f * e.qpu_seconds)
        case ev.CalibrationStarted():
            return replace(s, status="calibrating")
        case ev.CalibrationCompleted():
            err = e.snapshot.get("qubit_error")
            cal = {int(k): float(v) for k, v in err.items()} if isinstance(err, dict) else s.calibrated_error
            return replace(s, status="in_service", epoch=max(s.epoch, e.epoch), calibrated_at=t, load_s=0.0,
                           failures=0, failed_at=None, calibrated_error=cal, measured_error={})
        case ev.CalibrationFailed():
            return replace(s, status="failed", failures=s.failures + 1, failed_at=t)
        case ev.HealthChecked() if e.calibration_epoch == s.epoch:
            return replace(s, measured_error={int(k): float(v) for k, v in e.qubit_error.items()})
    return s
