"""The discrete-event simulation: one QPU, the pure policies of domain.scheduling, no Kafka.

Every state the policies see is folded from catalogue events (admission, calibration) or kept in
the policies' own value types (usage, occupancy); the engine only moves time forward.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.sim import events as E
from bench.sim.workload import SimJob, TenantSpec
from domain.scheduling import admission, aborts, calibration as cal, fairshare as fs
from domain.scheduling.neighbours import CrosstalkParams, crosstalk_map
from domain.scheduling.placement import Device, Occupancy, Placement, Running, place
from domain.scheduling.usage import DecayedUsage

HOLD_MARGIN = 1.1  # the hold is an upper bound of the modelled QPU time


@dataclass(frozen=True)
class Config:
    policy: str = "qmux"  # qmux | fifo | fairshare
    seed: int = 7
    coschedule: bool = True
    abort_p: float = 0.02
    cancel_p: float = 0.01
    cal_fail_p: float = 0.1
    calibrations: bool = True
    health_every_s: float = 1800.0
    calibration_s: float = 600.0
    rows: int = 4
    cols: int = 5
    small_max_qubits: int = 4
    params: fs.Params = fs.Params()
    cal_params: cal.CalParams = cal.CalParams()
    abort_policy: aborts.AbortPolicy = aborts.AbortPolicy()
    xt: CrosstalkParams = CrosstalkParams()


@dataclass
class Record:
    job: SimJob
    lane: str
    weight: float
    accepted_at: float | None = None
    first_start: float | None = None
    end_at: float | None = None
    status: str = "submitted"  # queued / running / completed / failed / rejected / cancelled
    terminal_events: int = 0
    attempts: int = 0
    qubits: tuple[int, ...] = ()
    shared: bool = False
    xt: dict[int, float] = field(default_factory=dict)  # worst crosstalk seen per own qubit
    epoch: int = 0
    runs: list[tuple[float, float, int]] = field(default_factory=list)  # (start, end, qubits) incl. aborted

    def fidelity_loss(self) -> float:
        keep = 1.0
        for p in self.xt.values():
            keep *= (1.0 - p) ** self.job.layers
        return 1.0 - keep


def _head(policy: str, p: fs.Params) -> Callable[..., fs.QueueEntry | None]:
    if policy == "qmux":
        return lambda q, u, now, ok: fs.pick(q, u, now, p, ok)
    key = {
        "fifo": lambda e, u: (e.enqueued_at, e.job_id),
        "fairshare": lambda e, u: (u.get(e.tenant_id, 0.0) / e.weight, e.enqueued_at, e.job_id),
    }[policy]
    return lambda q, u, now, ok: min((e for e in q if ok(e)), key=lambda e: key(e, u), default=None)


class Sim:
    def __init__(self, specs: list[TenantSpec], jobs: list[SimJob], cfg: Config):
        self.cfg, self.specs = cfg, {s.tenant_id: s for s in specs}
        self.dev = Device.grid(cfg.rows, cfg.cols)
        self.head = _head(cfg.policy, cfg.params)
        self.rng = random.Random(f"sim:{cfg.seed}")
        self.heap: list[tuple[float, int, str, object]] = []
        self.seq = 0
        self.queue: list[fs.QueueEntry] = []
        self.occ = Occupancy()
        self.usage = DecayedUsage(cfg.params.half_life_s)
        self.adm: admission.State = {}
        self.cal = cal.CalState(E.QPU)
        self.running: dict[str, tuple[float, float, int]] = {}  # job -> (start, est end, attempt)
        self.per_tenant_running: dict[str, int] = {t: 0 for t in self.specs}
        self.records = {j.job_id: Record(j, self.specs[j.tenant_id].plan.lane, self.specs[j.tenant_id].plan.weight)
                        for j in jobs}
        self.cal_log: list[tuple[float, float, str]] = []  # (start, end, outcome)
        self.cal_started_at: float | None = None
        self.rejections: dict[str, int] = {}
        self.rate_retries = 0
        self.base_error = self._base_errors(0)
        for s in specs:
            self.adm = admission.apply(self.adm, E.registered(s.tenant_id, s.plan.name))
            self.adm = admission.apply(self.adm, E.plan_assigned(s.tenant_id, s.plan.model_dump()))
        self.cal = cal.apply(self.cal, E.cal_completed(0.0, 0, self.base_error))
        for j in jobs:
            self._at(j.submit_at, "submit", j.job_id)
            if self.rng.random() < cfg.cancel_p:
                self._at(j.submit_at + self.rng.uniform(10, 600), "cancel", j.job_id)
        if cfg.calibrations:
            self._at(cfg.health_every_s, "health", None)

    # ------------------------------------------------------------ plumbing
    def _at(self, t: float, kind: str, arg: object) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, arg))

    def _base_errors(self, epoch: int) -> dict[int, float]:
        r = random.Random(f"cal:{self.cfg.seed}:{epoch}")
        return {q: r.uniform(1e-3, 6e-3) for q in range(self.dev.num_qubits)}

    def _errors_now(self, t: float) -> dict[int, float]:
        return cal.drifted_errors(self.cal.calibrated_error, t - (self.cal.calibrated_at - E.T0), self.cal.load_s,
                                  self.cfg.seed, self.cal.epoch)

    def _fold(self, e: object) -> None:
        self.adm = admission.apply(self.adm, e)  # type: ignore[arg-type]
        jid = getattr(e, "job_id", None)
        pulse = frozenset({jid}) if type(e).__name__ == "ShotsMeasured" and self._is_pulse(jid) else frozenset()
        self.cal = cal.apply(self.cal, e, pulse)  # type: ignore[arg-type]

    def _is_pulse(self, job_id: str) -> bool:
        rate = self.specs[self.records[job_id].job.tenant_id].pulse_level_rate
        return rate > 0 and random.Random(f"pulse:{self.cfg.seed}:{job_id}").random() < rate

    def run(self) -> Sim:
        while self.heap:
            t, _, kind, arg = heapq.heappop(self.heap)
            getattr(self, f"_on_{kind}")(t, arg)
            self._dispatch(t)
        return self

    # ------------------------------------------------------------ handlers
    def _on_submit(self, t: float, job_id: str) -> None:
        rec = self.records[job_id]
        j = rec.job
        est = j.qpu_seconds * HOLD_MARGIN
        d = admission.admit(self.adm, admission.Request(j.tenant_id, j.job_id, j.shots, est), E.at(t))
        if isinstance(d, admission.Rejected) and d.limit == "rate":
            self.rate_retries += 1  # the client honours Retry-After
            self._at(t + (d.retry_after_s or 1.0), "submit", job_id)
            return
        self._fold(E.submitted(t, j.job_id, j.tenant_id, j.num_qubits, j.num_gates, j.shots))
        if isinstance(d, admission.Rejected):
            self.rejections[d.limit] = self.rejections.get(d.limit, 0) + 1
            self._fold(E.rejected(t, j.job_id, j.tenant_id, d.message, d.limit))
            self._terminal(rec, "rejected", t)
            return
        self._fold(E.held(t, j.job_id, j.tenant_id, j.shots, est))
        rec.accepted_at, rec.status = t, "queued"
        plan = self.specs[j.tenant_id].plan
        self.queue.append(fs.QueueEntry(j.job_id, j.tenant_id, plan.lane, plan.weight, t, est, j.num_qubits,
                                        plan.allow_coscheduling and self.cfg.coschedule))

    def _on_cancel(self, t: float, job_id: str) -> None:
        self.queue, entry = fs.cancel(self.queue, job_id)
        if entry is None:
            return  # already running or finished: a cancel only takes queued jobs here
        rec = self.records[job_id]
        self._fold(E.cancelled(t, job_id, rec.job.tenant_id))
        self._fold(E.released(t, job_id, rec.job.tenant_id, "cancelled"))
        self._terminal(rec, "cancelled", t)

    def _on_requeue(self, t: float, entry: fs.QueueEntry) -> None:
        self.queue.append(entry)
        self.records[entry.job_id].status = "queued"

    def _on_finish(self, t: float, arg: tuple[str, int, bool]) -> None:
        job_id, attempt, abort = arg
        rec, j = self.records[job_id], self.records[job_id].job
        start, _, _ = self.running.pop(job_id)
        rec.runs.append((start, t, j.num_qubits))
        self.occ = self.occ.release(job_id)
        self.per_tenant_running[j.tenant_id] -= 1
        if abort:
            decision = aborts.on_abort(attempt, self.cfg.abort_policy)
            retry = isinstance(decision, aborts.Retry)
            self._fold(E.aborted(t, job_id, j.tenant_id, attempt, retry))
            if isinstance(decision, aborts.Retry):
                plan = self.specs[j.tenant_id].plan
                entry = fs.QueueEntry(job_id, j.tenant_id, plan.lane, plan.weight, rec.accepted_at or t,
                                      j.qpu_seconds * HOLD_MARGIN, j.num_qubits,
                                      plan.allow_coscheduling and self.cfg.coschedule)
                self._at(t + decision.delay_s, "requeue", entry)
            else:
                self._fold(E.failed(t, job_id, j.tenant_id, decision.reason))
                self._fold(E.released(t, job_id, j.tenant_id, "aborted"))
                self._terminal(rec, "failed", t)
            return
        self.usage = self.usage.add(j.tenant_id, j.qpu_seconds, t)
        self._fold(E.measured(t, job_id, j.tenant_id, j.shots, j.qpu_seconds, rec.epoch))
        self._fold(E.completed(t, job_id, j.tenant_id, rec.epoch))
        self._fold(E.settled(t, job_id, j.tenant_id, j.shots, j.qpu_seconds))
        self._terminal(rec, "completed", t)

    def _on_health(self, t: float, _: object) -> None:
        if self.cal.status == "in_service":
            self._fold(E.health(t, self.cal.epoch, self._errors_now(t)))
        if any(r.status in ("submitted", "queued", "running") for r in self.records.values()) or self.running:
            self._at(t + self.cfg.health_every_s, "health", None)

    def _on_cal_done(self, t: float, epoch: int) -> None:
        ok = random.Random(f"calok:{self.cfg.seed}:{epoch}:{t:.3f}").random() >= self.cfg.cal_fail_p
        assert self.cal_started_at is not None
        self.cal_log.append((self.cal_started_at, t, "completed" if ok else "failed"))
        if ok:
            self.base_error = self._base_errors(epoch)
            self._fold(E.cal_completed(t, epoch, self.base_error))
        else:
            self._fold(E.cal_failed(t, epoch))
            self._at(t + cal.retry_delay_s(self.cal.failures, self.cfg.cal_params), "wake", None)

    def _on_wake(self, t: float, _: object) -> None:
        pass

    def _terminal(self, rec: Record, status: str, t: float) -> None:
        rec.status, rec.end_at = status, t
        rec.terminal_events += 1

    # ------------------------------------------------------------ the scheduler's turn
    def _dispatch(self, t: float) -> None:
        if self.cfg.calibrations:
            d = cal.decide(self.cal, t + E.T0, self.cfg.cal_params)
            if d.action == "start" and not self.running:
                assert not self.occ.jobs, "calibration must never start while a job holds qubits"
                self.cal_started_at = t
                epoch = self.cal.epoch + 1
                self._fold(E.cal_started(t, epoch, d.trigger or "schedule"))
                self._at(t + self.cfg.calibration_s, "cal_done", epoch)
                return
            if d.action != "none" or self.cal.status != "in_service":
                return
        errors = self.cal.measured_error or self.cal.calibrated_error
        usage = self.usage.snapshot(t)
        for s, (_, est_end, _) in self.running.items():
            tid = self.records[s].job.tenant_id
            usage[tid] = usage.get(tid, 0.0) + max(0.0, est_end - t)

        def ok(e: fs.QueueEntry) -> bool:
            return self.per_tenant_running[e.tenant_id] < self.specs[e.tenant_id].plan.max_running

        while True:
            head = self.head(self.queue, usage, t, ok)
            if head is None:
                return
            pl = place(self.dev, self.occ, head.num_qubits, errors, (), head.allow_coscheduling,
                       self.cfg.small_max_qubits, self.cfg.xt)
            if isinstance(pl, Placement):
                self._start(t, head, pl)
                continue
            if not self.cfg.coschedule:
                return
            # EASY backfill: a shareable job that will be done before the head could start anyway
            shadow = max((end for _, end, _ in self.running.values()), default=t)
            tried = {head.job_id}
            started = False
            for _ in range(8):
                cand = self.head(self.queue, usage, t, lambda e: ok(e) and e.job_id not in tried and e.allow_coscheduling
                                 and e.num_qubits <= self.cfg.small_max_qubits and t + e.size_s <= shadow)
                if cand is None:
                    break
                tried.add(cand.job_id)
                pl = place(self.dev, self.occ, cand.num_qubits, errors, (), True, self.cfg.small_max_qubits, self.cfg.xt)
                if isinstance(pl, Placement):
                    self._start(t, cand, pl)
                    started = True
                    break
            if not started:
                return

    def _start(self, t: float, e: fs.QueueEntry, pl: Placement) -> None:
        rec, j = self.records[e.job_id], self.records[e.job_id].job
        self.queue, _ = fs.cancel(self.queue, e.job_id)
        rec.attempts += 1
        if rec.first_start is None:
            rec.first_start = t
        rec.status, rec.qubits, rec.epoch = "running", pl.physical_qubits, self.cal.epoch
        rec.shared = rec.shared or bool(self.occ.jobs)
        pulse = self._is_pulse(e.job_id)
        self.occ = self.occ.occupy(Running(e.job_id, e.tenant_id, pl.physical_qubits, pl.shared, pulse))
        self._merge_xt(rec, pl.crosstalk)
        for other in self.occ.jobs.values():  # the newcomer also disturbs those already running
            if other.job_id != e.job_id:
                orec = self.records[other.job_id]
                orec.shared = True
                xt = crosstalk_map(other.qubits, [(pl.physical_qubits, pulse)], self.dev.adjacency, self.cfg.xt)
                self._merge_xt(orec, {q: orec.xt.get(q, 0.0) + p for q, p in xt.items()})
        self._fold(E.reserved(t, e.job_id, e.tenant_id, list(pl.physical_qubits), self.cal.epoch,
                              max(0.0, t - (rec.accepted_at or t))))
        self._fold(E.started(t, e.job_id, e.tenant_id, rec.attempts, self.cal.epoch))
        self.per_tenant_running[e.tenant_id] += 1
        abort = aborts.injected_abort(self.cfg.seed, e.job_id, rec.attempts, self.cfg.abort_p)
        dur = j.qpu_seconds * (random.Random(f"abortat:{self.cfg.seed}:{e.job_id}").uniform(0.1, 0.9) if abort else 1.0)
        self.running[e.job_id] = (t, t + e.size_s, rec.attempts)
        self._at(t + dur, "finish", (e.job_id, rec.attempts, abort))

    @staticmethod
    def _merge_xt(rec: Record, xt: dict[int, float]) -> None:
        for q, p in xt.items():
            rec.xt[q] = max(rec.xt.get(q, 0.0), p)
