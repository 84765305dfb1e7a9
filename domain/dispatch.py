"""Per-QPU dispatch: which accepted jobs run next, on which qubits, and when the QPU is free.

A pure fold over the QPU's events. The state is a plain JSON-able dict so the scheduler agent can
keep it in a changelog-backed table; replaying the same events gives the same state and the same
reservations. The queue order is the fair-share policy's (`scheduling.fairshare`); placement picks
connected, healthy qubits (`scheduling.placement`); small jobs whose plans allow it share the QPU
on disjoint qubits with a buffer, and carry the crosstalk their neighbours cause. Calibrations
wait for a boundary: once one is due no job starts, and it begins when the last one ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain import events as ev
from domain import health
from domain.scheduling import calibration, fairshare, placement

State = dict[str, Any]


def new_state(qpu_id: str) -> State:
    return {
        "qpu_id": qpu_id,
        "registered": False,
        "num_qubits": 0,
        "epoch": 0,
        "drained": False,
        "calibrating": False,
        "queue": [],        # entries: job_id, tenant_id, lane, weight, size, accepted_at, a slim spec (no circuit)
        "active": {},       # job_id -> tenant, physical qubits, pulse level, shared, QPU-seconds
        "slot": 0,          # reservations made so far
        "seen": [],         # job ids ever enqueued (bounded below)
        "usage": {},        # tenant -> [decayed QPU-seconds, at (epoch s)] on this QPU
        "coupling": [],       # the QPU's coupling map
        "qubit_error": {},    # physical qubit -> current error estimate (from the calibration snapshot)
        "quarantined": [],
        "heat": {}, "load_s": 0.0, "recent": [], "measured": {},  # health (see domain.health)
        "incidents": {}, "incident_ids": [],
        "calibrated_at": 0.0,
        "cal_requested": "",  # an operator's reason, until the calibration starts
        "cal_failures": 0,    # consecutive failed calibrations: out of service while > 0
        "failed_at": 0.0,
        "version": 0,
    }


_SEEN_LIMIT = 256  # redeliveries come from the last uncommitted window; the agent also keeps a table


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
                "coschedule": e.coschedule, "spec": slim(e.spec),
            })
        case ev.SlotReserved(job_id=jid) if jid not in state["active"]:
            # the scheduler records its own reservations when it makes them; a read model learns them here
            s["queue"] = [q for q in s["queue"] if q["job_id"] != jid]
            s["active"] = {**state["active"], jid: _active(e)}
        case ev.ShotsMeasured(tenant_id=tid, qpu_seconds=qs):
            s["usage"] = _add_usage(state.get("usage", {}), tid, qs, e.occurred_at.timestamp())
            if e.job_id in state["active"]:
                s["active"] = {**state["active"], e.job_id: {**state["active"][e.job_id], "qpu_seconds": qs}}
        case ev.JobCompleted(job_id=jid) | ev.JobFailed(job_id=jid) | ev.JobCancelled(job_id=jid):
            s["queue"] = [q for q in s["queue"] if q["job_id"] != jid]
            s["active"] = {k: v for k, v in state["active"].items() if k != jid}
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


def slim(spec: ev.JobSpec) -> dict[str, Any]:
    """What scheduling needs of a job's spec; the circuit itself stays out of the (changelogged) state."""
    return {"num_qubits": spec.num_qubits, "pulse_level": spec.pulse_level,
            "max_calibration_age_s": spec.max_calibration_age_s, "submitted_at": spec.submitted_at.isoformat()}


def _active(r: ev.SlotReserved) -> dict[str, Any]:
    return {"job_id": r.job_id, "tenant_id": r.tenant_id, "qubits": list(r.physical_qubits), "shared": r.shared,
            "pulse_level": bool(r.spec and r.spec.pulse_level), "qpu_seconds": 0.0}


SMALL_QUBITS = 5  # jobs this small may share a QPU


def _device(state: State) -> placement.Device:
    n = state["num_qubits"]
    return placement.Device.from_coupling(n, [tuple(p) for p in state["coupling"]] or [(i, i + 1) for i in range(n - 1)])


def _occupancy(state: State) -> placement.Occupancy:
    occ = placement.Occupancy()
    for a in state["active"].values():
        occ = occ.occupy(placement.Running(a["job_id"], a["tenant_id"], tuple(a["qubits"]), a["shared"], a["pulse_level"]))
    return occ


def _shareable(entry: dict[str, Any]) -> bool:
    spec = entry["spec"]
    return bool(entry.get("coschedule")) and spec["num_qubits"] <= SMALL_QUBITS and not spec.get("pulse_level")


def place(state: State, entry: dict[str, Any]) -> placement.Placement | placement.Unplaceable:
    """Connected physical qubits with the best current errors, avoiding quarantined and busy ones."""
    errors = {int(k): v for k, v in state["qubit_error"].items()}
    return placement.place(_device(state), _occupancy(state), entry["spec"]["num_qubits"], errors,
                           quarantined=state["quarantined"], share=_shareable(entry), small_max_qubits=SMALL_QUBITS)


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


