"""`qmux`: the command line for tenants, operators, auditors and analysts.

Every command either succeeds or prints one line saying what to fix and exits non-zero.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any, Callable

from infra.client import CliError, Gateway
from infra.settings import Settings, load


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


def _key(settings: Settings, args: argparse.Namespace) -> str:
    key = getattr(args, "key", None) or settings.api_key
    if not key:
        raise CliError("no API key: pass --key or set QMUX_API_KEY (an operator creates one with `qmux tenant add NAME`)")
    return key


# ---------------------------------------------------------------- stack


def cmd_up(s: Settings, a: argparse.Namespace) -> int:
    from infra import stack

    stack.up(s)
    return 0


def cmd_down(s: Settings, a: argparse.Namespace) -> int:
    from infra import stack

    stack.down(s)
    return 0


def cmd_status(s: Settings, a: argparse.Namespace) -> int:
    from infra import stack

    _print_json(stack.status(s))
    return 0


def cmd_logs(s: Settings, a: argparse.Namespace) -> int:
    from infra import procs

    path = s.home / "logs" / f"{a.service}.log"
    if not path.exists():
        raise CliError(f"no log at {path}: has `qmux up` run with QMUX_HOME={s.home}?")
    print(procs.log_tail(s, a.service, a.lines))
    return 0


def cmd_kafka_fetch(s: Settings, a: argparse.Namespace) -> int:
    from infra.kafka import broker

    lib = broker.fetch(s)
    print(f"Kafka {s.kafka_version} jars ready in {lib}")
    return 0


def cmd_topics(s: Settings, a: argparse.Namespace) -> int:
    from infra.kafka import broker

    broker.ensure_topics(s)
    print(f"topics ready on {s.bootstrap}")
    return 0


def cmd_projector(s: Settings, a: argparse.Namespace) -> int:
    import asyncio

    from projections.projector import Projector

    if s.dsn.startswith("chdb://"):
        raise CliError("with the embedded chDB the gateway runs the projector; a standalone projector needs an http:// QMUX_CLICKHOUSE_DSN")
    asyncio.run(Projector(s).run())
    return 0


def cmd_worker(s: Settings, a: argparse.Namespace) -> int:
    from streams.app import run_worker

    run_worker(s)
    return 0


def cmd_gateway(s: Settings, a: argparse.Namespace) -> int:
    from streams.gateway.server import run_gateway

    run_gateway(s)
    return 0


# ---------------------------------------------------------------- tenants and jobs


def cmd_tenant_add(s: Settings, a: argparse.Namespace) -> int:
    from infra.client import operator_key

    with Gateway(s, key=operator_key(s)) as gw:
        r = gw.request("POST", "/v1/tenants", json={"name": a.name, "plan": a.plan, "role": a.role})
    print(f"tenant {r['tenant_id']} ({'created' if r['created'] else 'existing'}); API key (shown once):")
    print(r["api_key"])
    return 0


def cmd_submit(s: Settings, a: argparse.Namespace) -> int:
    path = Path(a.file)
    if not path.exists():
        raise CliError(f"no such circuit file: {path}")
    text = path.read_text()
    body: dict[str, Any] = {"shots": a.shots, "qpu": a.qpu}
    if path.suffix == ".json":
        body.update(circuit=json.loads(text), format="json")
    else:
        body.update(circuit=text, format="qasm2")
    if a.seed is not None:
        body["seed"] = a.seed
    headers = {"Idempotency-Key": a.idempotency_key} if a.idempotency_key else {}
    with Gateway(s, key=_key(s, a)) as gw:
        r = gw.request("POST", "/v1/jobs", json=body, headers=headers)
        print(r["job_id"])
        if a.wait:
            from infra.demo import wait_for

            wait_for(gw, [r["job_id"]], progress=lambda m: print(m, file=sys.stderr))
            _print_json(gw.request("GET", f"/v1/jobs/{r['job_id']}/result"))
    return 0


def cmd_jobs(s: Settings, a: argparse.Namespace) -> int:
    with Gateway(s, key=_key(s, a)) as gw:
        jobs = gw.request("GET", "/v1/jobs", params={"limit": a.limit})
    for j in jobs:
        print(f"{j.get('job_id')}  {j.get('status'):<10} {j.get('qpu_id')}  shots={j.get('shots')}  "
              f"wait={j.get('queue_wait_s')}")
    return 0


def cmd_result(s: Settings, a: argparse.Namespace) -> int:
    with Gateway(s, key=_key(s, a)) as gw:
        _print_json(gw.request("GET", f"/v1/jobs/{a.job_id}/result"))
    return 0


def cmd_invoice(s: Settings, a: argparse.Namespace) -> int:
    from infra.sqlcli import format_table

    with Gateway(s, key=_key(s, a)) as gw:
        r = gw.request("GET", "/v1/invoices")
    if a.json:
        _print_json(r)
        return 0
    print(f"tenant {r['tenant_id']}, amounts in {r['unit']}")
    rows = r["charges_by_period"]
    print(format_table({"columns": list(rows[0]) if rows else ["period"], "rows": [list(x.values()) for x in rows]}))
    inv = r["invoices"]
    print(format_table({"columns": list(inv[0]) if inv else ["invoices"], "rows": [list(x.values()) for x in inv]})
          if inv else "no invoice issued yet (a period is invoiced once it has ended)")
    return 0


def cmd_sql(s: Settings, a: argparse.Namespace) -> int:
    from infra.sqlcli import run_sql

    run_sql(s, a.query, key=getattr(a, "key", None) or s.api_key, fmt=a.format)
    return 0


def cmd_audit_replay(s: Settings, a: argparse.Namespace) -> int:
    from infra import audit

    return audit.replay(s, as_json=a.json, rebuild=a.rebuild)


def cmd_audit_verify(s: Settings, a: argparse.Namespace) -> int:
    from infra import audit

    return audit.verify(s, as_json=a.json)


def cmd_sli(s: Settings, a: argparse.Namespace) -> int:
    from infra import audit

    return audit.slis(s, tenant=a.tenant, as_json=a.json)


def cmd_demo(s: Settings, a: argparse.Namespace) -> int:
    from infra.demo import run_demo

    return run_demo(s, jobs_per_tenant=a.jobs_per_tenant, tenants=a.tenants)


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qmux", description="qmux: a multi-tenant QPU control plane")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[Settings, argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(func=fn)
        return sp

    add("up", cmd_up, "start the local stack: Kafka broker (unless QMUX_KAFKA_BOOTSTRAP), worker, gateway")
    add("down", cmd_down, "stop the local stack")
    add("status", cmd_status, "show what is running")
    lg = add("logs", cmd_logs, "print the last lines of a service's log")
    lg.add_argument("service", nargs="?", default="gateway", choices=["gateway", "worker", "kafka"])
    lg.add_argument("-n", "--lines", type=int, default=50)
    kf = sub.add_parser("kafka", help="Kafka tooling")
    kfs = kf.add_subparsers(dest="kafka_command", required=True)
    kfs.add_parser("fetch", help="resolve the broker jars from Maven Central (cached)").set_defaults(func=cmd_kafka_fetch)
    add("topics", cmd_topics, "create every qmux topic on the configured Kafka cluster (idempotent)")
    add("projector", cmd_projector, "run the ClickHouse projector in the foreground (server DSN)")
    add("worker", cmd_worker, "run the Faust worker in the foreground")
    add("gateway", cmd_gateway, "run the HTTP gateway (and, embedded, the projector) in the foreground")

    tn = sub.add_parser("tenant", help="manage tenants (operator)")
    tns = tn.add_subparsers(dest="tenant_command", required=True)
    ta = tns.add_parser("add", help="register a tenant (or add a key to an existing one) and print its API key")
    ta.add_argument("name")
    ta.add_argument("--plan", default="standard")
    ta.add_argument("--role", default="tenant", choices=["tenant", "operator", "auditor", "analyst"])
    ta.set_defaults(func=cmd_tenant_add)

    sb = add("submit", cmd_submit, "submit a circuit file (.qasm or .json)")
    sb.add_argument("file")
    sb.add_argument("--shots", type=int, default=1024)
    sb.add_argument("--qpu", default="qpu-a")
    sb.add_argument("--seed", type=int)
    sb.add_argument("--idempotency-key")
    sb.add_argument("--wait", action="store_true", help="wait for the result and print it")
    sb.add_argument("--key", help="API key (default: QMUX_API_KEY)")
    jb = add("jobs", cmd_jobs, "list your jobs")
    jb.add_argument("--limit", type=int, default=50)
    jb.add_argument("--key")
    rs = add("result", cmd_result, "print a completed job's counts")
    rs.add_argument("job_id")
    rs.add_argument("--key")
    iv = add("invoice", cmd_invoice, "your invoices and the running total of the open period")
    iv.add_argument("--json", action="store_true")
    iv.add_argument("--key")
    sq = add("sql", cmd_sql, "run a read-only SQL query on the configured ClickHouse")
    sq.add_argument("query")
    sq.add_argument("--format", choices=["table", "json"], default="table")
    sq.add_argument("--key")
    dm = add("demo", cmd_demo, "several tenants submit jobs through the running stack; prints results, waits, usage")
    dm.add_argument("--tenants", type=int, default=3)
    dm.add_argument("--jobs-per-tenant", type=int, default=12)

    au = sub.add_parser("audit", help="auditor: replay the log, reconcile bills, verify hash chains")
    aus = au.add_subparsers(dest="audit_command", required=True)
    ar = aus.add_parser("replay", help="re-derive every bill from offset 0 and compare with the log and ClickHouse")
    ar.add_argument("--json", action="store_true", help="print the reconciliation as JSON")
    ar.add_argument("--rebuild", action="store_true", help="also drop and rebuild every projection; checksums must match")
    ar.set_defaults(func=cmd_audit_replay)
    av = aus.add_parser("verify-chain", help="recompute every tenant's billing hash chain; report the first broken link")
    av.add_argument("--json", action="store_true")
    av.set_defaults(func=cmd_audit_verify)
    sl = add("sli", cmd_sli, "print the SLIs M1-M10 from ClickHouse")
    sl.add_argument("--tenant")
    sl.add_argument("--json", action="store_true")

    sub.add_parser("sim", help="run the scheduling simulation (qmux policy vs FIFO vs plain fair share); see qmux sim --help")

    for mount in _optional_mounts():
        mount(sub)
    return p


def _optional_mounts() -> list[Callable[[Any], None]]:
    """Commands owned by other packages register themselves here."""
    mounts: list[Callable[[Any], None]] = []
    from qpu_jax import cli as device_cli

    mounts.append(device_cli.register)
    return mounts


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sim"]:  # the simulator owns its flags
        from bench.sim import main as sim_main

        return sim_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load()
        fn = args.func
        # commands mounted from other packages take only their arguments
        if len(inspect.signature(fn).parameters) == 1:
            return int(fn(args) or 0)
        return int(fn(settings, args) or 0)
    except CliError as exc:
        print(f"qmux: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qmux: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
