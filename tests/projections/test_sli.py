"""M1-M10 on a small synthetic log whose answers are worked out by hand."""

from __future__ import annotations

import math

import pytest

from projections import rows as rowmod
from projections.sli import SLO_SUCCESS_TARGET, run_slis
from projections.store import Store
from tests.projections import factory as f


def _one(rows: list[dict], **match) -> dict:
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


@pytest.fixture
def fleet(store: Store) -> Store:
    jobs = (f.job_path("j1", wait=1.0, run=3.0) + f.job_path("j2", wait=2.0, t=5, outcome="failed")
            + f.job_path("j3", wait=3.0, run=70.0, t=10)
            + f.job_path("b1", tenant="beta", wait=4.0, t=20) + f.job_path("b2", tenant="beta", outcome="rejected"))
    # availability: observed -100..100 s; down 0-10 (calibrating), 60-70 (drained), 80-100 (calibration failed)
    qpu = [f.registered(t=-100), *f.calibration("qpu-a", 1, 0), f.drained("qpu-a", 60), f.resumed("qpu-a", 70),
           *f.calibration("qpu-a", 2, 80, ok=False), f.health("qpu-a", 80, {"0": 0.01, "1": 0.03}),
           f.health("qpu-a", 100, {"0": 0.05, "1": 0.05}), f.noisy("qpu-a", "acme", 95)]
    billing = [f.charged("j1", 100), f.charged("j3", 90)]
    store.insert_events(f.located(jobs) + f.located(qpu, topic="qmux.calibration")
                        + f.located(billing, topic="qmux.billing"))
    store.insert_rows(rowmod.undecodable("qmux.jobs", 0, 99, b"{", "invalid JSON", 1_790_000_000_000))
    return store


def test_every_sli_runs_and_describes_itself(fleet: Store):
    out = run_slis(fleet.client, db=fleet.db)
    assert sorted(out, key=lambda k: int(k[1:])) == [f"M{i}" for i in range(1, 11)]
    assert all(v["description"] and v["rows"] for v in out.values())


def test_m1_availability_counts_calibration_drain_and_failed_calibration_as_down(fleet: Store):
    m1 = _one(run_slis(fleet.client, db=fleet.db)["M1"]["rows"], qpu_id="qpu-a")
    assert m1["observed_s"] == pytest.approx(200.0)
    assert m1["availability"] == pytest.approx(0.8)


def test_m2_m3_job_success_and_queue_wait_per_tenant_qpu_and_overall(fleet: Store):
    out = run_slis(fleet.client, db=fleet.db)
    assert _one(out["M2"]["rows"], scope="tenant", tenant_id="acme")["success_rate"] == pytest.approx(2 / 3)
    assert _one(out["M2"]["rows"], scope="tenant", tenant_id="beta")["success_rate"] == 1.0
    assert _one(out["M2"]["rows"], scope="qpu", qpu_id="qpu-a")["success_rate"] == pytest.approx(3 / 4)
    assert _one(out["M2"]["rows"], scope="all")["failed"] == 1
    m3 = _one(out["M3"]["rows"], scope="tenant", tenant_id="acme")
    assert (m3["jobs"], m3["p50_s"], m3["max_s"]) == (3, 2.0, 3.0)


def test_m4_m5_m6_device_health_calibration_and_incidents(fleet: Store):
    out = run_slis(fleet.client, db=fleet.db)
    m4 = _one(out["M4"]["rows"], qpu_id="qpu-a")
    assert m4["fidelity_mean"] == pytest.approx(0.965)
    assert m4["fidelity_latest"] == pytest.approx(0.95)
    assert m4["snapshot_fidelity_mean"] == pytest.approx(0.9985)
    assert _one(out["M5"]["rows"], qpu_id="qpu-a")["failure_rate"] == 0.5
    m6 = _one(out["M6"]["rows"], scope="tenant", tenant_id="acme")
    assert (m6["incidents"], m6["quarantines"], m6["affected_tenants"]) == (1, 1, 1)


def test_m7_metering_accuracy_flags_undercharged_and_uncharged_jobs(fleet: Store):
    m7 = run_slis(fleet.client, db=fleet.db)["M7"]["rows"]
    acme = _one(m7, scope="tenant", tenant_id="acme")
    assert (acme["charged"], acme["metered"], acme["mismatched_jobs"]) == (190, 200, 1)
    assert acme["accuracy"] == pytest.approx(0.95)
    assert _one(m7, scope="tenant", tenant_id="beta")["mismatched_jobs"] == 1


def test_m8_ingestion_lag_and_projected_share(fleet: Store):
    m8 = run_slis(fleet.client, db=fleet.db)["M8"]["rows"]
    total = _one(m8, scope="all")
    n = total["events"]
    assert n == 25 + 10 + 2  # jobs, QPU and billing events, each once
    assert total["projected_share"] == pytest.approx(n / (n + 1))
    assert math.isfinite(total["lag_p50_s"]) and total["lag_p50_s"] <= total["lag_p95_s"] <= total["lag_max_s"]


def test_m9_m10_sla_compliance_and_error_budget_burn(fleet: Store):
    out = run_slis(fleet.client, db=fleet.db)
    m9 = _one(out["M9"]["rows"], scope="tenant", tenant_id="acme")
    assert (m9["jobs"], m9["within_sla"], m9["compliance"]) == (2, 1, 0.5)
    m10 = _one(out["M10"]["rows"], scope="tenant", tenant_id="acme")
    assert m10["burn_rate"] == pytest.approx((1 / 3) / (1 - SLO_SUCCESS_TARGET))
    assert m10["finished_1h"] == 3


def test_a_tenant_reader_sees_only_its_rows_of_tenant_scoped_slis(fleet: Store):
    out = run_slis(fleet.client, tenant_id="beta", db=fleet.db)
    for key in ("M2", "M3", "M7", "M9", "M10"):
        assert out[key]["rows"] and {r["tenant_id"] for r in out[key]["rows"]} == {"beta"}, key
    assert out["M1"]["rows"]  # fleet-wide: the shared QPUs
