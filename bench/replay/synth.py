"""A synthetic but realistic qmux log for the replay benchmark, as JSON bytes per topic.

Tenants submit jobs over three months to a few QPUs; each job goes through the whole path
(submitted, accepted with its spec, quota hold, slot, start, measurement with counts,
completion) or ends otherwise (cancelled mid-run, hardware abort with or without retry, system
or user failure). QPUs recalibrate every few hours. A billing agent (`Ledgers`) bills the facts
as they are delivered and invoices each month when it ends; a few facts from the last minutes of
a month are delivered after the invoice and produce adjustment invoices. Everything derives from
the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from domain import events as ev
from domain.billing import Ledgers
from domain.billing.invoices import period_end, period_of

START = datetime(2026, 9, 1, tzinfo=timezone.utc)
TOPIC_OF = {
    "PriceBookPublished": "admin", "JobSubmitted": "submissions", "JobAccepted": "jobs", "QuotaHeld": "jobs",
    "SlotReserved": "execution", "JobStarted": "execution", "ShotsMeasured": "execution",
    "JobCompleted": "execution", "JobFailed": "execution", "JobAborted": "execution",
    "JobCancelled": "execution", "CalibrationCompleted": "calibration",
}
QASM = ("OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[{n}];\ncreg c[{n}];\n"
        + "h q[0];\n" + "".join(f"cx q[{i}],q[{i + 1}];\n" for i in range(4)) + "measure q -> c;\n")


@dataclass(frozen=True)
class Message:
    topic: str
    key: str
    value: bytes


def _price_books() -> list[ev.PriceBookPublished]:
    def book(v: int, eff: datetime, per_shot: int, per_s: int, per_job: int) -> ev.PriceBookPublished:
        return ev.PriceBookPublished(
            event_id=ev.deterministic_id("PriceBookPublished", v), aggregate_id="pricebook", aggregate_version=v,
            occurred_at=eff - timedelta(days=7), version=v, effective_from=eff, per_shot_micro=per_shot,
            per_qpu_second_micro=per_s, per_job_micro=per_job,
            lane_multiplier_milli={"standard": 1000, "priority": 1750, "batch": 600})
    return [book(1, START, 12, 2_500_000, 20_000), book(2, START + timedelta(days=45), 10, 2_750_000, 25_000)]


def _calibration(qpu: str, epoch: int, t: datetime, rnd: random.Random) -> ev.CalibrationCompleted:
    snapshot = {"qubits": [{"t1_us": round(rnd.uniform(60, 140), 3), "t2_us": round(rnd.uniform(40, 120), 3),
                            "readout_error": round(rnd.uniform(0.005, 0.03), 5)} for _ in range(16)],
                "gate_error_2q": round(rnd.uniform(0.004, 0.02), 5)}
    return ev.CalibrationCompleted(event_id=ev.deterministic_id("CalibrationCompleted", qpu, epoch), aggregate_id=qpu,
                                   aggregate_version=epoch, occurred_at=t, qpu_id=qpu, epoch=epoch, snapshot=snapshot)


def _job(tenant: str, n: int, qpu: str, t: datetime, epoch: int, rnd: random.Random) -> list[tuple[datetime, ev.Event]]:
    """One job's facts, each with its delivery time (equal to its event time unless delivered late)."""
    job = f"{tenant}-{n:06d}"
    nq = rnd.choice((2, 3, 4, 5))
    shots = rnd.choice((100, 500, 1000, 2000, 4000))
    lane = rnd.choices(("standard", "priority", "batch"), (70, 10, 20))[0]
    key = {"tenant_id": tenant, "job_id": job}
    v = iter(range(100))

    def base(kind: str, at: datetime, *extra: object) -> dict:
        return dict(event_id=ev.deterministic_id(kind, tenant, job, *extra), aggregate_id=job,
                    aggregate_version=next(v), occurred_at=at, **key)

    circuit = QASM.format(n=nq)
    sub = ev.JobSubmitted(**base("JobSubmitted", t), qpu_id=qpu, circuit_format="qasm2", circuit=circuit, num_qubits=nq,
                          num_gates=6, shots=shots, seed=rnd.randrange(2**31), idempotency_key=f"k-{n}")
    spec = ev.JobSpec(circuit_format="qasm2", circuit=circuit, num_qubits=nq, num_gates=6, shots=shots, seed=sub.seed,
                      submitted_at=t)
    out: list[ev.Event] = [sub, ev.JobAccepted(**base("JobAccepted", t), qpu_id=qpu, lane=lane, spec=spec),
                           ev.QuotaHeld(**base("QuotaHeld", t), shots=shots, qpu_seconds_estimate=shots * 2e-4)]
    wait = timedelta(seconds=rnd.expovariate(1 / 30))
    t1 = t + wait
    out.append(ev.SlotReserved(**base("SlotReserved", t1), qpu_id=qpu, slot=n, physical_qubits=list(range(nq)),
                               calibration_epoch=epoch, queue_wait_s=wait.total_seconds(), spec=spec))
    secs = round(shots * rnd.uniform(1.5e-4, 3e-4), 6)
    run = timedelta(seconds=secs + 0.05)
    fate = rnd.choices(("ok", "cancel", "retry", "abort", "system", "user"), (86, 4, 4, 2, 2, 2))[0]
    attempt = 1
    out.append(ev.JobStarted(**base("JobStarted", t1, attempt), qpu_id=qpu, attempt=attempt, calibration_epoch=epoch))
    end = t1 + run
    if fate == "retry":
        out.append(ev.JobAborted(**base("JobAborted", end, attempt), qpu_id=qpu, attempt=attempt, reason="readout timeout",
                                 will_retry=True))
        attempt, end = 2, end + run
        out.append(ev.JobStarted(**base("JobStarted", end - run, attempt), qpu_id=qpu, attempt=attempt, calibration_epoch=epoch))
    if fate == "abort":
        out.append(ev.JobAborted(**base("JobAborted", end, attempt), qpu_id=qpu, attempt=attempt, reason="cryostat fault",
                                 will_retry=False))
    elif fate == "cancel":
        done = rnd.randrange(shots)
        out.append(ev.JobCancelled(**base("JobCancelled", end), qpu_id=qpu, shots_done=done,
                                   qpu_seconds=round(secs * done / shots, 6)))
    else:
        counts: dict[str, int] = {}
        for _ in range(min(2**nq, 8)):
            b = format(rnd.randrange(2**nq), f"0{nq}b")
            counts[b] = counts.get(b, 0) + 1
        scale = shots / sum(counts.values())
        counts = {b: max(1, int(c * scale)) for b, c in counts.items()}
        out.append(ev.ShotsMeasured(**base("ShotsMeasured", end), qpu_id=qpu, shots=shots, counts=counts,
                                    qpu_seconds=secs, calibration_epoch=epoch, compute_seconds=round(rnd.uniform(0.01, 0.2), 4)))
        if fate == "ok" or fate == "retry":
            out.append(ev.JobCompleted(**base("JobCompleted", end), qpu_id=qpu, calibration_epoch=epoch))
        else:
            out.append(ev.JobFailed(**base("JobFailed", end), qpu_id=qpu, reason="executor crashed" if fate == "system"
                                    else "classical register too small", system_fault=fate == "system"))
    # a fact near the end of a month may reach the biller only after that month was invoiced
    late = end + timedelta(hours=2) if period_of(end + timedelta(minutes=30)) != period_of(end) and rnd.random() < 0.5 else None
    return [(late if late and e is out[-1] else e.occurred_at, e) for e in out]


