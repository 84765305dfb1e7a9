"""Health checks between jobs, and what the scheduler does with them.

After every job the QPU's qubits are checked. The measured per-qubit error is the calibrated error
grown by drift (time since calibration and load, `scheduling.calibration.drifted_errors`), plus the
heating that pulse-level / high-amplitude work leaves on its own qubits and their neighbours. The
noisy-neighbour policy (`scheduling.neighbours.detect`) then compares measured with calibrated
errors and tenants with each other, and may raise an incident: quarantine the hot qubits, or
throttle the tenant whose declared pulse-level work heated them, telling the tenants affected.

Pure and deterministic: the same events give the same checks and the same incidents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain import events as ev
from domain.scheduling import calibration, neighbours

PULSE_HEAT = 1.5          # relative error added to a pulse-level job's qubits (half on their neighbours)
HEAT_DECAY_PER_JOB = 0.5  # heating fades by this factor with every later job
RECENT_JOBS = 20


def adjacency(n: int, coupling: list[list[int]]) -> dict[int, frozenset[int]]:
    adj: dict[int, set[int]] = {q: set() for q in range(n)}
    for a, b in coupling:
        adj[a].add(b)
        adj[b].add(a)
    return {q: frozenset(v) for q, v in adj.items()}


def after_job(state: dict[str, Any], job: dict[str, Any], now: datetime, seed: int = 0
              ) -> tuple[dict[str, Any], ev.HealthChecked, ev.NoisyNeighbourDetected | None]:
    """The health check after `job` (tenant_id, job_id, qubits, pulse_level, qpu_seconds) finished.

    Returns the QPU's updated health fields and the events to emit."""
    n = state["num_qubits"]
    adj = adjacency(n, state["coupling"])
    heat = {int(q): h * HEAT_DECAY_PER_JOB for q, h in state.get("heat", {}).items()}
    if job.get("pulse_level"):
        for q in job["qubits"]:
            heat[q] = heat.get(q, 0.0) + PULSE_HEAT
            for nb in adj.get(q, ()):
                heat[nb] = heat.get(nb, 0.0) + PULSE_HEAT / 2
    load = state.get("load_s", 0.0) + job.get("qpu_seconds", 0.0) * (
        calibration.DriftParams().pulse_load_factor if job.get("pulse_level") else 1.0)
    calibrated = {int(q): e for q, e in state["qubit_error"].items()}
    drifted = calibration.drifted_errors(calibrated, now.timestamp() - state["calibrated_at"], load, seed, state["epoch"])
    measured = {q: min(0.5, e * (1.0 + heat.get(q, 0.0))) for q, e in drifted.items()}
    job_error = sum(measured.get(q, 0.0) for q in job["qubits"]) / max(1, len(job["qubits"]))
    recent = (state.get("recent", []) + [{**job, "error_rate": job_error}])[-RECENT_JOBS:]
    check = ev.HealthChecked(
        event_id=ev.deterministic_id(state["qpu_id"], "HealthChecked", job["job_id"]), aggregate_id=state["qpu_id"],
        aggregate_version=state["version"] + 1, occurred_at=now, qpu_id=state["qpu_id"],
        calibration_epoch=state["epoch"], qubit_error={str(q): round(v, 9) for q, v in measured.items()})
    incident = neighbours.detect(
        measured, calibrated,
        [neighbours.RecentJob(j["job_id"], j["tenant_id"], tuple(j["qubits"]), bool(j.get("pulse_level")),
                              j["error_rate"], ()) for j in recent],
        adj, state.get("incidents", {}))
    detected = None
    if incident is not None and incident.action != "notify":
        detected = ev.NoisyNeighbourDetected(
            event_id=ev.deterministic_id(state["qpu_id"], "NoisyNeighbourDetected", job["job_id"]),
            tenant_id=incident.suspect_tenant_id, aggregate_id=state["qpu_id"], aggregate_version=state["version"] + 2,
            occurred_at=now, qpu_id=state["qpu_id"], suspect_tenant_id=incident.suspect_tenant_id,
            qubits=list(incident.qubits), action=incident.action, affected_tenants=list(incident.affected_tenants))
    health = {"heat": {str(q): h for q, h in heat.items() if h > 1e-3}, "load_s": load, "recent": recent}
    return health, check, detected


def drift_ratio(state: dict[str, Any]) -> float:
    """Mean measured / calibrated error over the last health check (1.0 when there is none)."""
    measured, calibrated = state.get("measured", {}), state["qubit_error"]
    pairs = [(m, calibrated[q]) for q, m in measured.items() if calibrated.get(q, 0) > 0]
    return sum(m / c for m, c in pairs) / len(pairs) if pairs else 1.0
