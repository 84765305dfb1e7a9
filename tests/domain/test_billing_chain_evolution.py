"""A recorded chain stays valid when the catalogue gains a field with a default."""

from __future__ import annotations

import json

from domain import events as ev
from domain.billing import Ledgers, chain, verify_chain
from tests.domain.factories import submitted
from tests.domain.test_billing_factories import mixed_log


def test_a_field_added_later_with_a_default_leaves_recorded_digests_unchanged():
    inputs = mixed_log()
    emitted = Ledgers().apply_all(inputs)
    sub = submitted("j1")

    class JobSubmittedLater(ev.JobSubmitted):  # the catalogue a year on
        priority_hint: int = 0
        tags: list[str] = []

    later = JobSubmittedLater(**sub.model_dump())
    assert chain.canonical(later) == chain.canonical(sub)
    assert chain.digest(later) == chain.digest(sub)
    assert verify_chain(inputs + emitted).ok


def test_changing_a_field_to_its_default_still_breaks_the_chain():
    inputs = mixed_log()
    emitted = Ledgers().apply_all(inputs)
    log = inputs + emitted
    i = next(k for k, e in enumerate(log) if e.type == "ShotsMeasured")
    raw = json.loads(log[i].to_json())
    raw["compute_seconds"] = 0.0 if raw["compute_seconds"] else 1.0
    raw["shots"] = raw["shots"] + 1
    tampered = log[:i] + [ev.parse_event(raw)] + log[i + 1:]
    assert not verify_chain(tampered).ok
