"""Writes projected rows and answers the gateway's reads. The tenant is an explicit argument of
every tenant-scoped reader."""

from __future__ import annotations

import json
import logging
from typing import Any, Iterable

from domain import events as ev
from projections import rows as rowmod
from projections import schema
from projections.client import Client

log = logging.getLogger("qmux.projections")

Located = tuple[ev.Event, str, int, int]  # (event, topic, partition, offset)


class Store:
    def __init__(self, client: Client, db: str = schema.DEFAULT_DB):
        self.client = client
        self.db = db
        schema._check_db(db)

    # ---------------------------------------------------------------- schema

    def apply_schema(self) -> None:
        for stmt in schema.statements(self.db):
            self.client.command(stmt)

    def drop_all(self) -> None:
        for stmt in schema.drop_statements(self.db):
            self.client.command(stmt)

    # ---------------------------------------------------------------- writes

    def insert_events(self, batch: Iterable[Located]) -> dict[str, int]:
        """Project located events: one insert per table for the whole batch. Returns rows per table."""
        rows: rowmod.Rows = {}
        for event, topic, partition, offset in batch:
            rowmod.merge(rows, rowmod.rows_for(event, topic, partition, offset))
        return self.insert_rows(rows)

    def insert_rows(self, rows: rowmod.Rows) -> dict[str, int]:
        written: dict[str, int] = {}
        for table, items in rows.items():
            if not items:
                continue
            cols = schema.TABLE[table].insert_columns
            self.client.insert(f"{self.db}.{table}", [[r[c] for c in cols] for r in items], column_names=cols)
            written[table] = len(items)
        return written

    # ---------------------------------------------------------------- audit

    def checksums(self) -> dict[str, str]:
        """An order-independent fingerprint of each table's deduplicated content (ingestion times
        excluded), equal for two projections of the same log however they were delivered."""
        out: dict[str, str] = {}
        for t in schema.TABLES:
            cols = ", ".join(f"`{c}`" for c in t.content_columns)
            res = self.client.query(
                f"SELECT count(), groupBitXor(cityHash64(tuple({cols}))) FROM {self.db}.{t.name} FINAL")
            n, h = res.result_rows[0]
            out[t.name] = f"{n}:{(h or 0):016x}"
        return out

    # ---------------------------------------------------------------- gateway reads

    def _dicts(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        res = self.client.query(sql, parameters=params)
        return [dict(zip(res.column_names, r)) for r in res.result_rows]

    @staticmethod
    def _job_out(row: dict[str, Any]) -> dict[str, Any]:
        if row.get("counts"):
            row["counts"] = json.loads(row["counts"])
        row["physical_qubits"] = list(row.get("physical_qubits") or [])
        return row

    def job(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        rows = self._dicts(f"SELECT * FROM {self.db}.jobs WHERE tenant_id = {{t:String}} AND job_id = {{j:String}}",
                           {"t": tenant_id, "j": job_id})
        return self._job_out(rows[0]) if rows else None

    def jobs(self, tenant_id: str, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._dicts(
            f"SELECT * FROM {self.db}.jobs WHERE tenant_id = {{t:String}} "
            f"ORDER BY submitted_at DESC NULLS LAST, job_id LIMIT {{n:UInt32}}",
            {"t": tenant_id, "n": int(limit)})
        return [self._job_out(r) for r in rows]

    def queue_wait_percentiles(self, tenant_id: str | None = None) -> dict[str, float | int | None]:
        where = "WHERE queue_wait_s IS NOT NULL" + (" AND tenant_id = {t:String}" if tenant_id else "")
        res = self.client.query(
            f"SELECT count(), quantileExactInclusive(0.5)(queue_wait_s), quantileExactInclusive(0.95)(queue_wait_s) "
            f"FROM {self.db}.jobs {where}", parameters={"t": tenant_id} if tenant_id else None)
        n, p50, p95 = res.result_rows[0]
        return {"jobs": n, "p50_s": p50 if n else None, "p95_s": p95 if n else None}

    def usage(self, tenant_id: str) -> dict[str, Any]:
        """What the tenant was charged (from UsageCharged) and what its jobs measured."""
        charged = self._dicts(
            f"SELECT count() AS charges, sum(amount_micro) AS amount_micro, sum(shots) AS shots, "
            f"sum(qpu_seconds_micro) AS qpu_seconds_micro FROM {self.db}.charges FINAL "
            f"WHERE tenant_id = {{t:String}}", {"t": tenant_id})[0]
        jobs = self._dicts(
            f"SELECT count() AS jobs, countIf(status = 'completed') AS completed, "
            f"sumIf(shots_done, status = 'completed') AS shots_measured, "
            f"sumIf(qpu_seconds, status = 'completed') AS qpu_seconds FROM {self.db}.jobs "
            f"WHERE tenant_id = {{t:String}}", {"t": tenant_id})[0]
        return {"tenant_id": tenant_id, **charged, **jobs}

    def invoices(self, tenant_id: str) -> dict[str, list[dict[str, Any]]]:
        """A tenant's issued invoices, and its charges summed per calendar month."""
        issued = self._dicts(
            f"SELECT invoice_id, period, total_micro, line_count, adjusts_invoice_id, chain_hash, occurred_at "
            f"FROM {self.db}.invoices FINAL WHERE tenant_id = {{t:String}} ORDER BY period, occurred_at", {"t": tenant_id})
        by_period = self._dicts(
            f"SELECT formatDateTime(occurred_at, '%Y-%m') AS period, count() AS charges, sum(amount_micro) AS amount_micro, "
            f"sum(shots) AS shots, sum(qpu_seconds_micro) AS qpu_seconds_micro FROM {self.db}.charges FINAL "
            f"WHERE tenant_id = {{t:String}} GROUP BY period ORDER BY period", {"t": tenant_id})
        return {"invoices": issued, "charges_by_period": by_period}
