"""Per-QPU dispatch: which accepted job runs next, and when the QPU is free again.

A pure fold over the QPU's events. The state is a plain JSON-able dict so the scheduler agent can
keep it in a changelog-backed table; replaying the same events gives the same state and the same
reservations. Ordering of the queue is delegated to `order_queue` (FIFO unless a policy is given).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain import events as ev
from domain import health
from domain.scheduling import calibration, fairshare, placement

State = dict[str, Any]
PickFn = Callable[[list[fairshare.QueueEntry], fairshare.Usage, float], fairshare.QueueEntry | None]


def new_state(qpu_id: str) -> State:
    return {
        "qpu_id": qpu_id,
        "registered": False,
        "num_qubits": 0,
        "epoch": 0,
        "drained": False,
        "calibrating": False,
        "queue": [],        # entries: job_id, tenant_id, lane, accepted_at, spec
        "running": None,    # job_id holding the QPU
        "slot": 0,          # reservations made so far
        "seen": [],         # job ids ever enqueued (bounded below)
        "usage": {},        # tenant -> [decayed QPU-seconds, at (epoch s)] on this QPU
        "coupling": [],       # the QPU's coupling map
        "qubit_error": {},    # physical qubit -> current error estimate (from the calibration snapshot)
        "quarantined": [],
        "running_job": {},    # who holds the QPU: tenant, physical qubits, pulse level, QPU-seconds
        "heat": {}, "load_s": 0.0, "recent": [], "measured": {},  # health (see domain.health)
        "incidents": {}, "incident_ids": [],
        "calibrated_at": 0.0,
        "cal_requested": "",  # an operator's reason, until the calibration starts
        "cal_failures": 0,    # consecutive failed calibrations: out of service while > 0
        "failed_at": 0.0,
        "version": 0,
    }


_SEEN_LIMIT = 2_000  # redeliveries come from the last uncommitted window, not from long ago


def _remember(state: State, job_id: str) -> None:
    seen = state["seen"]
    seen.append(job_id)
    if len(seen) > _SEEN_LIMIT:
        del seen[: len(seen) - _SEEN_LIMIT]


def fold(state: State, e: ev.Event) -> State:
    """Apply one event; unknown or duplicate facts leave the state as it was."""
    s = {**state, "queue": list(state["queue"]), "seen": list(state["seen"])}
    match e:
        case ev.QpuRegistered(num_qubits=n):
            s["registered"], s["num_qubits"] = True, n
            s["calibrated_at"] = e.occurred_at.timestamp()
            s["coupling"] = [list(p) for p in e.coupling_map]
            s["qubit_error"] = qubit_errors(e.calibration)
        case ev.CalibrationRequested(reason=reason):
            s["cal_requested"] = reason or "operator request"
        case ev.CalibrationCompleted(epoch=epoch):
            s["epoch"], s["calibrating"] = max(s["epoch"], epoch), False
            s["calibrated_at"], s["cal_failures"] = e.occurred_at.timestamp(), 0
            s["qubit_error"] = qubit_errors(e.snapshot) or s["qubit_error"]
            # a fresh calibration retunes every qubit: quarantines, heating and drift start over
            s["quarantined"], s["heat"], s["load_s"], s["measured"] = [], {}, 0.0, {}
        case ev.HealthChecked(qubit_error=measured) if e.calibration_epoch == state["epoch"]:
            s["measured"] = dict(measured)
        case ev.NoisyNeighbourDetected() if e.event_id not in state.get("incident_ids", []):
            s["incident_ids"] = (state.get("incident_ids", []) + [e.event_id])[-100:]
            if e.action == "quarantine":
                s["quarantined"] = sorted(set(state["quarantined"]) | set(e.qubits))
            if e.suspect_tenant_id:
                s["incidents"] = {**state.get("incidents", {}),
                                  e.suspect_tenant_id: state.get("incidents", {}).get(e.suspect_tenant_id, 0) + 1}
        case ev.CalibrationStarted():
            s["calibrating"], s["cal_requested"] = True, ""
        case ev.CalibrationFailed():
            s["calibrating"], s["cal_failures"], s["failed_at"] = False, s["cal_failures"] + 1, e.occurred_at.timestamp()
        case ev.QpuDrained():
            s["drained"] = True
        case ev.QpuResumed():
            s["drained"] = False
        case ev.JobAccepted(job_id=jid) if jid not in s["seen"] and e.spec is not None:
            _remember(s, jid)
            s["queue"].append({
                "job_id": jid, "tenant_id": e.tenant_id, "lane": e.lane, "weight": e.weight,
                "size_s": e.qpu_seconds_estimate, "accepted_at": e.occurred_at.isoformat(),
                "spec": e.spec.model_dump(mode="json"),
            })
        case ev.SlotReserved(job_id=jid):
            # the scheduler removes a job when it reserves; a read model learns it from the event
            s["queue"] = [q for q in s["queue"] if q["job_id"] != jid]
            if not s["running"]:
                s["running"] = jid
        case ev.ShotsMeasured(tenant_id=tid, qpu_seconds=qs):
            s["usage"] = _add_usage(state.get("usage", {}), tid, qs, e.occurred_at.timestamp())
            if state.get("running_job", {}).get("job_id") == e.job_id:
                s["running_job"] = {**state["running_job"], "qpu_seconds": qs}
        case ev.JobCompleted(job_id=jid) | ev.JobFailed(job_id=jid) | ev.JobCancelled(job_id=jid):
            s["queue"] = [q for q in s["queue"] if q["job_id"] != jid]
            if s["running"] == jid:
                s["running"] = None
        case _:
            return state
    s["version"] = state["version"] + 1
    return s


def cancel(state: State, e: ev.CancelRequested) -> tuple[State, ev.JobCancelled | None]:
    """Cancel a queued job now. A running job is not cut: it finishes at its boundary and is billed as such."""
    entry = next((q for q in state["queue"] if q["job_id"] == e.job_id), None)
    if entry is None:
        return state, None
    s = {**state, "queue": [q for q in state["queue"] if q["job_id"] != e.job_id], "version": state["version"] + 1}
    return s, ev.JobCancelled(
        event_id=ev.deterministic_id(e.job_id, "JobCancelled"), tenant_id=entry["tenant_id"], aggregate_id=e.job_id,
        aggregate_version=2, occurred_at=e.occurred_at, job_id=e.job_id, qpu_id=state["qpu_id"])


HALF_LIFE_S = fairshare.Params().half_life_s


def qubit_errors(snapshot: dict[str, Any]) -> dict[str, float]:
    """Per-qubit error from a calibration snapshot: 1-qubit gate error plus mean readout error."""
    out: dict[str, float] = {}
    for i, q in enumerate(snapshot.get("qubits") or []):
        if isinstance(q, dict):
            out[str(i)] = float(q.get("gate_error_1q", 0.0)) + (
                float(q.get("readout_p1_given_0", 0.0)) + float(q.get("readout_p0_given_1", 0.0))) / 2
    return out


def place(state: State, num_qubits: int) -> list[int]:
    """Connected physical qubits with the best current errors, avoiding quarantined ones."""
    n = state["num_qubits"]
    coupling = [tuple(p) for p in state["coupling"]] or [(i, i + 1) for i in range(n - 1)]
    if n < num_qubits or not n:
        return list(range(num_qubits))
    errors = {int(k): v for k, v in state["qubit_error"].items()}
    got = placement.place(placement.Device.from_coupling(n, coupling), placement.Occupancy(), num_qubits, errors,
                          quarantined=state["quarantined"])
    return list(got.physical_qubits) if isinstance(got, placement.Placement) else list(range(num_qubits))


def _add_usage(usage: dict[str, list[float]], tenant_id: str, qpu_seconds: float, t: float) -> dict[str, list[float]]:
    value, t0 = usage.get(tenant_id, (0.0, t))
    if t >= t0:
        value = value * 0.5 ** ((t - t0) / HALF_LIFE_S) + qpu_seconds
    else:  # a late fact: decay it to the newer reference time
        value, t = value + qpu_seconds * 0.5 ** ((t0 - t) / HALF_LIFE_S), t0
    return {**usage, tenant_id: [value, t]}


def decayed_usage(state: State, now: float) -> dict[str, float]:
    return {t: v * 0.5 ** (max(0.0, now - t0) / HALF_LIFE_S) for t, (v, t0) in state.get("usage", {}).items()}


def entries(state: State) -> list[fairshare.QueueEntry]:
    return [fairshare.QueueEntry(
        job_id=q["job_id"], tenant_id=q["tenant_id"], lane=q["lane"], weight=float(q.get("weight", 1.0)),
        enqueued_at=datetime.fromisoformat(q["accepted_at"]).timestamp(), size_s=float(q.get("size_s", 0.0)),
        num_qubits=int(q["spec"]["num_qubits"])) for q in state["queue"]]


def fair_share(queue: list[fairshare.QueueEntry], usage: fairshare.Usage, now: float) -> fairshare.QueueEntry | None:
    return fairshare.pick(queue, usage, now)


def fifo(queue: list[fairshare.QueueEntry], usage: fairshare.Usage, now: float) -> fairshare.QueueEntry | None:
    return min(queue, key=lambda e: (e.enqueued_at, e.job_id), default=None)


def on_job_end(state: State, e: ev.Event, seed: int = 0) -> tuple[State, list[ev.Event]]:
    """When the job holding the QPU ends, check the qubits' health (see domain.health)."""
    job = state.get("running_job") or {}
    if not isinstance(e, (ev.JobCompleted, ev.JobFailed)) or job.get("job_id") != e.job_id or not state["registered"]:
        return state, []
    fields, check, incident = health.after_job(state, job, e.occurred_at, seed)
    s = {**state, **fields, "running_job": {}}
    out: list[ev.Event] = [check] + ([incident] if incident else [])
    for x in out:
        s = fold(s, x)
    return s, out


