"""The projection DDL: tables, their column order (shared with `rows`), and the `jobs` view.

Every table is a ReplacingMergeTree whose sorting key contains `event_id` (plus columns derived
from the event alone), so a redelivered event collapses into the row it already made. A
ReplacingMergeTree only collapses at merge time, so every reader uses FINAL or aggregates in a
way duplicates cannot change (argMax, min, max, any). Tables with a tenant are ordered tenant-first.
All statements are idempotent: applying the schema twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_DB = "qmux"
T = "DateTime64(6, 'UTC')"


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, type) in insert order
    order_by: tuple[str, ...]
    version: str | None = None             # ReplacingMergeTree version column: the highest wins
    ingest_only: tuple[str, ...] = ()      # filled by the server at insert; not part of content

    @property
    def insert_columns(self) -> list[str]:
        return [c for c, _ in self.columns if c not in self.ingest_only]

    @property
    def content_columns(self) -> list[str]:
        return self.insert_columns


TABLES: tuple[Table, ...] = (
    # audit: every event exactly as it was on the log, with where it was read from
    Table("events", (
        ("tenant_id", "String"), ("event_id", "String"), ("type", "LowCardinality(String)"),
        ("aggregate_id", "String"), ("aggregate_version", "UInt64"), ("occurred_at", T),
        ("topic", "LowCardinality(String)"), ("partition", "UInt32"), ("offset", "UInt64"),
        ("payload", "String"), ("chain_hash", "String"), ("ingested_at", f"{T} DEFAULT now64(6)"),
    ), ("tenant_id", "event_id"), version="offset", ingest_only=("ingested_at",)),
    # one row per job event; `jobs` folds them (see JOBS_VIEW)
    Table("job_events", (
        ("tenant_id", "String"), ("job_id", "String"), ("event_id", "String"),
        ("type", "LowCardinality(String)"), ("occurred_at", T), ("qpu_id", "String"),
        ("status", "LowCardinality(String)"), ("terminal", "UInt8"), ("rank", "UInt8"),
        ("shots", "Nullable(UInt64)"), ("submitted_at", f"Nullable({T})"),
        ("queue_wait_s", "Nullable(Float64)"), ("calibration_epoch", "Nullable(UInt32)"),
        ("counts", "Nullable(String)"), ("shots_done", "Nullable(UInt64)"),
        ("qpu_seconds", "Nullable(Float64)"), ("lane", "Nullable(String)"), ("reason", "Nullable(String)"),
        ("physical_qubits", "Array(UInt16)"), ("attempt", "Nullable(UInt16)"),
        ("system_fault", "Nullable(UInt8)"),
    ), ("tenant_id", "job_id", "event_id")),
    Table("charges", (
        ("tenant_id", "String"), ("job_id", "String"), ("event_id", "String"), ("occurred_at", T),
        ("amount_micro", "Int64"), ("shots", "UInt64"), ("qpu_seconds_micro", "Int64"),
        ("price_book_version", "UInt32"), ("calibration_epoch", "UInt32"),
        ("source_event_ids", "Array(String)"), ("chain_hash", "String"),
    ), ("tenant_id", "job_id", "event_id")),
    Table("invoices", (
        ("tenant_id", "String"), ("invoice_id", "String"), ("event_id", "String"), ("occurred_at", T),
        ("period", "String"), ("total_micro", "Int64"), ("line_count", "UInt32"),
        ("adjusts_invoice_id", "String"), ("chain_hash", "String"),
    ), ("tenant_id", "invoice_id", "event_id")),
    Table("invoice_lines", (
        ("tenant_id", "String"), ("invoice_id", "String"), ("event_id", "String"), ("line_no", "UInt32"),
        ("job_id", "String"), ("amount_micro", "Int64"), ("line", "String"),
    ), ("tenant_id", "invoice_id", "event_id", "line_no")),
    Table("calibrations", (
        ("qpu_id", "String"), ("epoch", "UInt32"), ("event_id", "String"), ("type", "LowCardinality(String)"),
        ("status", "LowCardinality(String)"), ("occurred_at", T), ("trigger", "String"),
        ("reason", "String"), ("snapshot", "String"),
    ), ("qpu_id", "epoch", "event_id")),
    Table("qubit_metrics", (
        ("qpu_id", "String"), ("qubit", "UInt16"), ("metric", "LowCardinality(String)"), ("time", T),
        ("value", "Float64"), ("calibration_epoch", "UInt32"), ("source", "LowCardinality(String)"),
        ("event_id", "String"),
    ), ("qpu_id", "qubit", "metric", "time", "event_id")),
    # availability transitions: NULL means "this event says nothing about that flag"
    Table("qpu_states", (
        ("qpu_id", "String"), ("occurred_at", T), ("event_id", "String"), ("type", "LowCardinality(String)"),
        ("drained", "Nullable(UInt8)"), ("cal_down", "Nullable(UInt8)"),
    ), ("qpu_id", "occurred_at", "event_id")),
    Table("incidents", (
        ("tenant_id", "String"), ("qpu_id", "String"), ("event_id", "String"), ("occurred_at", T),
        ("qubits", "Array(UInt16)"), ("action", "LowCardinality(String)"),
        ("affected_tenants", "Array(String)"),
    ), ("tenant_id", "qpu_id", "event_id")),
    Table("dead_letters", (
        ("source_topic", "String"), ("source_partition", "UInt32"), ("source_offset", "UInt64"),
        ("event_id", "String"), ("occurred_at", T), ("reason", "String"), ("payload", "String"),
        ("recorded_by", "LowCardinality(String)"),
    ), ("source_topic", "source_partition", "source_offset", "event_id")),
)
TABLE = {t.name: t for t in TABLES}

# Status precedence: a terminal event wins whenever it arrived; otherwise the latest fact, and for
# facts stamped with the same instant (intake copies the submission's time) the later stage.
JOBS_VIEW = """
CREATE OR REPLACE VIEW {db}.jobs AS
SELECT
    tenant_id, job_id,
    argMaxIf(qpu_id, occurred_at, qpu_id != '') AS qpu_id,
    argMaxIf(status, (terminal, occurred_at, rank), status != '') AS status,
    max(shots) AS shots,
    coalesce(minIf(toNullable(occurred_at), type = 'JobSubmitted'), min(submitted_at)) AS submitted_at,
    minIf(toNullable(occurred_at), type = 'JobAccepted') AS accepted_at,
    maxIf(toNullable(occurred_at), type = 'SlotReserved') AS reserved_at,
    minIf(toNullable(occurred_at), type = 'JobStarted') AS started_at,
    maxIf(toNullable(occurred_at), terminal = 1) AS finished_at,
    argMin(queue_wait_s, occurred_at) AS queue_wait_s,
    argMax(calibration_epoch, occurred_at) AS calibration_epoch,
    argMax(counts, occurred_at) AS counts,
    argMax(shots_done, occurred_at) AS shots_done,
    argMax(qpu_seconds, occurred_at) AS qpu_seconds,
    argMax(lane, occurred_at) AS lane,
    argMax(reason, occurred_at) AS reason,
    argMaxIf(physical_qubits, occurred_at, type = 'SlotReserved') AS physical_qubits,
    max(attempt) AS attempts,
    argMax(system_fault, occurred_at) AS system_fault
