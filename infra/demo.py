"""`qmux demo`: several tenants share the QPUs through the running stack, end to end.

Tenants are registered by the operator, submit a mix of GHZ, QFT and random circuits over HTTP
(with idempotency keys), and the demo follows every job to its result, then reads queue waits
and usage back from ClickHouse.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from infra.client import CliError, Gateway, operator_key
from infra.settings import Settings
from infra.sqlcli import format_table

TENANT_NAMES = ("acme", "globex", "initech", "umbrella", "hooli", "stark")
PLANS = ("premium", "standard", "free", "standard", "standard", "free")
TERMINAL = {"completed", "failed", "rejected", "cancelled"}


def ghz(n: int) -> str:
    lines = [f"qreg q[{n}];", f"creg c[{n}];", "h q[0];"] + [f"cx q[{i}],q[{i + 1}];" for i in range(n - 1)]
    return _qasm(lines + ["measure q -> c;"])


def qft(n: int) -> str:
    lines = [f"qreg q[{n}];", f"creg c[{n}];", "x q[0];"]
    for i in range(n):
        lines.append(f"h q[{i}];")
        for j in range(i + 1, n):
            lines.append(f"cu1(pi/{2 ** (j - i)}) q[{j}],q[{i}];")
    return _qasm(lines + ["measure q -> c;"])


def layered(n: int, depth: int, rng: random.Random) -> str:
    lines = [f"qreg q[{n}];", f"creg c[{n}];"]
    for d in range(depth):
        for q in range(n):
            lines.append(f"u3({rng.uniform(0, math.pi):.4f},{rng.uniform(0, 2 * math.pi):.4f},{rng.uniform(0, 2 * math.pi):.4f}) q[{q}];")
        for q in range(d % 2, n - 1, 2):
            lines.append(f"cx q[{q}],q[{q + 1}];")
    return _qasm(lines + ["measure q -> c;"])


def _qasm(body: list[str]) -> str:
    return "\n".join(['OPENQASM 2.0;', 'include "qelib1.inc";', *body]) + "\n"


def workload(tenant: str, count: int, seed: int) -> Iterable[tuple[str, str, int, str]]:
    """(label, qasm, shots, qpu) for one tenant; deterministic from the seed."""
    rng = random.Random(f"{seed}:{tenant}")
    for i in range(count):
        kind = ("ghz", "qft", "layered")[i % 3]
        n = rng.randint(2, 5)
        circuit = ghz(n) if kind == "ghz" else qft(n) if kind == "qft" else layered(n, rng.randint(3, 8), rng)
        yield f"{kind}{n}", circuit, rng.choice((256, 512, 1024, 2000)), ("qpu-a", "qpu-b")[i % 2]


def submit_politely(gw: Gateway, key: str, body: dict[str, Any], idempotency_key: str, tenant: str) -> dict[str, Any]:
    """Submit; on 429 for the rate limit, wait as Retry-After says and try again (same Idempotency-Key)."""
    for _ in range(20):
        r = gw.raw("POST", "/v1/jobs", key=key, json=body, headers={"Idempotency-Key": idempotency_key})
        if r.status_code == 429 and r.json().get("detail", "").startswith("throttled:"):
            print(f"  {tenant}: pulse-level work refused ({r.json()['detail']}); submitting it as ordinary work")
            body = {k: v for k, v in body.items() if k != "pulse_level"}
            continue
        if r.status_code == 429 and r.json().get("detail", "").startswith("rate:"):
            wait = float(r.headers.get("Retry-After", "1"))
            print(f"  {tenant}: 429 rate limit, retrying after {wait:g} s")
            time.sleep(wait)
            continue
        if r.status_code != 202:
            raise CliError(f"POST /v1/jobs -> HTTP {r.status_code}: {r.json().get('detail', r.text)}")
        return r.json()
    raise CliError("still rate-limited after 20 tries")


def wait_for(gw: Gateway, job_ids: list[str], progress: Callable[[str], None] = print, timeout: float = 150.0,
             keys: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    deadline, last = time.monotonic() + timeout, ""
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(job_ids):
        for jid in job_ids:
            if jid in done:
                continue
            job = gw.request("GET", f"/v1/jobs/{jid}", key=(keys or {}).get(jid), ok=(200, 404))
            if job and job.get("status") in TERMINAL:
                done[jid] = job
        line = f"  {len(done)}/{len(job_ids)} jobs finished"
        if line != last:
            progress(line)
            last = line
        if len(done) < len(job_ids):
            if time.monotonic() > deadline:
                raise CliError(f"only {len(done)} of {len(job_ids)} jobs finished within {timeout:.0f}s; see `qmux logs worker`")
            time.sleep(0.3)
    return done


def run_demo(settings: Settings, tenants: int = 3, jobs_per_tenant: int = 12, seed: int = 7) -> int:
    t0 = time.monotonic()
    if tenants < 1 or tenants > len(TENANT_NAMES):
        raise CliError(f"--tenants must be 1..{len(TENANT_NAMES)}")
    with Gateway(settings, key=operator_key(settings)) as gw:
        if not gw.healthy():
            raise CliError(f"no gateway at {settings.gateway}: start the stack with `qmux up`")
        run_tag = f"{int(time.time())}"
        keys: dict[str, str] = {}
        print(f"== registering {tenants} tenants")
        for name, plan in zip(TENANT_NAMES[:tenants], PLANS):
            r = gw.request("POST", "/v1/tenants", json={"name": name, "plan": plan})
            keys[r["tenant_id"]] = r["api_key"]
            print(f"  {r['tenant_id']} ({plan} plan): {'new tenant' if r['created'] else 'existing tenant'}, fresh API key issued")
        print(f"== submitting {tenants * jobs_per_tenant} jobs")
        submitted: dict[str, list[tuple[str, str, int]]] = {t: [] for t in keys}
        job_key: dict[str, str] = {}
        plans = {t: list(workload(t, jobs_per_tenant, seed)) for t in keys}
        for i in range(jobs_per_tenant):  # interleave tenants, as a shared service sees them
            if i == jobs_per_tenant // 2:
                gw.request("POST", "/v1/qpus/qpu-a/calibrate", params={"reason": "demo: recalibrate mid-run"})
                print("  operator: calibration of qpu-a requested (it starts at the next job boundary)")
            for tenant, key in keys.items():
                label, circuit, shots, qpu = plans[tenant][i]
                body = {"circuit": circuit, "shots": shots, "qpu": qpu}
                if tenant == "initech" and i == jobs_per_tenant // 3:
                    body["pulse_level"] = True  # one high-amplitude experiment: watch the incident below
                r = submit_politely(gw, key, body, f"demo-{run_tag}-{i}", tenant)
                submitted[tenant].append((r["job_id"], label, shots))
                job_key[r["job_id"]] = key
        print(f"  {sum(len(v) for v in submitted.values())} accepted (HTTP 202)")
        print("== running")
        results = wait_for(gw, list(job_key), keys=job_key)
        for tenant, jobs in submitted.items():
            print(f"\n-- {tenant}")
            for jid, label, shots in jobs:
                job = results[jid]
                top = ""
                if job.get("status") == "completed":
                    counts = gw.request("GET", f"/v1/jobs/{jid}/result", key=keys[tenant]).get("counts") or {}
                    best = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
                    top = "  ".join(f"{b}:{c}" for b, c in best)
                print(f"  {jid[:8]}  {label:<9} {job.get('qpu_id')}  {job.get('status'):<9} shots={shots:<5} "
                      f"wait={float(job.get('queue_wait_s') or 0):6.2f}s  epoch={job.get('calibration_epoch')}  {top}")
        ids = ", ".join(f"'{j}'" for j in job_key)
        print("\n== queue wait per tenant (from ClickHouse)")
        print(format_table(gw.sql(
            "SELECT tenant_id, count() AS jobs, round(quantile(0.5)(queue_wait_s), 3) AS wait_p50_s, "
            "round(quantile(0.95)(queue_wait_s), 3) AS wait_p95_s FROM qmux.jobs "
            f"WHERE job_id IN ({ids}) GROUP BY tenant_id ORDER BY tenant_id")))
        print("\n== usage per tenant (from ClickHouse)")
        print(format_table(gw.sql(
            "SELECT tenant_id, countIf(status = 'completed') AS completed, sum(shots) AS shots, "
            "round(sum(qpu_seconds), 4) AS qpu_seconds FROM qmux.jobs "
            f"WHERE job_id IN ({ids}) GROUP BY tenant_id ORDER BY tenant_id")))
        print("\n== bills for these jobs (integer micro-credits, from ClickHouse; 1 credit = 1,000,000)")
        print(format_table(gw.sql(
            "SELECT tenant_id, count() AS charges, sum(shots) AS shots, sum(qpu_seconds_micro) AS qpu_us, "
            "sum(amount_micro) AS amount_micro, any(price_book_version) AS price_book FROM qmux.charges FINAL "
            f"WHERE job_id IN ({ids}) GROUP BY tenant_id ORDER BY tenant_id")))
        print("\n== co-scheduling: small jobs of plans that allow it shared a QPU (fidelity cost measured on the device)")
        print(format_table(gw.sql(
            "SELECT countIf(type = 'SlotReserved') AS reservations, "
            "countIf(type = 'SlotReserved' AND JSONExtractBool(payload, 'shared')) AS shared, "
            "countIf(type = 'ShotsMeasured' AND JSONExtractFloat(payload, 'crosstalk_fidelity') > 0) AS with_neighbours, "
            "round(100 * (1 - avgIf(JSONExtractFloat(payload, 'crosstalk_fidelity'), type = 'ShotsMeasured' "
            "AND JSONExtractFloat(payload, 'crosstalk_fidelity') > 0)), 5) AS mean_fidelity_loss_pct "
            f"FROM qmux.events FINAL WHERE aggregate_id IN ({ids})")))
        print("\n== SLIs (qmux sli prints all ten)")
        for view, label in (("sli_m2_job_success", "M2 job success"), ("sli_m3_queue_wait", "M3 queue wait"),
                            ("sli_m7_metering_accuracy", "M7 metering accuracy"), ("sli_m8_ingestion", "M8 ingestion"), ("sli_m9_sla_latency", "M9 SLA latency"), ("sli_m6_noisy_neighbours", "M6 noisy-neighbour incidents")):
            try:
                res = gw.sql(f"SELECT * FROM qmux.{view} WHERE scope IN ('all', 'tenant') ORDER BY scope, tenant_id")
            except CliError as exc:
                res = {"columns": ["error"], "rows": [[str(exc)]]}
            print(f"-- {label}")
            print(format_table(res))
        failed = [j for j in results.values() if j.get("status") != "completed"]
    print("\n== auditor: replay the whole log from offset 0 and reconcile every bill")
    from infra.audit import replay

    replay_rc = replay(settings)
    print(f"\ndemo finished in {time.monotonic() - t0:.1f}s: {len(results) - len(failed)} jobs completed, "
          f"{len(failed)} not; replay {'matches to the micro-credit' if replay_rc == 0 else 'FOUND DIFFERENCES'}")
    return 0 if not failed and replay_rc == 0 else 1
