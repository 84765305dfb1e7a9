"""The service-level indicators M1-M10 as named ClickHouse queries over the projections.

Each SLI is one SELECT, installed as the view `qmux.sli_m<N>_<name>` by `schema.statements`, so
an analyst can read it with any ClickHouse client. Job-based SLIs are computed per tenant, per
QPU, per (tenant, QPU) and overall in one pass (GROUPING SETS); the `scope` column says which
('tenant_qpu', 'tenant', 'qpu', 'all'), and an aggregated-away key reads as ''.

Windows end at the latest event time in the projection, never at the reader's clock, so an SLI
over a replayed log equals the SLI over the live one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SLA_LATENCY_S = 60.0       # M9: submit -> result within this is compliant
SLO_SUCCESS_TARGET = 0.99  # M10: job success objective; the error budget is 1 - target
BURN_WINDOW = "INTERVAL 1 HOUR"

_SETS = "GROUPING SETS ((tenant_id, qpu_id), (tenant_id), (qpu_id), ())"
_SCOPE = ("multiIf(grouping(tenant_id, qpu_id) = 0, 'tenant_qpu', grouping(tenant_id, qpu_id) = 1, 'tenant', "
          "grouping(tenant_id, qpu_id) = 2, 'qpu', 'all') AS scope")


@dataclass(frozen=True)
class Sli:
    key: str
    view: str
    description: str
    sql: str                 # a SELECT; `{db}` is the projection database
    tenant_scoped: bool      # rows carry tenant_id, so a tenant's reader can filter on it

    def select(self, db: str) -> str:
        return self.sql.format(db=db)


SLIS: tuple[Sli, ...] = (
    Sli("M1", "sli_m1_availability",
        "QPU availability: share of observed time (from registration to the latest event) a QPU was "
        "neither drained, calibrating, nor left uncalibrated by a failed calibration.", """
SELECT qpu_id, sum(dur) AS observed_s,
       sumIf(dur, coalesce(d, 0) = 0 AND coalesce(c, 0) = 0) AS available_s,
       if(observed_s > 0, available_s / observed_s, NULL) AS availability
