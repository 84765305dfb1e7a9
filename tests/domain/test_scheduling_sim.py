"""The harness drives the pure policies end to end; small runs check the invariants that matter."""

import pytest

from bench.sim import fidelity
from bench.sim.engine import Config, Sim
from bench.sim.metrics import summarize, water_fill
from bench.sim.workload import generate, tenants


@pytest.fixture(scope="module")
def runs():
    return {p: summarize(Sim(tenants(), generate(3, 400), Config(policy=p, seed=3, abort_p=0.1)).run())
            for p in ("qmux", "fifo", "fairshare")}


def test_every_accepted_job_ends_exactly_once_and_no_calibration_cuts_a_job(runs):
    for r in runs.values():
        assert r["terminal_exactly_once"]
        assert r["completed"] + r["failed"] + r["cancelled"] == r["accepted"]
        assert r["calibration_overlaps_job"] == 0
        assert r["aborted_attempts"] > 0


def test_same_seed_same_schedule():
    def starts(seed):
        sim = Sim(tenants(), generate(seed, 150), Config(seed=seed)).run()
        return [(j, r.first_start, r.qubits) for j, r in sorted(sim.records.items())]
    assert starts(5) == starts(5)
    assert starts(5) != starts(6)


def test_water_fill_gives_leftovers_to_backlogged_tenants():
    inf = float("inf")
    got = water_fill(10.0, {"a": 1.0, "b": 1.0, "c": 2.0}, {"a": 1.0, "b": inf, "c": inf})
    assert got["a"] == 1.0 and abs(got["b"] - 3.0) < 1e-9 and abs(got["c"] - 6.0) < 1e-9


def test_both_jain_figures_are_indices_and_forced_waits_are_reported(runs):
    for r in runs.values():
        assert 0.0 < r["jain_windowed_available"] <= 1.0 + 1e-9 and 0.0 < r["jain_windowed"] <= 1.0 + 1e-9
        assert all(v["forced_s"] >= 0.0 for v in r["wait_by_lane"].values())


def test_fidelity_sample_is_seeded_small_and_shared_and_its_circuits_are_reproducible():
    sim = Sim(tenants(), generate(3, 300), Config(seed=3)).run()
    picked = fidelity.sample(list(sim.records.values()), 3, 20)
    assert picked and all(r.shared and r.job.size == "small" for r in picked)
    assert [r.job.job_id for r in picked] == [r.job.job_id for r in fidelity.sample(list(sim.records.values()), 3, 20)]
    rec = picked[0]
    assert fidelity.circuit_qasm(rec, sim.dev.adjacency, 3) == fidelity.circuit_qasm(rec, sim.dev.adjacency, 3)
    p, q = {"0": 0.5, "1": 0.5}, {"0": 0.9, "1": 0.1}
    assert abs(fidelity.tvd(p, q) - 0.4) < 1e-12 and abs(fidelity.classical_fidelity(p, p) - 1.0) < 1e-12