def generate(target_events: int = 200_000, tenants: int = 5, qpus: int = 4, seed: int = 7) -> list[Message]:
    """The log as it would sit on Kafka, in the order a from-the-beginning reader sees it."""
    rnd = random.Random(seed)
    books = _price_books()
    timed: list[tuple[datetime, int, ev.Event]] = [(b.occurred_at, i, b) for i, b in enumerate(books)]
    span = timedelta(days=90)
    jobs = max(1, target_events // 9)  # about nine events per job, billing included
    epochs = {f"qpu-{q}": 0 for q in range(qpus)}
    seq = len(timed)
    for q in epochs:  # recalibration every 6 hours
        for k in range(int(span / timedelta(hours=6)) + 1):
            t = START + k * timedelta(hours=6)
            timed.append((t, seq, _calibration(q, k + 1, t, rnd)))
            seq += 1
    for n in range(jobs):
        tenant = f"tenant-{rnd.randrange(tenants)}"
        qpu = f"qpu-{rnd.randrange(qpus)}"
        t = START + timedelta(seconds=rnd.uniform(0, span.total_seconds()))
        epoch = 1 + int((t - START) / timedelta(hours=6))
        for at, e in _job(tenant, n, qpu, t, epoch, rnd):
            timed.append((at, seq, e))
            seq += 1
    timed.sort(key=lambda x: (x[0], x[1]))
    agent = Ledgers()
    log: list[ev.Event] = []
    next_close = period_end(period_of(START))
    for at, _, e in timed:
        while at >= next_close:
            log += agent.invoice(next_close)
            next_close = period_end(period_of(next_close))
        log.append(e)
        log += agent.apply(e)
    log += agent.invoice(next_close)
    return [Message(TOPIC_OF.get(e.type, "billing"), e.tenant_id or getattr(e, "qpu_id", "") or "", e.to_json())
            for e in log]
