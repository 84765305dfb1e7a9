"""event -> rows, without a database."""

from __future__ import annotations

import json

import pytest

from domain import events as ev
from projections import rows, schema
from tests.projections import factory as f


def _all_events() -> list[ev.Event]:
    return [*f.job_path("j1"), *f.job_path("j2", outcome="failed"), *f.job_path("j3", outcome="rejected"),
            *f.job_path("j4", outcome="cancelled"), f.charged("j1", 100), f.invoice(), f.registered(),
            *f.calibration("qpu-a", 1, 0), *f.calibration("qpu-a", 2, 50, ok=False), f.drained("qpu-a", 60),
            f.resumed("qpu-a", 70), f.health("qpu-a", 80, {"0": 0.01, "1": 0.03}), f.noisy("qpu-a", "acme", 90),
            f.dead(),
            ev.TenantRegistered(event_id="t1", tenant_id="acme", aggregate_id="acme", aggregate_version=0,
                                occurred_at=f.at(0), name="Acme"),
            ev.PriceBookPublished(event_id="pb1", aggregate_id="pricebook", aggregate_version=1, occurred_at=f.at(0),
                                  version=1, effective_from=f.at(0), per_shot_micro=10, per_qpu_second_micro=1,
                                  per_job_micro=0, lane_multiplier_milli={"standard": 1000})]


def test_every_row_has_exactly_its_tables_columns():
    for e in _all_events():
        for table, items in rows.rows_for(e, "qmux.t", 1, 9).items():
            for r in items:
                assert set(r) == set(schema.TABLE[table].insert_columns), (e.type, table)


def test_every_event_gives_one_audit_row_with_its_location_and_payload():
    for e in _all_events():
        (row,) = rows.rows_for(e, "qmux.jobs", 3, 17)["events"]
        assert (row["event_id"], row["type"], row["topic"], row["partition"], row["offset"]) == (
            e.event_id, e.type, "qmux.jobs", 3, 17)
        assert row["tenant_id"] == (e.tenant_id or "")
        assert ev.parse_event(row["payload"]) == e


@pytest.mark.parametrize("outcome,statuses", [
    ("completed", ["submitted", "queued", "reserved", "running", "measured", "completed"]),
    ("failed", ["submitted", "queued", "reserved", "running", "failed"]),
    ("rejected", ["submitted", "rejected"]),
    ("cancelled", ["submitted", "queued", "cancelled"]),
])
def test_job_events_carry_status_and_terminal_flag(outcome, statuses):
    got = [rows.rows_for(e, "x", 0, 0)["job_events"][0] for e in f.job_path("j", outcome=outcome)]
    assert [r["status"] for r in got] == statuses
    assert [r["terminal"] for r in got] == [0] * (len(statuses) - 1) + [1]
    assert all(r["tenant_id"] == "acme" and r["job_id"] == "j" for r in got)


def test_job_fields_come_from_the_event_that_knows_them():
    by_type = {e.type: rows.rows_for(e, "x", 0, 0)["job_events"][0] for e in f.job_path("j", shots=64, wait=1.5)}
    assert by_type["JobSubmitted"]["shots"] == 64
    assert by_type["JobSubmitted"]["submitted_at"] == f.at(0)
    assert by_type["JobAccepted"]["lane"] == "standard"
    assert by_type["SlotReserved"]["queue_wait_s"] == 1.5 and by_type["SlotReserved"]["physical_qubits"] == [0, 1]
    assert json.loads(by_type["ShotsMeasured"]["counts"]) == {"00": 32, "11": 32}
    assert by_type["ShotsMeasured"]["shots_done"] == 64
    assert by_type["JobCompleted"]["calibration_epoch"] == 1


def test_aborts_return_to_reserved_or_fail():
    base = dict(event_id="a", tenant_id="acme", aggregate_id="j", aggregate_version=4, occurred_at=f.at(1),
                job_id="j", qpu_id="q", attempt=1, reason="hw")
    retry = rows.rows_for(ev.JobAborted(**base, will_retry=True), "x", 0, 0)["job_events"][0]
    final = rows.rows_for(ev.JobAborted(**base, will_retry=False), "x", 0, 0)["job_events"][0]
    assert (retry["status"], retry["terminal"]) == ("reserved", 0)
    assert (final["status"], final["terminal"], final["system_fault"]) == ("failed", 1, 1)


