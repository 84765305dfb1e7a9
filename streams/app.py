"""The qmux worker: one Faust app whose agents move a job from submission to measured shots.

    submissions (key tenant)  --admit-->     jobs (key qpu): JobAccepted | JobRejected
    jobs + execution + calibration (key qpu) --schedule--> execution: SlotReserved
    execution + calibration (key qpu)        --execute-->  execution: JobStarted, ShotsMeasured, JobCompleted | JobFailed

Agents only decode, call the domain and emit. State lives in changelog-backed tables, so a
worker killed at any point resumes from its committed offsets; every event it emits has a
deterministic id, so a re-emitted fact is recognisable downstream. A message an agent cannot
process goes to the dead-letter topic with the reason, and the partition keeps moving.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable

import faust

from domain import dispatch, intake
from domain import events as ev
from domain.billing.ledger import Ledgers
from domain.scheduling import aborts
from infra.settings import Settings
from streams import codec, device, faults, log_reader
from streams.topics import topic_name

log = logging.getLogger("qmux.worker")


def create_app(settings: Settings) -> faust.App:
    app = faust.App(
        f"{settings.topic_prefix}worker",  # one deployment per prefix, also for its changelog topics
        broker=f"kafka://{settings.bootstrap}",
        store="memory://",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        web_host="127.0.0.1",
        web_port=settings.worker_web_port,
        web_bind="127.0.0.1",
        datadir=str(settings.home / "worker"),
        broker_commit_interval=1.0,
        processing_guarantee="at_least_once",
    )

    def topic(name: str) -> faust.TopicT:
        return app.topic(topic_name(settings.topic_prefix, name), key_type=bytes, value_type=bytes,
                         key_serializer="raw", value_serializer="raw")

    abort_policy = aborts.AbortPolicy(base_delay_s=0.2, max_delay_s=2.0)  # simulated hardware: short backoff
    t_sub, t_jobs, t_exec, t_cal, t_dead = (topic(n) for n in ("submissions", "jobs", "execution", "calibration", "deadletter"))
    names = {n: topic_name(settings.topic_prefix, n) for n in ("submissions", "jobs", "execution", "calibration")}

    admitted = app.Table("admitted", default=None, partitions=settings.topic_partitions)
    qpus = app.Table("qpu-dispatch", default=None, partitions=settings.topic_partitions)
    specs = app.Table("job-specs", default=None, partitions=settings.topic_partitions)  # job -> spec JSON
    executed = app.Table("executed", default=None, partitions=settings.topic_partitions)
    snapshots = app.Table("calibrations", default=None, partitions=settings.topic_partitions)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qpu")

    async def emit(t: faust.TopicT, k: str, e: ev.Event) -> None:
        await t.send(key=codec.key(k), value=codec.encode(e))

    async def guarded(stream: Any, handle: Callable[[ev.Event, str], Awaitable[None]]) -> None:
        """Decode each message and hand it on; anything that fails is dead-lettered, logged, and skipped."""
        async for cev in stream.events():
            msg = cev.message
            try:
                e = codec.decode(cev.value)
                await handle(e, msg.topic)
            except Exception as exc:  # noqa: BLE001 - every failure is reported, never swallowed
                log.exception("dead-lettering %s[%s]@%s", msg.topic, msg.partition, msg.offset)
                await emit(t_dead, msg.topic, codec.dead_letter(
                    msg.topic, msg.partition, msg.offset, f"{type(exc).__name__}: {exc}", cev.value))

    @app.agent(t_sub)
    async def admit(stream: Any) -> None:
        async def handle(e: ev.Event, _topic: str) -> None:
            if not isinstance(e, ev.JobSubmitted) or admitted.get(e.job_id) is not None:
                return  # other submission-topic facts, or a duplicate delivery
            held, accepted = intake.decide(e)
            await emit(t_sub, e.tenant_id, held)
            await emit(t_jobs, e.qpu_id, accepted)
            admitted[e.job_id] = accepted.type

        await guarded(stream, handle)

    async def dispatch_step(qpu_id: str, e: ev.Event) -> None:
        if isinstance(e, ev.JobAccepted):
            if e.spec is None or specs.get(e.job_id) is not None:
                return  # a redelivery: the job is queued, running or done already
            specs[e.job_id] = e.spec.model_dump_json()
        elif isinstance(e, (ev.JobCompleted, ev.JobFailed, ev.JobCancelled)) and specs.get(e.job_id):
            specs[e.job_id] = ""  # keep the marker (a redelivered acceptance is recognised), drop the circuit
        state = qpus.get(qpu_id) or dispatch.new_state(qpu_id)
        if isinstance(e, ev.CancelRequested):
            state, cancelled = dispatch.cancel(state, e)
            if cancelled is not None:
                await emit(t_exec, qpu_id, cancelled)
        state, checks = dispatch.on_job_end(state, e, settings.fault_seed)
        for x in checks:  # health check between jobs, and a noisy-neighbour incident if it found one
            await emit(t_cal, qpu_id, x)
        state = dispatch.fold(state, e)
        now = codec.now()
        state, started = dispatch.maybe_calibrate(state, now, settings.calibration_interval_s)
        if started is not None:
            await emit(t_cal, qpu_id, started)
        state, reservations = dispatch.reserve_all(state, now, settings.calibration_interval_s)
        qpus[qpu_id] = state
        for reservation in reservations:
            spec = ev.JobSpec.model_validate_json(specs[reservation.job_id])
            await emit(t_exec, qpu_id, reservation.model_copy(update={"spec": spec}))

    @app.agent(app.topic(names["jobs"], names["execution"], names["calibration"], key_type=bytes,
                         value_type=bytes, key_serializer="raw", value_serializer="raw"))
    async def schedule(stream: Any) -> None:
        async def handle(e: ev.Event, _topic: str) -> None:
            qpu_id = getattr(e, "qpu_id", None)
            if qpu_id is None or isinstance(e, (ev.SlotReserved, ev.JobStarted, ev.ShotsMeasured)):
                return
            await dispatch_step(qpu_id, e)

        await guarded(stream, handle)

    @app.agent(app.topic(names["execution"], names["calibration"], key_type=bytes, value_type=bytes,
                         key_serializer="raw", value_serializer="raw"))
    async def execute(stream: Any) -> None:
        async def handle(e: ev.Event, _topic: str) -> None:
            if isinstance(e, (ev.QpuRegistered, ev.CalibrationCompleted)):
                snap = e.calibration if isinstance(e, ev.QpuRegistered) else e.snapshot
                snapshots[e.qpu_id] = {"epoch": getattr(e, "epoch", 0), "snapshot": snap}
                return
            if isinstance(e, ev.CalibrationStarted):
                await calibrate(e)
                return
            if not isinstance(e, ev.SlotReserved):
                return
            done = executed.get(e.job_id)
            if done is not None:
                # already ran: repeat its terminal fact (same event id) so the scheduler frees the QPU
                await emit(t_exec, e.qpu_id, codec.decode(done.encode()))
                return
            await run_job(e)

        await guarded(stream, handle)

    async def calibrate(e: ev.CalibrationStarted) -> None:
        """Run a (simulated) calibration; the outcome is deterministic in (fault seed, QPU, epoch, event)."""
        current = snapshots.get(e.qpu_id) or {}
        await asyncio.sleep(settings.calibration_seconds)
        base = dict(aggregate_id=e.qpu_id, aggregate_version=e.aggregate_version + 1, occurred_at=codec.now(),
                    qpu_id=e.qpu_id, epoch=e.epoch)
        if faults.calibration_fails(settings.fault_seed, e.event_id, settings.calibration_failure_probability):
            await emit(t_cal, e.qpu_id, ev.CalibrationFailed(
                event_id=ev.deterministic_id(e.event_id, "CalibrationFailed"), reason="injected calibration failure", **base))
            return
        snapshot = await asyncio.get_running_loop().run_in_executor(
            pool, device.recalibrate, current.get("snapshot"), e.epoch)
        await emit(t_cal, e.qpu_id, ev.CalibrationCompleted(
            event_id=ev.deterministic_id(e.event_id, "CalibrationCompleted"), snapshot=snapshot, **base))

    async def run_job(r: ev.SlotReserved) -> None:
        base = dict(tenant_id=r.tenant_id, aggregate_id=r.job_id, job_id=r.job_id, qpu_id=r.qpu_id)
        attempt = 1
        while True:
            await emit(t_exec, r.qpu_id, ev.JobStarted(
                event_id=ev.deterministic_id(r.job_id, "JobStarted", attempt), aggregate_version=3,
                occurred_at=codec.now(), attempt=attempt, calibration_epoch=r.calibration_epoch, **base))
            if not aborts.injected_abort(settings.fault_seed, r.job_id, attempt, settings.abort_probability):
                break
            decision = aborts.on_abort(attempt, abort_policy)
            retry = isinstance(decision, aborts.Retry)
            await emit(t_exec, r.qpu_id, ev.JobAborted(
                event_id=ev.deterministic_id(r.job_id, "JobAborted", attempt), aggregate_version=3,
                occurred_at=codec.now(), attempt=attempt, reason="hardware abort (injected)", will_retry=retry, **base))
            if not retry:
                failed = ev.JobFailed(event_id=ev.deterministic_id(r.job_id, "JobFailed"), aggregate_version=4,
                                      occurred_at=codec.now(), reason=decision.reason, system_fault=True, **base)
                await emit(t_exec, r.qpu_id, failed)
                executed[r.job_id] = failed.model_dump_json()
                return
            await asyncio.sleep(decision.delay_s)
            attempt = decision.next_attempt
        cal = snapshots.get(r.qpu_id) or {}
        assert r.spec is not None, "SlotReserved without a job spec"
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                pool, device.execute, r.spec, cal.get("snapshot"), r.physical_qubits, r.crosstalk)
        except Exception as exc:  # noqa: BLE001 - a job that cannot run fails with the reason
            log.warning("job %s failed on %s: %s", r.job_id, r.qpu_id, exc)
            failed = ev.JobFailed(event_id=ev.deterministic_id(r.job_id, "JobFailed"), aggregate_version=4,
                                  occurred_at=codec.now(), reason=f"{type(exc).__name__}: {exc}",
                                  system_fault=not isinstance(exc, ValueError), **base)
            await emit(t_exec, r.qpu_id, failed)
            executed[r.job_id] = failed.model_dump_json()
            return
        measured_at = codec.now()
        await emit(t_exec, r.qpu_id, ev.ShotsMeasured(
            event_id=ev.deterministic_id(r.job_id, "ShotsMeasured"), aggregate_version=4,
            occurred_at=measured_at, shots=r.spec.shots, counts=result.counts,
            qpu_seconds=result.qpu_seconds, calibration_epoch=r.calibration_epoch,
            compute_seconds=result.compute_seconds, crosstalk_fidelity=result.crosstalk_fidelity, **base))
        completed = ev.JobCompleted(
            event_id=ev.deterministic_id(r.job_id, "JobCompleted"), aggregate_version=5,
            occurred_at=measured_at, calibration_epoch=r.calibration_epoch, **base)
        await emit(t_exec, r.qpu_id, completed)
        executed[r.job_id] = completed.model_dump_json()

    t_bill = topic("billing")
    ledgers = Ledgers()
    billing_ready = asyncio.Event()

    @app.agent(app.topic(names["jobs"], names["execution"], topic_name(settings.topic_prefix, "admin"),
                         key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"))
    async def bill(stream: Any) -> None:
        # The billing topic is the ledgers' changelog. Take back everything already emitted first,
        # then the price books, then every job fact from offset 0: only what is still missing comes
        # out (a job whose lane was read before a crash but whose end came after is priced too).
        records = await log_reader.read_records(settings, ("billing", "admin", "jobs", "execution"))
        restored, bad = log_reader.decode_all(records)
        for r, why in bad:
            log.error("billing restore skipped %s[%s]@%s: %s", r.topic, r.partition, r.offset, why)
        rank = {topic_name(settings.topic_prefix, t): i for i, t in enumerate(("billing", "admin", "jobs", "execution"))}
        restored.sort(key=lambda er: (rank[er[1].topic], er[1].partition, er[1].offset))
        for e, _ in restored:
            for out in ledgers.apply(e):
                await emit(t_bill, out.tenant_id or "", out)
        log.info("billing ledgers restored from %d events", len(restored))
        billing_ready.set()

        async def handle(e: ev.Event, _topic: str) -> None:
            for out in ledgers.apply(e):
                await emit(t_bill, out.tenant_id or "", out)

        await guarded(stream, handle)

    @app.timer(interval=settings.invoice_check_s)
    async def issue_invoices() -> None:
        """Invoice every ended period (a late charge gets an adjustment invoice, never a silent change)."""
        if not billing_ready.is_set():
            return
        for out in ledgers.invoice(codec.now()):
            await emit(t_bill, out.tenant_id or "", out)

    return app


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    """Run the worker in the foreground until SIGTERM/SIGINT."""
    device.warm_start(settings.home / "jax-cache")  # a restarted worker reuses compiled buckets
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=loglevel)
    worker.execute_from_commandline()
