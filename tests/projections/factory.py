"""Small builders for catalogue events with deterministic ids and times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from domain import events as ev

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _base(kind: str, key: str, t: float, tenant: str | None, version: int = 0) -> dict[str, Any]:
    return {"event_id": ev.deterministic_id(key, kind), "tenant_id": tenant, "aggregate_id": key,
            "aggregate_version": version, "occurred_at": at(t)}


def job_path(job_id: str, tenant: str = "acme", qpu: str = "qpu-a", t: float = 0.0, shots: int = 100,
             wait: float = 2.0, run: float = 3.0, outcome: str = "completed", epoch: int = 1) -> list[ev.Event]:
    """Every event of one job from submission to `outcome` (completed | failed | rejected | cancelled)."""
    b = lambda kind, dt, v: _base(kind, job_id, t + dt, tenant, v)  # noqa: E731
    out: list[ev.Event] = [ev.JobSubmitted(**b("JobSubmitted", 0, 0), job_id=job_id, qpu_id=qpu,
                                           circuit_format="qasm2", circuit="OPENQASM 2.0;", num_qubits=2,
                                           num_gates=3, shots=shots, seed=7)]
    if outcome == "rejected":
        return out + [ev.JobRejected(**b("JobRejected", 0, 1), job_id=job_id, qpu_id=qpu, reason="quota", limit="shots")]
    out.append(ev.JobAccepted(**b("JobAccepted", 0, 1), job_id=job_id, qpu_id=qpu, lane="standard"))
    if outcome == "cancelled":
        return out + [ev.JobCancelled(**b("JobCancelled", 1, 2), job_id=job_id, qpu_id=qpu)]
    out.append(ev.SlotReserved(**b("SlotReserved", wait, 2), job_id=job_id, qpu_id=qpu, slot=0,
                               physical_qubits=[0, 1], calibration_epoch=epoch, queue_wait_s=wait))
    out.append(ev.JobStarted(**b("JobStarted", wait, 3), job_id=job_id, qpu_id=qpu, attempt=1, calibration_epoch=epoch))
    if outcome == "failed":
        return out + [ev.JobFailed(**b("JobFailed", wait + run, 4), job_id=job_id, qpu_id=qpu, reason="device fault")]
    out.append(ev.ShotsMeasured(**b("ShotsMeasured", wait + run, 4), job_id=job_id, qpu_id=qpu, shots=shots,
                                counts={"00": shots // 2, "11": shots - shots // 2}, qpu_seconds=shots * 1e-4,
                                calibration_epoch=epoch, compute_seconds=0.01))
    out.append(ev.JobCompleted(**b("JobCompleted", wait + run, 5), job_id=job_id, qpu_id=qpu, calibration_epoch=epoch))
    return out


def charged(job_id: str, shots: int, tenant: str = "acme", t: float = 10.0) -> ev.UsageCharged:
    return ev.UsageCharged(**_base("UsageCharged", job_id, t, tenant, 6), job_id=job_id, amount_micro=shots * 10,
                           shots=shots, qpu_seconds_micro=shots * 100, price_book_version=1, calibration_epoch=1,
                           source_event_ids=[ev.deterministic_id(job_id, "ShotsMeasured")], chain_hash="ab" * 16)


def invoice(tenant: str = "acme", t: float = 100.0) -> ev.InvoiceIssued:
    return ev.InvoiceIssued(**_base("InvoiceIssued", f"inv-{tenant}", t, tenant), invoice_id=f"inv-{tenant}",
                            period="2026-11", total_micro=1500,
                            lines=[{"job_id": "j1", "amount_micro": 1000}, {"job_id": "j2", "amount_micro": 500}],
                            chain_hash="cd" * 16)


def registered(qpu: str = "qpu-a", t: float = -100.0) -> ev.QpuRegistered:
    return ev.QpuRegistered(**_base("QpuRegistered", qpu, t, None), qpu_id=qpu, num_qubits=3,
                            coupling_map=[(0, 1), (1, 2)],
                            calibration={"t1_us": [100.0, 90.0, 80.0], "readout_error": {"0": 0.01, "1": 0.02, "2": 0.03},
                                         "coupling_map": [[0, 1], [1, 2]], "name": "default"})


def calibration(qpu: str, epoch: int, t: float, ok: bool = True, duration: float = 10.0) -> list[ev.Event]:
    key = f"{qpu}/cal/{epoch}"
    started = ev.CalibrationStarted(**_base("CalibrationStarted", key, t, None, 2 * epoch - 1), qpu_id=qpu,
                                    epoch=epoch, trigger="schedule")
    if not ok:
        return [started, ev.CalibrationFailed(**_base("CalibrationFailed", key, t + duration, None, 2 * epoch),
                                              qpu_id=qpu, epoch=epoch, reason="fit did not converge")]
    return [started, ev.CalibrationCompleted(**_base("CalibrationCompleted", key, t + duration, None, 2 * epoch),
                                             qpu_id=qpu, epoch=epoch,
                                             snapshot={"qubits": [{"qubit": 0, "t1_us": 110.0, "gate_fidelity": 0.999},
                                                                  {"qubit": 1, "t1_us": 95.0, "gate_fidelity": 0.998}]})]


def drained(qpu: str, t: float) -> ev.QpuDrained:
    return ev.QpuDrained(**_base("QpuDrained", f"{qpu}/drain/{t}", t, None), qpu_id=qpu, reason="maintenance")


def resumed(qpu: str, t: float) -> ev.QpuResumed:
    return ev.QpuResumed(**_base("QpuResumed", f"{qpu}/resume/{t}", t, None), qpu_id=qpu)


def health(qpu: str, t: float, errors: dict[str, float], epoch: int = 1) -> ev.HealthChecked:
    return ev.HealthChecked(**_base("HealthChecked", f"{qpu}/health/{t}", t, None), qpu_id=qpu,
                            calibration_epoch=epoch, qubit_error=errors)


def noisy(qpu: str, suspect: str | None, t: float, action: str = "quarantine") -> ev.NoisyNeighbourDetected:
    return ev.NoisyNeighbourDetected(**_base("NoisyNeighbourDetected", f"{qpu}/noisy/{t}", t, None), qpu_id=qpu,
                                     suspect_tenant_id=suspect, qubits=[1, 2], action=action,
                                     affected_tenants=["beta"])


def dead(t: float = 5.0) -> ev.DeadLettered:
    return ev.DeadLettered(**_base("DeadLettered", "qmux.jobs/0/42", t, None), source_topic="qmux.jobs",
                           source_partition=0, source_offset=42, reason="bad json", payload="{oops")


def located(events: list[ev.Event], topic: str = "qmux.execution", partition: int = 0,
            start: int = 0) -> list[tuple[ev.Event, str, int, int]]:
    return [(e, topic, partition, start + i) for i, e in enumerate(events)]