FROM {db}.job_events FINAL
GROUP BY tenant_id, job_id
"""


def _check_db(db: str) -> str:
    if not db.replace("_", "").isalnum():
        raise ValueError(f"database name {db!r} must be letters, digits and underscores")
    return db


def create_table_sql(t: Table, db: str = DEFAULT_DB) -> str:
    cols = ",\n    ".join(f"`{c}` {ty}" for c, ty in t.columns)
    engine = f"ReplacingMergeTree({t.version})" if t.version else "ReplacingMergeTree"
    return (f"CREATE TABLE IF NOT EXISTS {_check_db(db)}.{t.name} (\n    {cols}\n) ENGINE = {engine}\n"
            f"ORDER BY ({', '.join(t.order_by)})")


def statements(db: str = DEFAULT_DB) -> list[str]:
    """Every DDL statement, in order; each is safe to run again."""
    from projections import sli

    db = _check_db(db)
    out = [f"CREATE DATABASE IF NOT EXISTS {db}"]
    out += [create_table_sql(t, db) for t in TABLES]
    out.append(JOBS_VIEW.format(db=db))
    out += sli.view_statements(db)
    return out


def drop_statements(db: str = DEFAULT_DB) -> list[str]:
    from projections import sli

    db = _check_db(db)
    views = [f"DROP VIEW IF EXISTS {db}.{name}" for name in sli.view_names()] + [f"DROP VIEW IF EXISTS {db}.jobs"]
    return views + [f"DROP TABLE IF EXISTS {db}.{t.name}" for t in TABLES]