def on_job_end(state: State, e: ev.Event, seed: int = 0) -> tuple[State, list[ev.Event]]:
    """When a running job ends, check the qubits' health (see domain.health)."""
    if not isinstance(e, (ev.JobCompleted, ev.JobFailed)) or e.job_id not in state["active"] or not state["registered"]:
        return state, []
    job = state["active"][e.job_id]
    fields, check, incident = health.after_job(state, job, e.occurred_at, seed)
    s = {**state, **fields, "active": {k: v for k, v in state["active"].items() if k != e.job_id}}
    out: list[ev.Event] = [check] + ([incident] if incident else [])
    for x in out:
        s = fold(s, x)
    return s, out


def calibration_due(state: State, now: datetime, interval_s: float | None,
                    policy: calibration.CalParams = calibration.CalParams()) -> str | None:
    """Why a calibration is due now (its trigger), or None."""
    if state["calibrating"] or state["drained"] or not state["registered"]:
        return None
    t = now.timestamp()
    failures = state.get("cal_failures", 0)
    if failures:
        return "retry" if t >= state["failed_at"] + calibration.retry_delay_s(failures, policy) else None
    if state.get("cal_requested"):
        return "operator"
    if health.drift_ratio(state) >= policy.drift_threshold:
        return "drift"
    if interval_s is not None and t - state["calibrated_at"] >= interval_s:
        return "schedule"
    return None


def maybe_calibrate(state: State, now: datetime, interval_s: float,
                    policy: calibration.CalParams = calibration.CalParams()) -> tuple[State, ev.CalibrationStarted | None]:
    """Start a calibration at a job boundary: never while a job holds any qubit, never mid-slot."""
    trigger = calibration_due(state, now, interval_s, policy)
    if state["active"] or trigger is None:
        return state, None
    epoch = state["epoch"] + 1
    started = ev.CalibrationStarted(
        event_id=ev.deterministic_id(state["qpu_id"], "CalibrationStarted", epoch, state.get("cal_failures", 0)),
        aggregate_id=state["qpu_id"], aggregate_version=state["version"] + 1, occurred_at=now, qpu_id=state["qpu_id"],
        epoch=epoch, trigger=trigger)  # type: ignore[arg-type]
    return fold(state, started), started


def next_reservation(state: State, now: datetime, interval_s: float | None = None) -> tuple[State, ev.SlotReserved | None]:
    """Reserve qubits for the job the policy picks among those that can start now, if any.

    Nothing starts while calibrating, out of service, or with a calibration due (it waits for the
    running jobs to finish); a job asking for a fresher calibration than the QPU has waits for one."""
    if (not state["queue"] or state["drained"] or state["calibrating"] or state.get("cal_failures", 0)
            or calibration_due(state, now, interval_s) is not None):
        return state, None
    if any(not a["shared"] for a in state["active"].values()):
        return state, None  # a job that runs alone holds the QPU
    t = now.timestamp()
    by_id = {q["job_id"]: q for q in state["queue"]}
    placements: dict[str, placement.Placement] = {}
    # a placement depends only on the job's width and whether it may share: compute each kind once
    tried: dict[tuple[int, bool], placement.Placement | placement.Unplaceable] = {}

    def startable(e: fairshare.QueueEntry) -> bool:
        q = by_id[e.job_id]
        max_age = q["spec"].get("max_calibration_age_s")
        if max_age is not None and t - state["calibrated_at"] > max_age:
            return False
        if state["active"] and not _shareable(q):
            return False
        kind = (q["spec"]["num_qubits"], _shareable(q))
        if kind not in tried:
            tried[kind] = place(state, q)
        got = tried[kind]
        if isinstance(got, placement.Placement):
            placements[e.job_id] = got
            return True
        return False

    chosen = fairshare.pick(entries(state), decayed_usage(state, t), t, eligible=startable)
    if chosen is None:
        return state, None
    head, where = by_id[chosen.job_id], placements[chosen.job_id]
    submitted_at = datetime.fromisoformat(head["spec"]["submitted_at"])
    reservation = ev.SlotReserved(
        event_id=ev.deterministic_id(head["job_id"], "SlotReserved"), tenant_id=head["tenant_id"],
        aggregate_id=head["job_id"], aggregate_version=2,
        occurred_at=max(now, datetime.fromisoformat(head["accepted_at"])), job_id=head["job_id"],
        qpu_id=state["qpu_id"], slot=state["slot"], physical_qubits=list(where.physical_qubits),
        calibration_epoch=state["epoch"], queue_wait_s=max(0.0, (now - submitted_at).total_seconds()),
        crosstalk=dict(where.crosstalk), shared=where.shared,
    )  # the caller attaches the job's full spec (circuit included) before emitting it
    active = {**_active(reservation), "pulse_level": bool(head["spec"].get("pulse_level"))}
    s = {**state, "queue": [q for q in state["queue"] if q["job_id"] != head["job_id"]],
         "active": {**state["active"], head["job_id"]: active},
         "slot": state["slot"] + 1, "version": state["version"] + 1}
    return s, reservation


def reserve_all(state: State, now: datetime, interval_s: float | None = None) -> tuple[State, list[ev.SlotReserved]]:
    """Every reservation that can be made now (one, or several small jobs side by side)."""
    out: list[ev.SlotReserved] = []
    while True:
        state, r = next_reservation(state, now, interval_s=interval_s)
        if r is None:
            return state, out
        out.append(r)
