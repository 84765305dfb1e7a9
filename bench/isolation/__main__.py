"""Does one tenant hammering the gateway slow another tenant's submissions down?

On the running local stack (`qmux up`): a `quiet` tenant submits at a steady pace, first alone,
then while a `noisy` tenant (free plan: 1 submission/s) fires at ten times its rate limit and is
answered 429. Prints the quiet tenant's submit latency in both phases and writes JSON.

    .venv/bin/python -m bench.isolation [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import httpx

from infra.client import Gateway, operator_key
from infra.settings import load

TINY = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nx q[0];\nmeasure q[0] -> c[0];\n'
BODY = {"circuit": TINY, "shots": 10, "qpu": "qpu-b"}


async def steady(client: httpx.AsyncClient, rate: float, seconds: float) -> list[float]:
    lat: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        r = await client.post("/v1/jobs", json=BODY)
        lat.append(time.monotonic() - t)
        assert r.status_code == 202, r.text
        await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - t)))
    return lat


async def hammer(client: httpx.AsyncClient, rate: float, seconds: float) -> dict[int, int]:
    codes: dict[int, int] = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        r = await client.post("/v1/jobs", json=BODY)
        codes[r.status_code] = codes.get(r.status_code, 0) + 1
        await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - t)))
    return codes


def _p(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))] * 1000


async def run(base: str, quiet_key: str, noisy_key: str, seconds: float) -> dict:
    h = lambda k: {"Authorization": f"Bearer {k}"}  # noqa: E731
    async with httpx.AsyncClient(base_url=base, headers=h(quiet_key), timeout=30) as q, \
            httpx.AsyncClient(base_url=base, headers=h(noisy_key), timeout=30) as n:
        alone = await steady(q, 4.0, seconds)
        shared, codes = await asyncio.gather(steady(q, 4.0, seconds), hammer(n, 10.0, seconds))
    return {"alone_ms": {"p50": _p(alone, .5), "p95": _p(alone, .95), "mean": statistics.fmean(alone) * 1000},
            "with_noisy_ms": {"p50": _p(shared, .5), "p95": _p(shared, .95), "mean": statistics.fmean(shared) * 1000},
            "noisy_responses": codes}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "isolation.json"))
    a = ap.parse_args()
    s = load()
    tag = int(time.time())
    with Gateway(s, key=operator_key(s)) as gw:
        quiet = gw.request("POST", "/v1/tenants", json={"name": f"quiet{tag}", "plan": "standard"})["api_key"]
        noisy = gw.request("POST", "/v1/tenants", json={"name": f"noisy{tag}", "plan": "free"})["api_key"]
    out = asyncio.run(run(s.gateway, quiet, noisy, a.seconds))
    a_, w = out["alone_ms"], out["with_noisy_ms"]
    print(f"{'quiet tenant submit latency':<32} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    print(f"{'alone':<32} {a_['p50']:>8.1f} {a_['p95']:>8.1f} {a_['mean']:>8.1f}")
    print(f"{'noisy tenant at 10x its limit':<32} {w['p50']:>8.1f} {w['p95']:>8.1f} {w['mean']:>8.1f}")
    print(f"noisy tenant's answers: {out['noisy_responses']}; p95 ratio {w['p95'] / a_['p95']:.2f}")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
