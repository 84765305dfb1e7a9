"""Properties: how deliveries interleave or repeat never changes the bill."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import events as ev
from domain.billing import Ledgers, reconcile, rederive, verify_chain
from domain.billing.replay import COMPARED
from tests.domain.test_billing_factories import (
    aborted, accepted, at, cancelled, completed, failed, measured, price_book, started,
)

OUTCOMES = ("completed", "cancelled", "aborted", "retried", "system", "user")


@st.composite
def jobs(draw) -> list[ev.Event]:
    """Facts of a few jobs of two tenants on two QPUs, with every outcome."""
    log: list[ev.Event] = []
    for n in range(draw(st.integers(1, 8))):
        tenant = draw(st.sampled_from(["acme", "globex"]))
        qpu = draw(st.sampled_from(["qpu-a", "qpu-b"]))
        job, t = f"{tenant}-{n}", at(draw(st.integers(0, 10**6)))
        lane = draw(st.sampled_from(["standard", "priority", "batch"]))
        shots = draw(st.integers(0, 5000))
        secs = draw(st.floats(0, 30, allow_nan=False).map(lambda x: round(x, 7)))
        kind = draw(st.sampled_from(OUTCOMES))
        log += [accepted(job, tenant, lane, t, qpu), started(job, tenant, 1, 3, t, qpu)]
        if kind == "completed":
            log += [measured(job, tenant, shots, secs, 3, t, qpu), completed(job, tenant, t, 3, qpu)]
        elif kind == "cancelled":
            log += [cancelled(job, tenant, shots, secs, t, qpu)]
        elif kind == "aborted":
            log += [aborted(job, tenant, 1, False, t, qpu)]
        elif kind == "retried":
            log += [aborted(job, tenant, 1, True, t, qpu), started(job, tenant, 2, 4, t, qpu),
                    measured(job, tenant, shots, secs, 4, t, qpu), completed(job, tenant, t, 4, qpu)]
        else:
            log += [measured(job, tenant, shots, secs, 3, t, qpu), failed(job, tenant, kind == "system", t, qpu)]
    return log


def deliveries(log: list[ev.Event], rnd: random.Random) -> list[ev.Event]:
    """One possible at-least-once delivery: partitions (topic, QPU) merged in any order, each in
    its own order, with stretches of a partition delivered again (a consumer restarted)."""
    parts: dict[tuple[str, str], list[ev.Event]] = {}
    for e in log:
        topic = "jobs" if e.type == "JobAccepted" else "execution"
        parts.setdefault((topic, e.qpu_id), []).append(e)  # type: ignore[attr-defined]
    cursors = {k: 0 for k in parts}
    out: list[ev.Event] = []
    while cursors:
        key = rnd.choice(sorted(cursors))
        i = cursors[key]
        if i and rnd.random() < 0.15:
            back = rnd.randrange(i)
            out += parts[key][back:i]  # redelivered from an older committed offset
        out.append(parts[key][i])
        cursors[key] = i + 1
        if cursors[key] == len(parts[key]):
            del cursors[key]
    return out


def bill(events: list[ev.Event]) -> dict[str, tuple]:
    """What a tenant is charged, settled and released: the order-independent content by event id."""
    return {e.event_id: tuple(getattr(e, f) for f in COMPARED[e.type]) for e in events if e.type in COMPARED}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=jobs(), rnd=st.randoms(use_true_random=False))
def test_interleavings_and_duplicate_deliveries_never_change_the_bill(log, rnd):
    books = [price_book(1), price_book(2, at(5 * 10**5), per_shot=13, lanes={"priority": 2000}, published=at(0))]
    baseline = Ledgers().apply_all(books + log)
    shuffled = deliveries(log, rnd)
    got = Ledgers().apply_all(books + shuffled)
    assert bill(got) == bill(baseline)
    assert len(got) == len(baseline)  # nothing emitted twice
    assert reconcile(rederive(books + log), got).ok
    assert verify_chain(books + shuffled + got).ok