FROM (
    SELECT qpu_id, anyLast(drained) OVER w AS d, anyLast(cal_down) OVER w AS c,
           greatest(0, dateDiff('microsecond', occurred_at,
                    leadInFrame(occurred_at, 1, assumeNotNull((SELECT max(occurred_at) FROM {db}.events))) OVER wf) / 1e6) AS dur
    FROM {db}.qpu_states FINAL
    WINDOW w AS (PARTITION BY qpu_id ORDER BY occurred_at, event_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           wf AS (PARTITION BY qpu_id ORDER BY occurred_at, event_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
)
GROUP BY qpu_id ORDER BY qpu_id""", False),
    Sli("M2", "sli_m2_job_success",
        "Job success rate: completed / (completed + failed); rejected and cancelled jobs are the "
        "tenant's choice or quota, not a service failure.", f"""
SELECT {_SCOPE}, tenant_id, qpu_id,
       countIf(status = 'completed') AS completed, countIf(status = 'failed') AS failed,
       countIf(status = 'failed' AND system_fault = 1) AS system_failed,
       if(completed + failed > 0, completed / (completed + failed), NULL) AS success_rate
FROM {{db}}.jobs GROUP BY {_SETS} ORDER BY scope, tenant_id, qpu_id""", True),
    Sli("M3", "sli_m3_queue_wait",
        "Queue wait (accepted -> slot reserved, as the scheduler measured it), p50 and p95 in seconds.", f"""
SELECT {_SCOPE}, tenant_id, qpu_id, count() AS jobs,
       quantileExactInclusive(0.5)(queue_wait_s) AS p50_s, quantileExactInclusive(0.95)(queue_wait_s) AS p95_s,
       max(queue_wait_s) AS max_s
FROM {{db}}.jobs WHERE queue_wait_s IS NOT NULL GROUP BY {_SETS} ORDER BY scope, tenant_id, qpu_id""", True),
    Sli("M4", "sli_m4_fidelity",
        "Circuit fidelity proxy per QPU: mean (1 - qubit error) over health checks, overall and at the "
        "latest check, plus any snapshot metric named *fidelity*.", """
SELECT qpu_id,
       avgIf(1 - value, source = 'health' AND metric = 'error') AS fidelity_mean,
       argMaxIf(f_at, time, source = 'health' AND metric = 'error') AS fidelity_latest,
       avgIf(value, positionCaseInsensitive(metric, 'fidelity') > 0) AS snapshot_fidelity_mean,
       countIf(source = 'health') AS health_samples
FROM (
    SELECT *, avg(1 - value) OVER (PARTITION BY qpu_id, event_id) AS f_at
    FROM {db}.qubit_metrics FINAL
)
GROUP BY qpu_id ORDER BY qpu_id""", False),
    Sli("M5", "sli_m5_calibration_failure",
        "Calibration failure rate per QPU: failed / (completed + failed) calibration runs.", """
SELECT qpu_id, countIf(status = 'completed') AS completed, countIf(status = 'failed') AS failed,
       if(completed + failed > 0, failed / (completed + failed), NULL) AS failure_rate
FROM {db}.calibrations FINAL GROUP BY qpu_id ORDER BY qpu_id""", False),
    Sli("M6", "sli_m6_noisy_neighbours",
        "Noisy-neighbour incidents per suspect tenant and per QPU, by action taken.", f"""
SELECT {_SCOPE}, tenant_id, qpu_id, count() AS incidents,
       countIf(action = 'quarantine') AS quarantines, countIf(action = 'throttle') AS throttles,
       countIf(action = 'notify') AS notices, length(groupUniqArrayArray(affected_tenants)) AS affected_tenants
FROM {{db}}.incidents FINAL GROUP BY {_SETS} ORDER BY scope, tenant_id, qpu_id""", True),
    Sli("M7", "sli_m7_metering_accuracy",
        "Metering accuracy: shots charged (UsageCharged) against shots measured on finished jobs, per "
        "tenant; a job measured but not yet charged counts as a mismatch until billing catches up.", """
SELECT if(grouping(tenant_id) = 0, 'tenant', 'all') AS scope, tenant_id,
       count() AS jobs, countIf(charged_shots != metered_shots) AS mismatched_jobs,
       sum(charged_shots) AS charged, sum(metered_shots) AS metered,
       if(metered > 0, 1 - abs(toInt64(charged) - toInt64(metered)) / metered, NULL) AS accuracy
FROM (
    SELECT tenant_id, job_id, sum(c.charged_shots) AS charged_shots, sum(c.metered_shots) AS metered_shots
    FROM (
        SELECT tenant_id, job_id, shots AS charged_shots, toUInt64(0) AS metered_shots FROM {db}.charges FINAL
        UNION ALL
        SELECT tenant_id, job_id, toUInt64(0), coalesce(shots_done, 0) FROM {db}.jobs
        WHERE status IN ('completed', 'cancelled')
    ) AS c GROUP BY tenant_id, job_id
)
GROUP BY GROUPING SETS ((tenant_id), ()) ORDER BY scope, tenant_id""", True),
    Sli("M8", "sli_m8_ingestion",
        "Telemetry ingestion: projection lag (ingested_at - occurred_at) p50/p95 in seconds, and the "
        "share of consumed messages that were projected rather than dead-lettered as undecodable.", """
SELECT if(grouping(tenant_id) = 0, 'tenant', 'all') AS scope, tenant_id, count() AS events,
       quantileExactInclusive(0.5)(lag_s) AS lag_p50_s, quantileExactInclusive(0.95)(lag_s) AS lag_p95_s, max(lag_s) AS lag_max_s,
       if(grouping(tenant_id) = 1,
          events / (events + (SELECT count() FROM {db}.dead_letters FINAL WHERE recorded_by = 'projector')),
          NULL) AS projected_share
FROM (SELECT tenant_id, dateDiff('microsecond', occurred_at, ingested_at) / 1e6 AS lag_s FROM {db}.events FINAL)
GROUP BY GROUPING SETS ((tenant_id), ()) ORDER BY scope, tenant_id""", True),
    Sli("M9", "sli_m9_sla_latency",
        f"SLA latency compliance: share of completed jobs whose submit -> result time is at most "
        f"{SLA_LATENCY_S:g} s, with p50/p95 of that time.", f"""
SELECT {_SCOPE}, tenant_id, qpu_id, count() AS jobs,
       countIf(latency_s <= {SLA_LATENCY_S}) AS within_sla, within_sla / jobs AS compliance,
       quantileExactInclusive(0.5)(latency_s) AS p50_s, quantileExactInclusive(0.95)(latency_s) AS p95_s
FROM (SELECT tenant_id, qpu_id, dateDiff('microsecond', submitted_at, finished_at) / 1e6 AS latency_s
      FROM {{db}}.jobs WHERE status = 'completed' AND submitted_at IS NOT NULL AND finished_at IS NOT NULL)
GROUP BY {_SETS} ORDER BY scope, tenant_id, qpu_id""", True),
    Sli("M10", "sli_m10_error_budget_burn",
        f"Error-budget burn rate against a {SLO_SUCCESS_TARGET:g} job-success SLO: observed failure "
        f"rate / (1 - target), over all history and over the last hour before the latest finish "
        f"(1.0 spends the budget exactly on time; above 1 exhausts it early).", f"""
SELECT {_SCOPE}, tenant_id, qpu_id,
       countIf(status IN ('completed', 'failed')) AS finished, countIf(status = 'failed') AS failed,
       if(finished > 0, (failed / finished) / (1 - {SLO_SUCCESS_TARGET}), NULL) AS burn_rate,
       countIf(status IN ('completed', 'failed') AND recent) AS finished_1h,
       countIf(status = 'failed' AND recent) AS failed_1h,
       if(finished_1h > 0, (failed_1h / finished_1h) / (1 - {SLO_SUCCESS_TARGET}), NULL) AS burn_rate_1h
FROM (SELECT tenant_id, qpu_id, status,
             coalesce(finished_at >= (SELECT max(finished_at) FROM {{db}}.jobs) - {BURN_WINDOW}, 0) AS recent
      FROM {{db}}.jobs)
GROUP BY {_SETS} ORDER BY scope, tenant_id, qpu_id""", True),
)
SLI = {s.key: s for s in SLIS}


def view_names() -> list[str]:
    return [s.view for s in SLIS]


def view_statements(db: str) -> list[str]:
    return [f"CREATE OR REPLACE VIEW {db}.{s.view} AS {s.select(db)}" for s in SLIS]


def run_slis(client: Any, tenant_id: str | None = None, db: str = "qmux") -> dict[str, dict[str, Any]]:
    """Every SLI's rows. With `tenant_id`, tenant-scoped SLIs keep only that tenant's rows; the
    per-QPU ones (M1, M4, M5) are fleet-wide and returned whole."""
    out: dict[str, dict[str, Any]] = {}
    for s in SLIS:
        sql, params = f"SELECT * FROM {db}.{s.view}", None
        if tenant_id is not None and s.tenant_scoped:
            sql, params = sql + " WHERE tenant_id = {t:String}", {"t": tenant_id}
        res = client.query(sql, parameters=params)
        out[s.key] = {"view": s.view, "description": s.description,
                      "rows": [dict(zip(res.column_names, r)) for r in res.result_rows]}
    return out
