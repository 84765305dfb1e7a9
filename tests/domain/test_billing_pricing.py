from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.billing.pricing import PriceBook, PriceBooks, PricingError, book_at, qpu_seconds_to_micro
from tests.domain.test_billing_factories import BOOK_T, price_book


@pytest.mark.parametrize("secs, micro", [
    (0.0, 0), (1.0, 1_000_000), (0.25, 250_000), (0.0000005, 1), (0.0000004, 0), (0.0000015, 2),
    (0.0000025, 3), (1.2345675, 1_234_568), (0.1, 100_000), (123.456789, 123_456_789),
])
def test_qpu_seconds_round_half_up_on_the_decimal_text(secs, micro):
    assert qpu_seconds_to_micro(secs) == micro


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_qpu_seconds_refuse_what_cannot_be_billed(bad):
    with pytest.raises(PricingError):
        qpu_seconds_to_micro(bad)


def test_charge_is_exact_integer_arithmetic_with_one_rounding():
    book = PriceBook.from_event(price_book(per_shot=7, per_second=333_333, per_job=1, lanes={"priority": 1500}))
    # raw = (1 + 7*3) * 1e6 + 333333 * 1_000_001 = 22_000_000 + 333_333_333_333
    raw = 22 * 10**6 + 333_333 * 1_000_001
    assert book.charge_micro(3, 1_000_001, "standard") == (raw * 1000 + 5 * 10**8) // 10**9 == 333_355
    assert book.charge_micro(3, 1_000_001, "priority") == (raw * 1500 + 5 * 10**8) // 10**9 == 500_033
    assert book.charge_micro(0, 0, "standard") == 1


@given(shots=st.integers(0, 10**7), qpu_us=st.integers(0, 10**10), per_shot=st.integers(0, 10**6),
       per_second=st.integers(0, 10**9), per_job=st.integers(0, 10**8), mult=st.integers(0, 10_000))
def test_charge_matches_exact_rational_rounded_half_up(shots, qpu_us, per_shot, per_second, per_job, mult):
    book = PriceBook.from_event(price_book(per_shot=per_shot, per_second=per_second, per_job=per_job,
                                           lanes={"x": mult}))
    exact = (Fraction(per_job + per_shot * shots) + Fraction(per_second * qpu_us, 10**6)) * Fraction(mult, 1000)
    floor = exact.numerator // exact.denominator
    want = floor + (1 if exact - floor >= Fraction(1, 2) else 0)
    assert book.charge_micro(shots, qpu_us, "x") == want


def test_unknown_lane_is_charged_at_one_x():
    book = PriceBook.from_event(price_book(lanes={}))
    assert book.charge_micro(10, 0, "batch") == book.per_job_micro + 10 * book.per_shot_micro


def test_book_in_force_is_chosen_by_event_time():
    v1 = price_book(1, BOOK_T)
    v2 = price_book(2, BOOK_T + timedelta(days=30), per_shot=20)
    v3 = price_book(3, BOOK_T + timedelta(days=10), per_shot=30, published=BOOK_T + timedelta(days=5))
    books = PriceBooks()
    for e in (v2, v1, v3):  # arrival order must not matter
        assert books.add(e)
    plain = [PriceBook.from_event(e) for e in (v1, v2, v3)]
    for days, version in [(-1, None), (0, 1), (9.99, 1), (10, 3), (29, 3), (30, 2), (400, 2)]:
        t = BOOK_T + timedelta(days=days)
        got = books.at(t)
        assert (got.version if got else None) == version
        assert (b.version if (b := book_at(plain, t)) else None) == version


def test_same_effective_time_highest_version_wins():
    books = PriceBooks()
    books.add(price_book(1, BOOK_T))
    books.add(price_book(2, BOOK_T, per_shot=99))
    assert books.at(BOOK_T).version == 2


def test_retroactive_or_conflicting_books_are_refused_with_a_reason():
    books = PriceBooks()
    retro = price_book(1, BOOK_T, published=BOOK_T + timedelta(hours=1))
    assert not books.add(retro)
    assert "ahead of the time it takes effect" in books.refused[retro.event_id]
    assert books.add(price_book(2, BOOK_T))
    assert not books.add(price_book(2, BOOK_T))  # the same event again: known, not refused
    clash = price_book(2, BOOK_T, per_shot=1).model_copy(update={"event_id": "other"})
    assert not books.add(clash)
    assert "already published" in books.refused["other"]
    assert books.at(BOOK_T).per_shot_micro == 10
