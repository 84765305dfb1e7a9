import random

import pytest
from hypothesis import given, settings, strategies as st

from domain.scheduling.neighbours import crosstalk_map
from domain.scheduling.placement import Device, DoubleBooking, Occupancy, Placement, Running, Unplaceable, place

DEV = Device.grid(4, 5)


def connected(dev, qubits):
    seen, todo = {qubits[0]}, [qubits[0]]
    while todo:
        q = todo.pop()
        for n in dev.adjacency[q] & set(qubits):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen == set(qubits)


def test_picks_the_connected_set_with_the_lowest_error_and_skips_quarantine():
    err = {q: 0.01 for q in range(20)}
    err.update({13: 0.001, 14: 0.001, 18: 0.001})
    pl = place(DEV, Occupancy(), 3, err)
    assert set(pl.physical_qubits) == {13, 14, 18}
    pl2 = place(DEV, Occupancy(), 3, err, quarantined={14})
    assert 14 not in pl2.physical_qubits and connected(DEV, pl2.physical_qubits)


def test_exclusive_job_waits_for_an_empty_qpu_and_blocks_sharing():
    occ = Occupancy().occupy(Running("a", "t", (0, 1), shared=False))
    assert isinstance(place(DEV, occ, 2, {}, share=True), Unplaceable)
    occ2 = Occupancy().occupy(Running("a", "t", (0, 1), shared=True))
    assert isinstance(place(DEV, occ2, 2, {}, share=False), Unplaceable)


def test_co_scheduled_jobs_keep_a_buffer_and_report_next_nearest_crosstalk():
    occ = Occupancy().occupy(Running("a", "t1", (0, 1), shared=True))
    pl = place(DEV, occ, 2, {q: 0.001 * (20 - q) for q in range(20)}, share=True)
    assert isinstance(pl, Placement)
    buffer = {n for q in (0, 1) for n in DEV.adjacency[q]}
    assert not set(pl.physical_qubits) & ({0, 1} | buffer)
    near = place(DEV, occ, 2, {q: 0.0 if q in (3, 8) else 0.1 for q in range(20)}, share=True)
    assert set(near.physical_qubits) == {3, 8} and near.neighbours == {3: ("a",)} and near.crosstalk[3] > 0


def test_pulse_level_neighbours_raise_crosstalk():
    calm = crosstalk_map([3], [((1,), False)], DEV.adjacency)
    loud = crosstalk_map([3], [((1,), True)], DEV.adjacency)
    assert loud[3] == pytest.approx(10 * calm[3])


def test_occupy_refuses_double_booking():
    occ = Occupancy().occupy(Running("a", "t", (0, 1), shared=True))
    with pytest.raises(DoubleBooking):
        occ.occupy(Running("b", "t", (1, 2), shared=True))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31), st.lists(st.tuples(st.integers(1, 6), st.booleans(), st.booleans()), max_size=40))
def test_no_qubit_is_ever_booked_twice(seed, ops):
    rng = random.Random(seed)
    err = {q: rng.uniform(1e-3, 1e-2) for q in range(20)}
    quarantined = set(rng.sample(range(20), 2))
    occ, n = Occupancy(), 0
    for k, share, finish in ops:
        if finish and occ.jobs:
            occ = occ.release(sorted(occ.jobs)[rng.randrange(len(occ.jobs))])
            continue
        n += 1
        pl = place(DEV, occ, k, err, quarantined, share=share)
        if isinstance(pl, Placement):
            assert connected(DEV, pl.physical_qubits) and not set(pl.physical_qubits) & quarantined
            occ = occ.occupy(Running(f"j{n}", "t", pl.physical_qubits, pl.shared))
        owners = [q for r in occ.jobs.values() for q in r.qubits]
        assert len(owners) == len(set(owners)) == len(occ.owner)
        # buffer: no qubit of one running job is adjacent to another's
        for r in occ.jobs.values():
            others = set(owners) - set(r.qubits)
            assert not {n_ for q in r.qubits for n_ in DEV.adjacency[q]} & others