def maybe_calibrate(state: State, now: datetime, interval_s: float,
                    policy: calibration.CalParams = calibration.CalParams()) -> tuple[State, ev.CalibrationStarted | None]:
    """Start a calibration at a job boundary: never while a job holds the QPU, never mid-slot."""
    if state["running"] or state["calibrating"] or state["drained"] or not state["registered"]:
        return state, None
    t = now.timestamp()
    failures = state.get("cal_failures", 0)
    if failures:
        if t < state["failed_at"] + calibration.retry_delay_s(failures, policy):
            return state, None
        trigger = "retry"
    elif state.get("cal_requested"):
        trigger = "operator"
    elif health.drift_ratio(state) >= policy.drift_threshold:
        trigger = "drift"
    elif t - state["calibrated_at"] >= interval_s:
        trigger = "schedule"
    else:
        return state, None
    epoch = state["epoch"] + 1
    started = ev.CalibrationStarted(
        event_id=ev.deterministic_id(state["qpu_id"], "CalibrationStarted", epoch, failures), aggregate_id=state["qpu_id"],
        aggregate_version=state["version"] + 1, occurred_at=now, qpu_id=state["qpu_id"], epoch=epoch, trigger=trigger)
    return fold(state, started), started


def next_reservation(state: State, now: datetime, pick: PickFn = fair_share) -> tuple[State, ev.SlotReserved | None]:
    """If the QPU is free and in service, reserve it for the job the policy picks."""
    if (state["running"] or not state["queue"] or state["drained"] or state["calibrating"]
            or state.get("cal_failures", 0)):
        return state, None
    chosen = pick(entries(state), decayed_usage(state, now.timestamp()), now.timestamp())
    if chosen is None:
        return state, None
    head = next(q for q in state["queue"] if q["job_id"] == chosen.job_id)
    spec = ev.JobSpec.model_validate(head["spec"])
    accepted_at = datetime.fromisoformat(head["accepted_at"])
    slot = state["slot"]
    reservation = ev.SlotReserved(
        event_id=ev.deterministic_id(head["job_id"], "SlotReserved"),
        tenant_id=head["tenant_id"],
        aggregate_id=head["job_id"],
        aggregate_version=2,
        occurred_at=max(now, accepted_at),
        job_id=head["job_id"],
        qpu_id=state["qpu_id"],
        slot=slot,
        physical_qubits=place(state, spec.num_qubits),
        calibration_epoch=state["epoch"],
        queue_wait_s=max(0.0, (now - spec.submitted_at).total_seconds()),
        spec=spec,
    )
    s = {**state, "queue": [q for q in state["queue"] if q["job_id"] != head["job_id"]],
         "running": head["job_id"], "slot": slot + 1, "version": state["version"] + 1,
         "running_job": {"job_id": head["job_id"], "tenant_id": head["tenant_id"], "qubits": reservation.physical_qubits,
                         "pulse_level": spec.pulse_level, "qpu_seconds": 0.0}}
    return s, reservation
