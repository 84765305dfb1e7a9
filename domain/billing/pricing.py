"""Price books and the charge formula, in integer micro-credits.

A price book is a `PriceBookPublished` event: a version, the instant it takes effect, a price per
job, per shot and per QPU-second, and a multiplier per lane in thousandths (1000 = 1x; a lane the
book does not name is charged at 1x).

Which book prices a fact: the book in force at the fact's time `t` is, among the books with
`effective_from <= t`, the one with the latest `effective_from` (ties: the highest version).
Books are never retroactive: a book whose `effective_from` is earlier than its own publication
time (`occurred_at`) is refused, because a biller that had already priced a fact under the old
book could not know about it and replay would disagree with the bill.

Exact arithmetic, with exactly two roundings, both written down so an auditor can redo them:

1. QPU-seconds arrive as a JSON number. They are converted once to integer micro-seconds:
   take the number's shortest decimal representation (what the JSON text carries, `repr` in
   Python), multiply by 10^6 and round half up. `qpu_seconds_micro` is that integer.
2. The amount is computed in integers and rounded once, half up, to a micro-credit:

       raw    = (per_job + per_shot * shots) * 10^6 + per_qpu_second * qpu_seconds_micro
       amount = floor((raw * lane_multiplier_milli + 5 * 10^8) / 10^9)

   (`raw` is in micro-credits x 10^6; the multiplier is in thousandths; 10^9 = 10^6 * 10^3.)
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from domain import events as ev
from domain.billing import chain

DEFAULT_MULTIPLIER_MILLI = 1000
_MICRO = 1_000_000
_SCALE = _MICRO * 1000


class PricingError(ValueError):
    """A price book or a quantity that cannot be priced exactly."""


def qpu_seconds_to_micro(qpu_seconds: float) -> int:
    """QPU-seconds -> integer micro-seconds: shortest decimal form x 10^6, rounded half up."""
    if qpu_seconds != qpu_seconds or qpu_seconds in (float("inf"), float("-inf")):
        raise PricingError(f"QPU-seconds must be a finite number, got {qpu_seconds!r}")
    if qpu_seconds < 0:
        raise PricingError(f"QPU-seconds cannot be negative, got {qpu_seconds!r}")
    micro = (Decimal(repr(float(qpu_seconds))) * _MICRO).to_integral_value(rounding=ROUND_HALF_UP)
    return int(micro)


@dataclass(frozen=True)
class PriceBook:
    version: int
    effective_from: datetime
    per_job_micro: int
    per_shot_micro: int
    per_qpu_second_micro: int
    lane_multiplier_milli: dict[str, int]
    event_id: str
    published_at: datetime
    digest: bytes  # chain.digest of the publishing event: charges rest on it

    @classmethod
    def from_event(cls, e: ev.PriceBookPublished) -> PriceBook:
        bad = {lane: m for lane, m in e.lane_multiplier_milli.items() if m < 0}
        if bad:
            raise PricingError(f"price book v{e.version}: lane multipliers must be >= 0, got {bad}")
        if e.effective_from < e.occurred_at:
            raise PricingError(
                f"price book v{e.version} takes effect at {e.effective_from.isoformat()}, before it was "
                f"published at {e.occurred_at.isoformat()}; publish a book ahead of the time it takes effect")
        return cls(version=e.version, effective_from=ev.utc(e.effective_from), per_job_micro=e.per_job_micro,
                   per_shot_micro=e.per_shot_micro, per_qpu_second_micro=e.per_qpu_second_micro,
                   lane_multiplier_milli=dict(e.lane_multiplier_milli), event_id=e.event_id,
                   published_at=e.occurred_at, digest=chain.digest(e))

    def multiplier_milli(self, lane: str) -> int:
        return self.lane_multiplier_milli.get(lane, DEFAULT_MULTIPLIER_MILLI)

    def charge_micro(self, shots: int, qpu_seconds_micro: int, lane: str) -> int:
        """The amount for one job's usage (see the module docstring for the exact formula)."""
        if shots < 0 or qpu_seconds_micro < 0:
            raise PricingError(f"usage cannot be negative (shots={shots}, qpu_seconds_micro={qpu_seconds_micro})")
        raw = (self.per_job_micro + self.per_shot_micro * shots) * _MICRO + self.per_qpu_second_micro * qpu_seconds_micro
        return (raw * self.multiplier_milli(lane) + _SCALE // 2) // _SCALE


def book_at(books: list[PriceBook] | tuple[PriceBook, ...], t: datetime) -> PriceBook | None:
    """The book in force at `t`: latest effective_from <= t, ties broken by the highest version."""
    best: PriceBook | None = None
    for b in books:
        if b.effective_from <= t and (best is None or (b.effective_from, b.version) > (best.effective_from, best.version)):
            best = b
    return best


@dataclass
class PriceBooks:
    """Every accepted book, kept sorted by (effective_from, version) for lookups by time."""

    books: list[PriceBook] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # event id -> why
    _keys: list[tuple[datetime, int]] = field(default_factory=list)
    _by_version: dict[int, PriceBook] = field(default_factory=dict)

    def add(self, e: ev.PriceBookPublished) -> bool:
        """Record a published book; False when it was already known or is refused (see `refused`)."""
        known = self._by_version.get(e.version)
        if known is not None:
            if known.event_id != e.event_id:
                self.refused[e.event_id] = f"price book v{e.version} already published as event {known.event_id}"
            return False
        try:
            book = PriceBook.from_event(e)
        except PricingError as err:
            self.refused[e.event_id] = str(err)
            return False
        key = (book.effective_from, book.version)
        i = bisect.bisect_right(self._keys, key)
        self._keys.insert(i, key)
        self.books.insert(i, book)
        self._by_version[book.version] = book
        return True

    def at(self, t: datetime) -> PriceBook | None:
        i = bisect.bisect_right(self._keys, (t, 1 << 62))
        return self.books[i - 1] if i else None

    def version(self, v: int) -> PriceBook | None:
        return self._by_version.get(v)