def test_billing_events_make_charges_and_invoice_lines_not_job_rows():
    out = rows.rows_for(f.charged("j1", 100), "qmux.billing", 0, 0)
    assert "job_events" not in out
    (c,) = out["charges"]
    assert (c["tenant_id"], c["job_id"], c["amount_micro"], c["shots"]) == ("acme", "j1", 1000, 100)
    inv = rows.rows_for(f.invoice(), "qmux.billing", 0, 1)
    assert inv["invoices"][0]["total_micro"] == 1500 and inv["invoices"][0]["line_count"] == 2
    assert [(li["line_no"], li["job_id"], li["amount_micro"]) for li in inv["invoice_lines"]] == [
        (0, "j1", 1000), (1, "j2", 500)]


def test_calibration_events_feed_calibrations_states_and_qubit_metrics():
    started, completed = f.calibration("qpu-a", 3, 0)
    s = rows.rows_for(started, "c", 0, 0)
    assert s["calibrations"][0]["status"] == "started" and s["qpu_states"][0]["cal_down"] == 1
    c = rows.rows_for(completed, "c", 0, 1)
    assert c["calibrations"][0]["epoch"] == 3 and c["qpu_states"][0]["cal_down"] == 0
    assert {(m["qubit"], m["metric"], m["value"]) for m in c["qubit_metrics"]} == {
        (0, "t1_us", 110.0), (0, "gate_fidelity", 0.999), (1, "t1_us", 95.0), (1, "gate_fidelity", 0.998)}
    _, failed = f.calibration("qpu-a", 4, 0, ok=False)
    fr = rows.rows_for(failed, "c", 0, 2)
    assert fr["calibrations"][0]["reason"] == "fit did not converge" and fr["qpu_states"][0]["cal_down"] == 1


def test_registration_snapshot_layouts_become_per_qubit_metrics():
    out = rows.rows_for(f.registered(), "admin", 0, 0)
    got = {(m["qubit"], m["metric"]): m["value"] for m in out["qubit_metrics"]}
    assert got == {(0, "t1_us"): 100.0, (1, "t1_us"): 90.0, (2, "t1_us"): 80.0,
                   (0, "readout_error"): 0.01, (1, "readout_error"): 0.02, (2, "readout_error"): 0.03}
    assert out["qpu_states"][0]["drained"] == 0


def test_drain_resume_health_noise_and_dead_letters():
    assert rows.rows_for(f.drained("q", 1), "a", 0, 0)["qpu_states"][0]["drained"] == 1
    assert rows.rows_for(f.resumed("q", 2), "a", 0, 0)["qpu_states"][0]["drained"] == 0
    h = rows.rows_for(f.health("q", 3, {"1": 0.02, "0": 0.01}), "c", 0, 0)["qubit_metrics"]
    assert [(m["qubit"], m["metric"], m["value"], m["source"]) for m in h] == [(0, "error", 0.01, "health"),
                                                                               (1, "error", 0.02, "health")]
    (i,) = rows.rows_for(f.noisy("q", "acme", 4), "c", 0, 0)["incidents"]
    assert (i["tenant_id"], i["action"], i["affected_tenants"]) == ("acme", "quarantine", ["beta"])
    (d,) = rows.rows_for(f.dead(), "qmux.deadletter", 0, 0)["dead_letters"]
    assert (d["source_topic"], d["source_offset"], d["reason"]) == ("qmux.jobs", 42, "bad json")


def test_undecodable_message_is_a_deterministic_dead_letter():
    a = rows.undecodable("qmux.jobs", 2, 5, b"\xffnot json", "invalid JSON", 1_790_000_000_000)
    b = rows.undecodable("qmux.jobs", 2, 5, b"\xffnot json", "invalid JSON", 1_790_000_000_000)
    assert a == b
    (d,) = a["dead_letters"]
    assert d["recorded_by"] == "projector" and d["source_partition"] == 2 and "not json" in d["payload"]


def test_admin_events_only_reach_the_audit_table():
    e = _all_events()[-1]
    assert set(rows.rows_for(e, "admin", 0, 0)) == {"events"}
