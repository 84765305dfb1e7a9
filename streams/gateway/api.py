"""The HTTP API. Tenants submit and read their own jobs; operators register tenants and QPUs;
analysts, auditors and operators read ClickHouse through /v1/sql (the gateway owns the embedded
chDB directory, so it serves reads for everyone else)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from domain import events as ev
from domain import tenant as tenant_agg
from domain import dispatch, intake
from domain.registry import Registry
from domain.scheduling import admission
from domain.scheduling.plans import PlanError, plan_from_terms, plan_named
from domain.standing import Standing
from infra.settings import Settings
from projections.readonly import READ_ONLY, is_read_only
from streams import codec, device
from streams.gateway import models
from streams.gateway.kafka_io import EventProducer

log = logging.getLogger("qmux.gateway")




@dataclass
class Services:
    settings: Settings
    standing: Standing
    producer: EventProducer
    store: Any                     # projections.store.Store
    operator_sha256: str
    idem_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    rebuild: Any = None            # async () -> checksums before/after, when this process projects

    recent: "OrderedDict[str, dict[str, Any]]" = field(default_factory=OrderedDict)  # jobs this gateway just took

    @property
    def registry(self) -> Registry:
        return self.standing.registry

    def remember(self, e: ev.JobSubmitted, keep: int = 10_000) -> None:
        self.recent[e.job_id] = {"job_id": e.job_id, "tenant_id": e.tenant_id, "qpu_id": e.qpu_id,
                                 "status": "submitted", "shots": e.shots, "submitted_at": e.occurred_at.isoformat()}
        while len(self.recent) > keep:
            self.recent.popitem(last=False)



@dataclass(frozen=True)
class Caller:
    tenant_id: str
    role: str


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(status_code=status, detail=detail, headers=headers)


def create_api(services: Services) -> FastAPI:
    s = services
    api = FastAPI(title="qmux", version="0.1.0",
                  description="Multi-tenant QPU control plane. Authenticate with `Authorization: Bearer <API key>`.")

    @api.exception_handler(RequestValidationError)
    async def _readable_422(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            parts.append(f"{loc or 'body'}: {err.get('msg')}")
        return JSONResponse(status_code=422, content={"detail": "; ".join(parts)})

    def caller(authorization: str | None = Header(None), x_api_key: str | None = Header(None)) -> Caller:
        key = x_api_key or (authorization[7:].strip() if authorization and authorization.lower().startswith("bearer ") else None)
        if not key:
            raise _problem(401, "missing API key: send `Authorization: Bearer <key>`", {"WWW-Authenticate": "Bearer"})
        if hashlib.sha256(key.encode()).hexdigest() == s.operator_sha256:
            return Caller("operator", "operator")
        try:
            tenant_id, role = s.registry.authenticate(key)
        except tenant_agg.UnknownKey:
            raise _problem(401, "invalid or revoked API key", {"WWW-Authenticate": "Bearer"}) from None
        return Caller(tenant_id, role)

    def role(*allowed: str):
        def check(c: Caller = Depends(caller)) -> Caller:
            if c.role not in allowed:
                raise _problem(403, f"this route needs one of the roles {', '.join(allowed)}; your key has role {c.role}")
            return c
        return check

    @api.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "tenants": len(s.registry.tenants), "qpus": sorted(s.registry.qpus)}

    @api.post("/v1/jobs", status_code=202, response_model=models.JobAck,
              responses={401: {"model": models.Problem}, 413: {"model": models.Problem}, 422: {"model": models.Problem}})
    async def submit(body: models.SubmitJob, c: Caller = Depends(role("tenant")),
                     idempotency_key: str | None = Header(None, max_length=200)) -> models.JobAck:
        if not 1 <= body.shots <= s.settings.max_shots:
            raise _problem(422, f"shots: must be between 1 and {s.settings.max_shots}, got {body.shots}")
        qpu = s.registry.qpus.get(body.qpu)
        if qpu is None:
            raise _problem(422, f"qpu: unknown QPU {body.qpu!r}; known: {', '.join(sorted(s.registry.qpus)) or 'none'}")
        fmt = body.format or ("qasm2" if isinstance(body.circuit, str) else "json")
        text = body.circuit if isinstance(body.circuit, str) else json.dumps(body.circuit)
        try:
            circuit = device.parse(fmt, text)
        except ValueError as exc:  # qpu_jax.CircuitError and JSON errors
            raise _problem(422, f"circuit: {exc}") from None
        if circuit.num_qubits > qpu.num_qubits:
            raise _problem(422, f"circuit: needs {circuit.num_qubits} qubits but {body.qpu} has {qpu.num_qubits}")
        if idempotency_key:
            job_id = ev.deterministic_id(c.tenant_id, "idempotency", idempotency_key)
        else:
            job_id = str(uuid.uuid4())
        lock = s.idem_locks.setdefault(job_id, asyncio.Lock()) if idempotency_key else asyncio.Lock()
        async with lock:
            if idempotency_key:
                existing = s.recent.get(job_id) or await asyncio.to_thread(s.store.job, c.tenant_id, job_id)
                if existing is not None:
                    return models.JobAck(job_id=job_id, status=str(existing.get("status")), duplicate=True)
            seed = body.seed if body.seed is not None else int(job_id.replace("-", "")[:8], 16)
            now = codec.now()
            estimate = admission.estimate_qpu_seconds(circuit.num_gates, body.shots)
            decision = admission.admit(s.standing.accounts, admission.Request(c.tenant_id, job_id, body.shots, estimate), now)
            if isinstance(decision, admission.Rejected):
                await reject(c, job_id, body.qpu, decision, now)
            left = s.standing.throttled(c.tenant_id, now.timestamp()) if body.pulse_level else 0.0
            if left:
                await reject(c, job_id, body.qpu, admission.Rejected(
                    c.tenant_id, job_id, "throttled",  # type: ignore[arg-type]
                    f"pulse-level work is throttled for {left:.0f} s after a noisy-neighbour incident on your jobs",
                    retry_after_s=left), now)
            acct = s.standing.accounts[c.tenant_id]
            e = ev.JobSubmitted(
                event_id=ev.deterministic_id(job_id, "JobSubmitted"), tenant_id=c.tenant_id,
                aggregate_id=job_id, aggregate_version=0, occurred_at=now, job_id=job_id,
                qpu_id=body.qpu, circuit_format=fmt, circuit=text, num_qubits=circuit.num_qubits,
                num_gates=circuit.num_gates, shots=body.shots, seed=seed, idempotency_key=idempotency_key,
                max_calibration_age_s=body.max_calibration_age_s, pulse_level=body.pulse_level, lane=acct.plan.lane,
                coschedule=acct.plan.allow_coscheduling,
                weight=acct.plan.weight, qpu_seconds_estimate=estimate,
            )
            try:
                await s.producer.publish("submissions", c.tenant_id, e)
            except Exception as exc:  # noqa: BLE001 - the client must know nothing was accepted
                raise _problem(503, f"event log unavailable, job not accepted; retry later ({type(exc).__name__})",
                               {"Retry-After": "5"}) from None
            # the hold the admit agent will record: take it now so a burst cannot overrun the quota
            s.standing.apply(e)
            s.standing.apply(intake.quota_held(e))
            # read-your-writes without waiting for the projector (which batches its inserts)
            s.remember(e)
        s.idem_locks.pop(job_id, None)
        return models.JobAck(job_id=job_id, status="submitted")

    async def reject(c: Caller, job_id: str, qpu_id: str, d: admission.Rejected, now: Any) -> None:
        """Record the refusal as an event, then answer 429 with when to retry (rate) or when the limit resets.

        The refused request gets its own id: a refusal does not use up the Idempotency-Key, so the
        client retries with the same key after Retry-After (as it would after any 429)."""
        refused_id = ev.deterministic_id(job_id, "refused", now.isoformat())
        e = ev.JobRejected(event_id=ev.deterministic_id(refused_id, "JobRejected"), tenant_id=c.tenant_id,
                           aggregate_id=refused_id, aggregate_version=0, occurred_at=now, job_id=refused_id,
                           qpu_id=qpu_id, reason=d.message, limit=d.limit)
        try:
            await s.producer.publish("jobs", qpu_id, e)
        except Exception:  # noqa: BLE001 - the refusal stands even if it could not be recorded; say so
            log.exception("could not record the rejection of job %s", job_id)
        retry = d.retry_after_s if d.retry_after_s is not None else (
            (d.resets_at - now).total_seconds() if d.resets_at is not None else None)
        headers = {"Retry-After": str(max(1, int(retry + 0.999)))} if retry is not None else None
        status = 403 if d.limit == "tenant" else 429
        raise _problem(status, f"{d.limit}: {d.message}", headers)

    async def own_job(c: Caller, job_id: str) -> dict[str, Any]:
        job = await asyncio.to_thread(s.store.job, c.tenant_id, job_id)
        if job is None:
            mine = s.recent.get(job_id)
            job = dict(mine) if mine is not None and mine["tenant_id"] == c.tenant_id else None
        if job is None:
            raise _problem(404, f"no job {job_id} for tenant {c.tenant_id}")
        return job

    @api.get("/v1/jobs/{job_id}")
    async def get_job(job_id: str, c: Caller = Depends(role("tenant"))) -> dict[str, Any]:
        """The job, and while it waits: its queue position, an ETA band and why it is where it is."""
        job = await own_job(c, job_id)
        if job.get("status") in ("submitted", "queued"):
            x = s.standing.explain(str(job.get("qpu_id")), job_id, codec.now().timestamp())
            if x is not None:
                job["queue"] = {
                    "position": x.position, "eta_s": x.eta_s, "eta_low_s": x.eta_low_s, "eta_high_s": x.eta_high_s,
                    "lane": x.lane, "weight": x.weight, "decayed_usage_s": x.decayed_usage_s, "standing": x.standing,
                    "ahead": x.reasons, "explanation": x.text,
                }
        return job

    @api.get("/v1/tenants/me/usage")
    async def my_usage(c: Caller = Depends(role("tenant"))) -> dict[str, Any]:
        """Standing against the plan's quotas and caps, share of recent QPU time, and charges so far."""
        acct = s.standing.accounts.get(c.tenant_id)
        if acct is None:
            raise _problem(404, f"tenant {c.tenant_id} has no account yet")
        now = codec.now()
        day, month = admission.day_key(now), admission.month_key(now)
        plan = acct.plan
        used_by_tenant: dict[str, float] = {}
        for q in s.standing.queues.values():
            for t, v in dispatch.decayed_usage(q, now.timestamp()).items():
                used_by_tenant[t] = used_by_tenant.get(t, 0.0) + v
        total = sum(used_by_tenant.values())
        charges = await asyncio.to_thread(s.store.usage, c.tenant_id)
        return {
            "tenant_id": c.tenant_id, "plan": plan.model_dump(mode="json"),
            "shots_today": {"used": acct.shots_by_day.get(day, 0), "limit": plan.shots_per_day,
                            "resets_at": admission.next_day(now).isoformat()},
            "qpu_seconds_this_month": {"used": round(acct.qpu_s_by_month.get(month, 0.0), 6),
                                       "limit": plan.qpu_seconds_per_month,
                                       "resets_at": admission.next_month(now).isoformat()},
            "queued": {"jobs": acct.queued, "limit": plan.max_queued},
            "running": {"jobs": acct.running, "limit": plan.max_running},
            "share": {"decayed_qpu_seconds": round(used_by_tenant.get(c.tenant_id, 0.0), 6),
                      "of_all_tenants": round(used_by_tenant.get(c.tenant_id, 0.0) / total, 4) if total else 0.0,
                      "weight": plan.weight},
            "billing": charges,
            "incidents": s.standing.notices.get(c.tenant_id, [])[-20:],
            "throttled_for_s": round(s.standing.throttled(c.tenant_id, now.timestamp()), 1),
        }

    @api.get("/v1/jobs/{job_id}/result")
    async def get_result(job_id: str, c: Caller = Depends(role("tenant"))) -> dict[str, Any]:
        job = await own_job(c, job_id)
        if job.get("status") != "completed":
            raise _problem(409, f"job {job_id} is {job.get('status')}; the result exists once it is completed")
        return {k: job.get(k) for k in ("job_id", "status", "shots", "counts", "calibration_epoch", "qpu_id", "qpu_seconds")}

    @api.delete("/v1/jobs/{job_id}", status_code=202)
    async def cancel_job(job_id: str, c: Caller = Depends(role("tenant"))) -> dict[str, Any]:
        job = await own_job(c, job_id)
        if job.get("status") in ("completed", "failed", "rejected", "cancelled"):
            raise _problem(409, f"job {job_id} is already {job.get('status')}")
        e = ev.CancelRequested(event_id=ev.deterministic_id(job_id, "CancelRequested"), tenant_id=c.tenant_id,
                               aggregate_id=job_id, aggregate_version=1, occurred_at=codec.now(), job_id=job_id,
                               qpu_id=str(job.get("qpu_id")))
        await s.producer.publish("jobs", e.qpu_id, e)
        return {"job_id": job_id, "status": "cancel-requested",
                "note": "a queued job is cancelled; a running job finishes its shots and is billed for them"}

    @api.get("/v1/jobs")
    async def list_jobs(limit: int = 100, c: Caller = Depends(role("tenant"))) -> list[dict[str, Any]]:
        return await asyncio.to_thread(s.store.jobs, c.tenant_id, max(1, min(limit, 1000)))

    @api.get("/v1/invoices")
    async def invoices(c: Caller = Depends(role("tenant"))) -> dict[str, Any]:
        """Issued invoices (each line traceable to its events) and the open period's running total."""
        found = await asyncio.to_thread(s.store.invoices, c.tenant_id)
        return {"tenant_id": c.tenant_id, **found,
                "unit": "micro-credits (1 credit = 1,000,000)"}

    @api.get("/v1/qpus")
    async def list_qpus(_: Caller = Depends(caller)) -> list[dict[str, Any]]:
        return [{"qpu_id": q.qpu_id, "num_qubits": q.num_qubits, "epoch": q.epoch, "drained": q.drained,
                 "calibrating": q.calibrating} for q in s.registry.qpus.values()]

    @api.post("/v1/tenants", status_code=201, response_model=models.TenantCreated)
    async def create_tenant(body: models.CreateTenant, _: Caller = Depends(role("operator"))) -> models.TenantCreated:
        try:
            plan_named(body.plan)
        except PlanError as exc:
            raise _problem(422, f"plan: {exc}") from None
        tenant_id = body.name.lower().replace(" ", "-")
        existing = s.registry.tenants.get(tenant_id)
        now = codec.now()
        new: list[ev.Event] = []
        if existing is None:
            new.append(ev.TenantRegistered(
                event_id=ev.deterministic_id("tenant", tenant_id), tenant_id=tenant_id, aggregate_id=tenant_id,
                aggregate_version=0, occurred_at=now, name=body.name, plan=body.plan))
        key_id, secret = uuid.uuid4().hex[:12], uuid.uuid4().hex + uuid.uuid4().hex
        new.append(ev.ApiKeyIssued(
            event_id=ev.deterministic_id("key", tenant_id, key_id), tenant_id=tenant_id, aggregate_id=tenant_id,
            aggregate_version=1 + (len(existing.keys) if existing else 0), occurred_at=now, key_id=key_id,
            key_sha256=tenant_agg.hash_secret(secret), role=body.role))
        for e in new:
            await s.producer.publish("admin", tenant_id, e)
            s.standing.apply(e)
        created = existing is None
        return models.TenantCreated(tenant_id=tenant_id, api_key=f"{tenant_agg.KEY_PREFIX}_{key_id}_{secret}", created=created)

    def _tenant(tenant_id: str) -> Any:
        t = s.registry.tenants.get(tenant_id)
        if t is None:
            raise _problem(404, f"no tenant {tenant_id}")
        return t

    @api.post("/v1/tenants/{tenant_id}/keys", status_code=201, response_model=models.TenantCreated)
    async def issue_key(tenant_id: str, key_role: str = "tenant", _: Caller = Depends(role("operator"))) -> models.TenantCreated:
        """Issue another key (rotation: the old key keeps working until it is revoked)."""
        t = _tenant(tenant_id)
        return await create_tenant(models.CreateTenant(name=t.name, plan=t.plan, role=key_role), _)

    @api.delete("/v1/tenants/{tenant_id}/keys/{key_id}", status_code=202)
    async def revoke_key(tenant_id: str, key_id: str, _: Caller = Depends(role("operator"))) -> dict[str, Any]:
        t = _tenant(tenant_id)
        if key_id not in t.keys:
            raise _problem(404, f"tenant {tenant_id} has no key {key_id}")
        e = ev.ApiKeyRevoked(event_id=ev.deterministic_id("revoke", tenant_id, key_id), tenant_id=tenant_id,
                             aggregate_id=tenant_id, aggregate_version=t.version, occurred_at=codec.now(), key_id=key_id)
        await s.producer.publish("admin", tenant_id, e)
        s.standing.apply(e)
        return {"tenant_id": tenant_id, "key_id": key_id, "revoked": True}

    @api.put("/v1/tenants/{tenant_id}/plan")
    async def assign_plan(tenant_id: str, terms: dict[str, Any], _: Caller = Depends(role("operator"))) -> dict[str, Any]:
        """Assign a named plan, optionally overriding fields: {"name": "standard", "weight": 3}."""
        t = _tenant(tenant_id)
        try:
            plan = plan_from_terms(terms)
        except PlanError as exc:
            raise _problem(422, str(exc)) from None
        e = ev.PlanAssigned(event_id=str(uuid.uuid4()), tenant_id=tenant_id, aggregate_id=tenant_id,
                            aggregate_version=t.version, occurred_at=codec.now(), plan=plan.model_dump(mode="json"))
        await s.producer.publish("admin", tenant_id, e)
        s.standing.apply(e)
        return e.plan

    @api.post("/v1/qpus", status_code=201)
    async def register_qpu(body: models.RegisterQpu, _: Caller = Depends(role("operator"))) -> dict[str, Any]:
        if body.qpu_id in s.registry.qpus:
            return {"qpu_id": body.qpu_id, "created": False}
        n = body.num_qubits
        coupling = body.coupling_map or [(i, i + 1) for i in range(n - 1)]
        try:
            cal = device.calibration_for(body.calibration, n) if body.calibration else device.default_calibration(n, coupling)
        except ValueError as exc:
            raise _problem(422, f"calibration: {exc}") from None
        e = ev.QpuRegistered(
            event_id=ev.deterministic_id("qpu", body.qpu_id), aggregate_id=body.qpu_id, aggregate_version=0,
            occurred_at=codec.now(), qpu_id=body.qpu_id, num_qubits=n, coupling_map=coupling,
            calibration=cal.model_dump(mode="json"))
        await s.producer.publish("calibration", body.qpu_id, e)
        s.standing.apply(e)
        return {"qpu_id": body.qpu_id, "created": True}

    async def qpu_command(qpu_id: str, make: Any) -> dict[str, Any]:
        q = s.registry.qpus.get(qpu_id)
        if q is None:
            raise _problem(404, f"no QPU {qpu_id}")
        e = make(dict(event_id=str(uuid.uuid4()), aggregate_id=qpu_id, aggregate_version=q.version,
                      occurred_at=codec.now(), qpu_id=qpu_id))
        await s.producer.publish("calibration", qpu_id, e)
        s.standing.apply(e)
        return {"qpu_id": qpu_id, "event": e.type, "event_id": e.event_id}

    @api.post("/v1/qpus/{qpu_id}/drain", status_code=202)
    async def drain(qpu_id: str, reason: str = "", _: Caller = Depends(role("operator"))) -> dict[str, Any]:
        """Stop starting jobs on the QPU (a running job finishes); queued jobs wait."""
        return await qpu_command(qpu_id, lambda b: ev.QpuDrained(reason=reason, **b))

    @api.post("/v1/qpus/{qpu_id}/resume", status_code=202)
    async def resume(qpu_id: str, _: Caller = Depends(role("operator"))) -> dict[str, Any]:
        return await qpu_command(qpu_id, lambda b: ev.QpuResumed(**b))

    @api.post("/v1/qpus/{qpu_id}/calibrate", status_code=202)
    async def calibrate(qpu_id: str, reason: str = "operator request", _: Caller = Depends(role("operator"))) -> dict[str, Any]:
        """Calibrate at the QPU's next job boundary (never during a running job)."""
        return await qpu_command(qpu_id, lambda b: ev.CalibrationRequested(reason=reason, **b))

    @api.get("/v1/pricebooks")
    async def price_books(_: Caller = Depends(caller)) -> list[dict[str, Any]]:
        return [b.model_dump(mode="json") for _, b in sorted(s.registry.price_books.items())]

    @api.post("/v1/pricebooks", status_code=201)
    async def publish_price_book(body: models.PublishPriceBook, _: Caller = Depends(role("operator"))) -> dict[str, Any]:
        now = codec.now()
        effective = body.effective_from or now
        if effective.tzinfo is None:
            raise _problem(422, "effective_from: give a timezone (e.g. 2026-12-01T00:00:00Z)")
        if effective < now:
            raise _problem(422, "effective_from: price books are never retroactive; give a time in the future")
        version = max(s.registry.price_books, default=0) + 1
        e = ev.PriceBookPublished(
            event_id=ev.deterministic_id("pricebook", version), aggregate_id="pricebook", aggregate_version=version - 1,
            occurred_at=now, version=version, effective_from=effective, per_shot_micro=body.per_shot_micro,
            per_qpu_second_micro=body.per_qpu_second_micro, per_job_micro=body.per_job_micro,
            lane_multiplier_milli=body.lane_multiplier_milli)
        await s.producer.publish("admin", "pricebook", e)
        s.standing.apply(e)
        return e.model_dump(mode="json")

    @api.post("/v1/audit/rebuild")
    async def audit_rebuild(_: Caller = Depends(role("operator", "auditor"))) -> dict[str, Any]:
        if s.rebuild is None:
            raise _problem(409, "this gateway does not run the projector")
        try:
            return await s.rebuild()
        except (RuntimeError, TimeoutError) as exc:
            raise _problem(409, f"rebuild not possible now: {exc}") from None

    @api.post("/v1/sql")
    async def sql(body: models.SqlQuery, _: Caller = Depends(role("operator", "analyst", "auditor"))) -> dict[str, Any]:
        if not is_read_only(body.query):
            raise _problem(422, f"query: only one read-only statement ({', '.join(READ_ONLY)}) is allowed here")
        try:
            res = await asyncio.to_thread(s.store.client.query, body.query)
        except Exception as exc:  # noqa: BLE001 - the analyst gets ClickHouse's own message
            raise _problem(400, f"query failed: {str(exc).splitlines()[0][:500]}") from None
        return {"columns": list(res.column_names), "rows": [list(r) for r in res.result_rows]}

    return api
