"""The auditor's commands: replay the whole log and reconcile every bill, verify the hash chains,
and print the SLIs. Everything is re-derived with the same domain code the agents run."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from domain.billing.chain import BILLING_TYPES, verify_chain
from domain.billing.replay import rederive, reconcile
from infra.client import CliError, Gateway, operator_key
from infra.settings import Settings
from infra.sqlcli import format_table, query
from streams import log_reader
from streams.topics import TOPICS

CHARGE_COLUMNS = ("event_id", "tenant_id", "job_id", "amount_micro", "shots", "qpu_seconds_micro",
                  "price_book_version", "calibration_epoch")


def _progress(n: int) -> None:
    print(f"\r  read {n} events", end="", file=sys.stderr, flush=True)


def read_log(settings: Settings) -> tuple[list[Any], list[Any]]:
    names = [t.name for t in TOPICS]
    try:
        records = asyncio.run(log_reader.read_records(settings, names, progress=_progress))
    except RuntimeError as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - e.g. no broker: one line, not a traceback
        raise CliError(f"cannot read the log at {settings.bootstrap}: {type(exc).__name__}: {exc}") from None
    print(file=sys.stderr)
    return log_reader.decode_all(records)


def billing_stream(decoded: list[Any], settings: Settings) -> list[Any]:
    """The billing topic's events in log order (partition by partition: one tenant lives in one)."""
    topic = f"{settings.topic_prefix}billing"
    rows = [(r.partition, r.offset, e) for e, r in decoded if r.topic == topic and e.type in BILLING_TYPES]
    return [e for _, _, e in sorted(rows, key=lambda x: (x[0], x[1]))]


def chain_input(decoded: list[Any], settings: Settings) -> list[Any]:
    """Every fact a charge may rest on, then the billing streams in their log order."""
    return [e for e, _ in decoded if e.type not in BILLING_TYPES] + billing_stream(decoded, settings)


def replay(settings: Settings, as_json: bool = False, rebuild: bool = False, with_table: bool = True) -> int:
    t0 = time.perf_counter()
    decoded, bad = read_log(settings)
    events = [e for e, _ in decoded]
    expected = rederive(events)
    recorded = billing_stream(decoded, settings)
    rows = None
    if with_table:
        res = query(settings, f"SELECT {', '.join(CHARGE_COLUMNS)} FROM qmux.charges FINAL", key=settings.api_key)
        rows = [dict(zip(res["columns"], r)) for r in res["rows"]]
    rec = reconcile(expected, recorded, rows)
    chain = verify_chain(chain_input(decoded, settings))
    rebuilt: dict[str, Any] | None = None
    if rebuild:
        with Gateway(settings, key=settings.api_key or operator_key(settings), timeout=600) as gw:
            rebuilt = gw.request("POST", "/v1/audit/rebuild")
    seconds = time.perf_counter() - t0
    ok = rec.ok and chain.ok and not bad and (rebuilt is None or bool(rebuilt.get("equal")))
    report = {"ok": ok, "events": len(events), "undecodable": len(bad), "seconds": round(seconds, 3),
              "reconciliation": rec.to_dict(), "chain": chain.to_dict(), "rebuild": rebuilt}
    if as_json:
        print(json.dumps(report, indent=2, default=str, sort_keys=True))
    else:
        print_reconciliation(report)
    return 0 if ok else 1


def print_reconciliation(report: dict[str, Any]) -> None:
    rec = report["reconciliation"]
    rows = []
    for tenant, t in rec["tenants"].items():
        rows.append([tenant, t["charges_expected"], t["expected_micro"], t["recorded_log_micro"], t["difference_log_micro"],
                     t["recorded_table_micro"], t["difference_table_micro"], "ok" if t["ok"] else "MISMATCH"])
    cols = ["tenant", "charges", "expected_micro", "log_micro", "diff_log", "table_micro", "diff_table", "verdict"]
    print(format_table({"columns": cols, "rows": rows}))
    for tenant, t in rec["tenants"].items():
        for k in ("mismatching", "missing", "extra", "duplicated", "table_mismatching", "table_missing",
                  "table_extra", "table_duplicated", "invoice_problems"):
            if t[k]:
                print(f"  {tenant}: {k}: {', '.join(map(str, t[k][:5]))}{' ...' if len(t[k]) > 5 else ''}")
    for tenant, t in report["chain"]["tenants"].items():
        if t["first_break"]:
            b = t["first_break"]
            print(f"  {tenant}: hash chain broken at position {b['position']} ({b['kind']}, event {b['event_id']}): {b['detail']}")
    if report["undecodable"]:
        print(f"  {report['undecodable']} undecodable records in the log")
    if report.get("rebuild") is not None:
        print(f"  rebuild: checksums {'identical' if report['rebuild'].get('equal') else 'DIFFER'} before and after")
    print(f"replay of {report['events']} events in {report['seconds']}s: {'OK, 0 micro-credits difference' if report['ok'] else 'FAILED'}")


def verify(settings: Settings, as_json: bool = False) -> int:
    decoded, _ = read_log(settings)
    report = verify_chain(chain_input(decoded, settings))
    d = report.to_dict()
    if as_json:
        print(json.dumps(d, indent=2, default=str, sort_keys=True))
    else:
        for tenant, t in sorted(d["tenants"].items()):
            b = t["first_break"]
            state = "intact" if b is None else (f"BROKEN at position {b['position']} ({b['kind']}, event {b['event_id']}; "
                                                f"tampering lies in positions {b['suspect_from']}..{b['position']}): {b['detail']}")
            print(f"{tenant}: {t['links']} links, {t['anchors']} anchors, head {t['head'][:16]}: {state}")
        print("all chains intact" if report.ok else "hash chain BROKEN")
    return 0 if report.ok else 1


def slis(settings: Settings, tenant: str | None = None, as_json: bool = False) -> int:
    from projections.sli import SLIS

    out: dict[str, Any] = {}
    for s in SLIS:
        sql = f"SELECT * FROM qmux.{s.view}"
        if tenant and s.tenant_scoped:
            sql += f" WHERE tenant_id = '{tenant.replace(chr(39), '')}'"
        out[s.key] = {"description": s.description, **query(settings, sql, key=settings.api_key)}
    if as_json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    for key, v in out.items():
        print(f"\n== {key}: {v['description']}")
        print(format_table(v) if v["rows"] else "  (no data yet)")
    return 0

