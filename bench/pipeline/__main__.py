"""Pipeline throughput and latency on the running local stack (start it with `qmux up`).

Several tenants submit tiny circuits at once; throughput is jobs finished per second from the
first submission to the last completion, latency is submit -> completed per job, both taken from
the event times the projection holds (not from polling). Prints a table and writes JSON.

    .venv/bin/python -m bench.pipeline --jobs 300 --tenants 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx

from infra.client import Gateway, operator_key
from infra.settings import load
from infra.sqlcli import format_table

TINY = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nh q[0];\nmeasure q[0] -> c[0];\n'


async def submit_all(base: str, keys: list[str], per_tenant: int, interval: float = 0.0) -> list[str]:
    async def one_tenant(key: str) -> list[str]:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
            ids = []
            for _ in range(per_tenant):
                r = await c.post("/v1/jobs", json={"circuit": TINY, "shots": 10, "qpu": "qpu-a"})
                r.raise_for_status()
                ids.append(r.json()["job_id"])
                if interval:
                    await asyncio.sleep(interval)
            return ids

    results = await asyncio.gather(*(one_tenant(k) for k in keys))
    return [j for ids in results for j in ids]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=300)
    ap.add_argument("--tenants", type=int, default=3)
    ap.add_argument("--interval", type=float, default=0.0,
                    help="seconds between one tenant's submissions (0: as fast as the gateway takes them)")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "pipeline.json"))
    a = ap.parse_args()
    s = load()
    per = max(1, a.jobs // a.tenants)
    with Gateway(s, key=operator_key(s), timeout=60) as gw:
        tag = int(time.time())
        keys = [gw.request("POST", "/v1/tenants", json={"name": f"bench{tag}-{i}", "plan": "premium"})["api_key"]
                for i in range(a.tenants)]
        t0 = time.monotonic()
        ids = asyncio.run(submit_all(s.gateway, keys, per, a.interval))
        t_submitted = time.monotonic() - t0
        idlist = ", ".join(f"'{j}'" for j in ids)
        while True:
            done = gw.sql(f"SELECT count() FROM qmux.jobs WHERE job_id IN ({idlist}) AND status = 'completed'")["rows"][0][0]
            if done == len(ids):
                break
            if time.monotonic() - t0 > 600:
                print(f"only {done}/{len(ids)} finished in 600 s")
                return 1
            time.sleep(0.2)
        stats = gw.sql(
            "SELECT count() AS jobs, "
            "dateDiff('millisecond', min(submitted_at), max(finished_at)) / 1000 AS span_s, "
            "quantile(0.5)(dateDiff('millisecond', submitted_at, finished_at)) / 1000 AS latency_p50_s, "
            "quantile(0.95)(dateDiff('millisecond', submitted_at, finished_at)) / 1000 AS latency_p95_s, "
            "max(dateDiff('millisecond', submitted_at, finished_at)) / 1000 AS latency_max_s "
            f"FROM qmux.jobs WHERE job_id IN ({idlist})")
    row = dict(zip(stats["columns"], stats["rows"][0]))
    row["throughput_jobs_per_s"] = round(row["jobs"] / row["span_s"], 2) if row["span_s"] else None
    row["submit_seconds"] = round(t_submitted, 3)
    row["tenants"] = a.tenants
    row["interval_s"] = a.interval
    print(format_table({"columns": list(row), "rows": [list(row.values())]}))
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(row, indent=2, default=str))
    print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
