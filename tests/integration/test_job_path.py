"""The job path end to end on the real stack: HTTP -> Kafka -> Faust agents -> qpu_jax -> ClickHouse."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from infra import procs, stack
from infra.client import Gateway, operator_key
from infra import audit
from infra.demo import ghz, qft, wait_for
from infra.sqlcli import query

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def running(stack_settings):
    try:
        stack.up(stack_settings, progress=lambda m: None, qpus=(("qpu-a", 6),))
        yield stack_settings
    finally:  # also when start-up failed half way: leave no worker or gateway behind
        for name in reversed(stack.SERVICES):
            procs.stop(stack_settings, name)


@pytest.fixture(scope="module")
def tenants(running):
    with Gateway(running, key=operator_key(running)) as gw:
        return {name: gw.request("POST", "/v1/tenants", json={"name": name})["api_key"] for name in ("alpha", "beta")}


def _http(settings, key=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=settings.gateway, headers=headers, timeout=30)


def test_a_job_runs_and_its_result_is_the_physics(running, tenants):
    with _http(running, tenants["alpha"]) as c:
        r = c.post("/v1/jobs", json={"circuit": ghz(3), "shots": 500, "qpu": "qpu-a", "seed": 11})
        assert r.status_code == 202, r.text
        jid = r.json()["job_id"]
        with Gateway(running, key=tenants["alpha"]) as gw:
            wait_for(gw, [jid], progress=lambda m: None, timeout=120)
        res = c.get(f"/v1/jobs/{jid}/result").json()
    counts = res["counts"]
    assert sum(counts.values()) == 500
    # GHZ: the two ideal outcomes dominate; noise puts a little weight elsewhere
    assert counts.get("000", 0) + counts.get("111", 0) > 400
    assert res["calibration_epoch"] == 0


def test_isolation_and_bad_input(running, tenants):
    with _http(running, tenants["alpha"]) as a, _http(running, tenants["beta"]) as b, _http(running) as anon:
        jid = a.post("/v1/jobs", json={"circuit": ghz(2), "shots": 10, "qpu": "qpu-a"}).json()["job_id"]
        assert b.get(f"/v1/jobs/{jid}").status_code == 404
        assert b.get(f"/v1/jobs/{jid}/result").status_code == 404
        assert jid not in {j["job_id"] for j in b.get("/v1/jobs").json()}
        assert anon.get("/v1/jobs").status_code == 401
        assert anon.post("/v1/jobs", json={"circuit": ghz(2)}, headers={"Authorization": "Bearer qmx_x_y"}).status_code == 401
        assert a.post("/v1/tenants", json={"name": "mallory"}).status_code == 403
        for body, needle in (
            ({"circuit": "OPENQASM 2.0; qreg q[2]; bogus q[0];", "shots": 10}, "circuit"),
            ({"circuit": ghz(2), "shots": 0}, "shots"),
            ({"circuit": ghz(2), "shots": 10**9}, "shots"),
            ({"circuit": ghz(2), "shots": "many"}, "shots"),
            ({"circuit": ghz(2), "qpu": "nope"}, "qpu"),
            ({"circuit": ghz(9), "qpu": "qpu-a"}, "qubits"),
            ({"shots": 5}, "circuit"),
        ):
            r = a.post("/v1/jobs", json=body)
            assert r.status_code == 422, (body, r.status_code, r.text)
            assert needle in r.json()["detail"], r.text
        r = a.post("/v1/jobs", content=b"x" * (running.max_body_bytes + 1), headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        r = a.post("/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 422


def test_idempotency_key_gives_exactly_one_job(running, tenants):
    with _http(running, tenants["beta"]) as c:
        body = {"circuit": ghz(2), "shots": 20, "qpu": "qpu-a"}
        ids = {c.post("/v1/jobs", json=body, headers={"Idempotency-Key": "once"}).json()["job_id"] for _ in range(3)}
        assert len(ids) == 1
        with Gateway(running, key=tenants["beta"]) as gw:
            wait_for(gw, list(ids), progress=lambda m: None, timeout=120)
    jid = ids.pop()
    rows = query(running, f"SELECT count() FROM qmux.jobs WHERE job_id = '{jid}'")["rows"]
    assert rows == [[1]]
    n = query(running, f"SELECT uniqExact(event_id) FROM qmux.events WHERE aggregate_id = '{jid}' AND type = 'ShotsMeasured'")
    assert n["rows"] == [[1]]


def test_worker_killed_mid_run_loses_and_duplicates_nothing(running, tenants):
    jobs = []
    with _http(running, tenants["alpha"]) as c:
        for i in range(40):
            r = c.post("/v1/jobs", json={"circuit": qft(4 + i % 2), "shots": 2000, "qpu": "qpu-a"})
            assert r.status_code == 202, r.text
            jobs.append(r.json()["job_id"])
    ids = ", ".join(f"'{j}'" for j in jobs)

    def completed() -> int:
        return query(running, f"SELECT count() FROM qmux.jobs WHERE job_id IN ({ids}) AND status = 'completed'")["rows"][0][0]

    deadline = time.monotonic() + 120
    while completed() < 3:
        assert time.monotonic() < deadline, "no job completed within 120 s"
        time.sleep(0.05)
    procs.kill(running, "worker", signal.SIGKILL)
    at_kill = completed()
    assert at_kill < len(jobs), "every job finished before the kill: make the jobs longer"
    time.sleep(0.5)
    procs.spawn(running, "worker", stack._qmux("worker"), env=stack.settings_env(running))
    with Gateway(running, key=tenants["alpha"]) as gw:
        done = wait_for(gw, jobs, progress=lambda m: None, timeout=240)
    assert {j["status"] for j in done.values()} == {"completed"}
    per_job = query(running, f"SELECT job_id, count() FROM qmux.jobs WHERE job_id IN ({ids}) GROUP BY job_id")["rows"]
    assert len(per_job) == len(jobs) and all(n == 1 for _, n in per_job)
    measured = query(running, f"SELECT aggregate_id, uniqExact(event_id) FROM qmux.events WHERE aggregate_id IN ({ids}) "
                              "AND type = 'ShotsMeasured' GROUP BY aggregate_id")["rows"]
    assert len(measured) == len(jobs) and all(n == 1 for _, n in measured)
    # and the bills still replay exactly once the billing agent has caught up
    deadline = time.monotonic() + 60
    while query(running, f"SELECT count() FROM qmux.charges FINAL WHERE job_id IN ({ids})")["rows"] != [[len(jobs)]]:
        assert time.monotonic() < deadline, "charges did not catch up after the restart"
        time.sleep(0.3)
    assert audit.replay(running) == 0
    assert audit.verify(running) == 0


def test_a_calibration_never_overlaps_a_running_job(running, tenants):
    """Checked from the event log itself: per QPU, job [started, finished] and calibration
    [started, completed] intervals, ordered by their position in the execution/calibration order."""
    import asyncio

    from streams import log_reader

    jobs = []
    with _http(running, tenants["beta"]) as c, Gateway(running, key=operator_key(running)) as op:
        for i in range(8):
            jobs.append(c.post("/v1/jobs", json={"circuit": ghz(3), "shots": 50, "qpu": "qpu-a"}).json()["job_id"])
            if i in (2, 5):
                op.request("POST", "/v1/qpus/qpu-a/calibrate")
        wait_for(Gateway(running, key=tenants["beta"]), jobs, progress=lambda m: None, timeout=120)
    decoded, _ = log_reader.decode_all(asyncio.run(log_reader.read_records(running, ["execution", "calibration"])))
    spans: list[tuple[str, float, float]] = []
    open_: dict[str, float] = {}
    for e, _ in sorted(decoded, key=lambda er: er[0].occurred_at):
        if getattr(e, "qpu_id", None) != "qpu-a":
            continue
        key = {"JobStarted": e.aggregate_id, "CalibrationStarted": f"cal{getattr(e, 'epoch', '')}"}.get(e.type)
        if key:
            open_.setdefault(key, e.occurred_at.timestamp())
        end = {"JobCompleted": e.aggregate_id, "JobFailed": e.aggregate_id,
               "CalibrationCompleted": f"cal{getattr(e, 'epoch', '')}", "CalibrationFailed": f"cal{getattr(e, 'epoch', '')}"}.get(e.type)
        if end and end in open_:
            spans.append((end, open_.pop(end), e.occurred_at.timestamp()))
    cals = [s for s in spans if s[0].startswith("cal")]
    runs = [s for s in spans if not s[0].startswith("cal")]
    assert cals and len(runs) >= 8  # requests made before one boundary merge into one calibration
    for name, c0, c1 in cals:
        for job, j0, j1 in runs:
            assert c1 <= j0 or j1 <= c0, f"calibration {name} [{c0}, {c1}] overlaps job {job} [{j0}, {j1}]"
    # every job ran under the calibration completed last before it started
    completed = sorted((e.occurred_at, e.epoch) for e, _ in decoded
                       if e.type == "CalibrationCompleted" and e.qpu_id == "qpu-a")
    for e, _ in decoded:
        if e.type == "JobStarted" and e.qpu_id == "qpu-a":
            expected = max((ep for t, ep in completed if t <= e.occurred_at), default=0)
            assert e.calibration_epoch == expected, (e.job_id, e.calibration_epoch, expected)


def test_the_openapi_document_describes_the_routes(running):
    with _http(running) as anon:
        doc = anon.get("/openapi.json").json()
    paths = set(doc["paths"])
    for p in ("/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/result", "/v1/tenants/me/usage", "/v1/invoices",
              "/v1/tenants", "/v1/qpus", "/v1/sql"):
        assert p in paths, p
    assert "SubmitJob" in doc["components"]["schemas"]
