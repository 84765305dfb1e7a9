"""Pure `event -> rows` functions: what each event contributes to each projection table.

No I/O here. A row is a dict keyed by column name (see `projections.schema.TABLES`); every value
is derived from the event and where it was read (topic, partition, offset), never from a clock,
so projecting the same log twice gives identical tables.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from domain import events as ev

Rows = dict[str, list[dict[str, Any]]]

# stage order for job events stamped with the same instant (see schema.JOBS_VIEW)
_JOB_STATUS: dict[str, tuple[str, int]] = {
    "JobSubmitted": ("submitted", 1), "JobAccepted": ("queued", 2), "JobRejected": ("rejected", 2),
    "SlotReserved": ("reserved", 3), "JobStarted": ("running", 4), "ShotsMeasured": ("measured", 5),
    "JobCompleted": ("completed", 6), "JobFailed": ("failed", 6), "JobCancelled": ("cancelled", 6),
}
_TERMINAL = {"completed", "failed", "rejected", "cancelled"}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _job_row(e: ev.Event) -> dict[str, Any]:
    status, rank = _JOB_STATUS.get(e.type, ("", 0))
    row: dict[str, Any] = {
        "tenant_id": e.tenant_id or "", "job_id": getattr(e, "job_id"), "event_id": e.event_id,
        "type": e.type, "occurred_at": e.occurred_at, "qpu_id": getattr(e, "qpu_id", "") or "",
        "status": status, "terminal": 0, "rank": rank, "shots": None, "submitted_at": None,
        "queue_wait_s": None, "calibration_epoch": getattr(e, "calibration_epoch", None), "counts": None,
        "shots_done": None, "qpu_seconds": None, "lane": None, "reason": getattr(e, "reason", None),
        "physical_qubits": [], "attempt": getattr(e, "attempt", None), "system_fault": None,
    }
    spec = getattr(e, "spec", None)
    if spec is not None:
        row["shots"], row["submitted_at"] = spec.shots, spec.submitted_at
    match e:
        case ev.JobSubmitted():
            row["shots"], row["submitted_at"] = e.shots, e.occurred_at
        case ev.JobAccepted():
            row["lane"] = e.lane
        case ev.SlotReserved():
            row["queue_wait_s"], row["physical_qubits"] = e.queue_wait_s, list(e.physical_qubits)
        case ev.ShotsMeasured():
            row["counts"], row["shots_done"], row["qpu_seconds"] = _json(e.counts), e.shots, e.qpu_seconds
        case ev.JobCancelled():
            row["shots_done"], row["qpu_seconds"] = e.shots_done, e.qpu_seconds
        case ev.JobFailed():
            row["system_fault"] = int(e.system_fault)
        case ev.JobAborted() if not e.will_retry:
            # an abort that will not be retried ends the job as a system failure
            row["status"], row["rank"], row["system_fault"] = "failed", 6, 1
        case ev.JobAborted():
            row["status"], row["rank"] = "reserved", 3
        case ev.QuotaHeld():
            row["shots"] = e.shots
    row["terminal"] = int(row["status"] in _TERMINAL)
    return row


def _event_row(e: ev.Event, topic: str, partition: int, offset: int) -> dict[str, Any]:
    return {
        "tenant_id": e.tenant_id or "", "event_id": e.event_id, "type": e.type,
        "aggregate_id": e.aggregate_id, "aggregate_version": e.aggregate_version,
        "occurred_at": e.occurred_at, "topic": topic, "partition": partition, "offset": offset,
        "payload": e.model_dump_json(), "chain_hash": getattr(e, "chain_hash", "") or "",
    }


def _qubit_metric_rows(qpu_id: str, snapshot: dict[str, Any], time: datetime, epoch: int, source: str,
                       event_id: str) -> list[dict[str, Any]]:
    """Per-qubit numbers in a calibration snapshot, whatever its layout: `{metric: [v0, v1, ...]}`,
    `{metric: {"0": v0, ...}}` or `{"qubits": [{metric: v, ...}, ...]}` (other entries are skipped)."""
    found: dict[tuple[int, str], float] = {}

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    for key, value in snapshot.items():
        if isinstance(value, list) and value and all(number(v) for v in value):
            found.update({(q, key): float(v) for q, v in enumerate(value)})
        elif isinstance(value, dict) and value and all(str(k).isdigit() and number(v) for k, v in value.items()):
            found.update({(int(q), key): float(v) for q, v in value.items()})
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, per_qubit in enumerate(value):
                q = per_qubit.get("qubit", i)
                found.update({(int(q), m): float(v) for m, v in per_qubit.items() if m != "qubit" and number(v)})
    return [{"qpu_id": qpu_id, "qubit": q, "metric": m, "time": time, "value": v, "calibration_epoch": epoch,
             "source": source, "event_id": event_id} for (q, m), v in sorted(found.items())]


def _qpu_state(e: ev.Event, qpu_id: str, drained: int | None, cal_down: int | None) -> dict[str, Any]:
    return {"qpu_id": qpu_id, "occurred_at": e.occurred_at, "event_id": e.event_id, "type": e.type,
            "drained": drained, "cal_down": cal_down}


def rows_for(event: ev.Event, topic: str, partition: int, offset: int) -> Rows:
    """The rows `event` (read from topic/partition/offset) adds to each table; every event adds one
    `events` row, and some add rows elsewhere."""
    out: Rows = {"events": [_event_row(event, topic, partition, offset)]}
    e = event
    if hasattr(e, "job_id") and e.type not in ("UsageCharged", "QuotaSettled", "QuotaReleased"):
        out["job_events"] = [_job_row(e)]
    match e:
        case ev.UsageCharged():
            out["charges"] = [{
                "tenant_id": e.tenant_id, "job_id": e.job_id, "event_id": e.event_id, "occurred_at": e.occurred_at,
                "amount_micro": e.amount_micro, "shots": e.shots, "qpu_seconds_micro": e.qpu_seconds_micro,
                "price_book_version": e.price_book_version, "calibration_epoch": e.calibration_epoch,
                "source_event_ids": list(e.source_event_ids), "chain_hash": e.chain_hash}]
        case ev.InvoiceIssued():
            out["invoices"] = [{
                "tenant_id": e.tenant_id, "invoice_id": e.invoice_id, "event_id": e.event_id,
                "occurred_at": e.occurred_at, "period": e.period, "total_micro": e.total_micro,
                "line_count": len(e.lines), "adjusts_invoice_id": e.adjusts_invoice_id or "",
                "chain_hash": e.chain_hash}]
            out["invoice_lines"] = [{
                "tenant_id": e.tenant_id, "invoice_id": e.invoice_id, "event_id": e.event_id, "line_no": i,
                "job_id": str(line.get("job_id") or ""), "amount_micro": int(line.get("amount_micro") or 0),
                "line": _json(line)} for i, line in enumerate(e.lines)]
        case ev.CalibrationStarted() | ev.CalibrationCompleted() | ev.CalibrationFailed():
            status = {"CalibrationStarted": "started", "CalibrationCompleted": "completed",
                      "CalibrationFailed": "failed"}[e.type]
            snapshot = getattr(e, "snapshot", None)
            out["calibrations"] = [{
                "qpu_id": e.qpu_id, "epoch": e.epoch, "event_id": e.event_id, "type": e.type, "status": status,
                "occurred_at": e.occurred_at, "trigger": getattr(e, "trigger", ""),
                "reason": getattr(e, "reason", ""), "snapshot": _json(snapshot) if snapshot is not None else ""}]
            out["qpu_states"] = [_qpu_state(e, e.qpu_id, None, int(status != "completed"))]
            if snapshot:
                out["qubit_metrics"] = _qubit_metric_rows(e.qpu_id, snapshot, e.occurred_at, e.epoch,
                                                          "calibration", e.event_id)
        case ev.QpuRegistered():
            out["qpu_states"] = [_qpu_state(e, e.qpu_id, 0, 0)]
            out["qubit_metrics"] = _qubit_metric_rows(e.qpu_id, e.calibration, e.occurred_at, 0,
                                                      "registration", e.event_id)
        case ev.QpuDrained():
            out["qpu_states"] = [_qpu_state(e, e.qpu_id, 1, None)]
        case ev.QpuResumed():
            out["qpu_states"] = [_qpu_state(e, e.qpu_id, 0, None)]
        case ev.HealthChecked():
            out["qubit_metrics"] = [{
                "qpu_id": e.qpu_id, "qubit": int(q), "metric": "error", "time": e.occurred_at, "value": float(v),
                "calibration_epoch": e.calibration_epoch, "source": "health", "event_id": e.event_id}
                for q, v in sorted(e.qubit_error.items(), key=lambda kv: int(kv[0]))]
        case ev.NoisyNeighbourDetected():
            out["incidents"] = [{
                "tenant_id": e.suspect_tenant_id or "", "qpu_id": e.qpu_id, "event_id": e.event_id,
                "occurred_at": e.occurred_at, "qubits": list(e.qubits), "action": e.action,
                "affected_tenants": list(e.affected_tenants)}]
        case ev.DeadLettered():
            out["dead_letters"] = [_dead_letter_row(e, recorded_by=topic)]
    return out


def _dead_letter_row(e: ev.DeadLettered, recorded_by: str) -> dict[str, Any]:
    return {"source_topic": e.source_topic, "source_partition": e.source_partition,
            "source_offset": e.source_offset, "event_id": e.event_id, "occurred_at": e.occurred_at,
            "reason": e.reason, "payload": e.payload, "recorded_by": recorded_by}


def undecodable(topic: str, partition: int, offset: int, value: bytes | None, reason: str,
                timestamp_ms: int) -> Rows:
    """The dead-letter row for a message the projector could not decode. Its time is the message's
    own broker timestamp, so a rebuild records the same row."""
    dead = ev.DeadLettered(
        event_id=ev.deterministic_id("projector-dead", topic, partition, offset),
        aggregate_id=f"{topic}/{partition}", aggregate_version=offset,
        occurred_at=datetime.fromtimestamp(timestamp_ms / 1000, tz=timezone.utc),
        source_topic=topic, source_partition=partition, source_offset=offset,
        reason=reason[:2000], payload=(value or b"").decode("utf-8", errors="replace")[:64_000])
    return {"dead_letters": [_dead_letter_row(dead, recorded_by="projector")]}


def merge(into: Rows, more: Rows) -> Rows:
    for table, rows in more.items():
        into.setdefault(table, []).extend(rows)
    return into
