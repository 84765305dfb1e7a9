import random

from hypothesis import given, settings, strategies as st

from domain.scheduling import fairshare as fs
from domain.scheduling.explain import eta, explain
from domain.scheduling.usage import DecayedUsage


def E(job, tenant, lane="standard", w=1.0, at=0.0, size=1.0):
    return fs.QueueEntry(job, tenant, lane, w, at, size)


def test_lane_first_then_usage_over_weight():
    q = [E("a", "heavy", at=0), E("b", "light", at=1), E("p", "prem", lane="premium", at=2)]
    order = fs.order(q, {"heavy": 100.0, "light": 10.0, "prem": 12.0}, now=3)
    assert [e.job_id for e in order] == ["p", "b", "a"]


def test_a_lane_is_a_bounded_head_start_not_a_monopoly():
    """A premium tenant far above its share yields to a standard tenant below it."""
    q = [E("s", "light", at=0), E("p", "prem", lane="premium", at=1)]
    assert fs.pick(q, {"light": 1.0, "prem": 500.0}, now=2).job_id == "s"
    assert fs.pick(q, {"light": 1.0, "prem": 1.0}, now=2).job_id == "p"


def test_weight_divides_usage():
    q = [E("a", "big", w=10.0, at=0), E("b", "small", w=1.0, at=0)]
    assert fs.pick(q, {"big": 50.0, "small": 10.0}, now=0).job_id == "a"


def test_aging_lets_a_heavy_tenant_through_eventually():
    usage = {"heavy": 1000.0, "light": 0.0}
    soon = 100.0
    q = [E("old", "heavy", at=0.0), E("new", "light", at=soon)]
    assert fs.pick(q, usage, now=soon).job_id == "new"
    late = 20 * fs.Params().aging_s
    q = [E("old", "heavy", at=0.0), E("new", "light", at=late)]
    assert fs.pick(q, usage, now=late).job_id == "old"


def test_small_jobs_of_a_tenant_pass_its_own_huge_ones():
    q = [E("huge", "t", at=0.0, size=5000.0), E("small", "t", at=5.0, size=1.0)]
    assert fs.pick(q, {}, now=10.0).job_id == "small"


def test_decay_halves_usage_each_half_life():
    u = DecayedUsage(100.0).add("t", 8.0, 0.0)
    assert abs(u.at("t", 200.0) - 2.0) < 1e-9
    assert abs(u.add("t", 2.0, 100.0).at("t", 100.0) - 6.0) < 1e-9


def test_baselines():
    q = [E("a", "heavy", at=0), E("b", "light", at=1)]
    assert [e.job_id for e in fs.fifo(q, {}, 0)] == ["a", "b"]
    assert [e.job_id for e in fs.plain_fair_share(q, {"heavy": 9.0}, 0)] == ["b", "a"]


def test_cancel_removes_only_that_job():
    q = [E("a", "t"), E("b", "t")]
    q2, gone = fs.cancel(q, "a")
    assert gone.job_id == "a" and [e.job_id for e in q2] == ["b"]
    assert fs.cancel(q2, "zz") == (q2, None)


def test_explain_gives_position_reasons_and_hides_other_tenants():
    q = [E("p", "prem", lane="premium"), E("x", "light"), E("mine-small", "me", size=0.5, at=3),
         E("mine", "me", size=50.0, at=2)]
    ex = explain("mine", q, {"me": 300.0, "light": 0.0}, now=5.0, observed_service_times=[10, 12, 8])
    assert ex.position == 3
    assert ex.reasons == {"higher_lane": 1, "lower_usage_per_weight": 1, "own_smaller_job": 1}
    assert all(a.job_id is None for a in ex.ahead if not a.own)
    assert ex.eta_low_s <= ex.eta_s <= ex.eta_high_s and abs(ex.eta_s - 30.0) < 1e-9
    assert "Position 3" in ex.text and "higher-priority lane" in ex.text


def test_eta_band_widens_with_spread_and_is_none_without_data():
    assert eta(5, []) is None
    tight, wide = eta(10, [10, 10.1, 9.9]), eta(10, [1, 19, 10])
    assert tight[2] - tight[1] < wide[2] - wide[1]
    assert eta(0, [5, 6]) == (0.0, 0.0, 0.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(5, 60))
def test_no_starvation_wait_is_bounded_under_a_flooding_tenant(seed, n_light):
    """One tenant floods; everybody's job still starts within a bound set by aging, not by the flood."""
    rng, p = random.Random(seed), fs.Params(aging_s=60.0)
    queue = [E(f"f{i}", "flood", at=0.0, size=1.0) for i in range(300)]
    queue += [E(f"l{i}", f"light{i % 3}", at=rng.uniform(0, 200), size=rng.uniform(0.5, 3)) for i in range(n_light)]
    usage = DecayedUsage(p.half_life_s).add("flood", 10_000.0, 0.0)
    t, waits = 0.0, {}
    pending = list(queue)
    while pending:
        ready = [e for e in pending if e.enqueued_at <= t]
        if not ready:
            t = min(e.enqueued_at for e in pending)
            continue
        head = fs.pick(ready, usage.snapshot(t), t, p)
        waits[head.job_id] = t - head.enqueued_at
        pending.remove(head)
        t += head.size_s
        usage = usage.add(head.tenant_id, head.size_s, t)
    # the flood's oldest job must not wait for the whole flood plus all light work to finish
    assert waits["f0"] < 0.5 * t
    assert max(w for j, w in waits.items() if j.startswith("l")) < 0.5 * t + 1


@given(st.integers(0, 2**31))
def test_order_is_deterministic_and_a_permutation(seed):
    rng = random.Random(seed)
    weight = {f"t{i}": rng.choice([1.0, 2.0, 4.0]) for i in range(5)}
    tenants = [f"t{rng.randint(0, 4)}" for _ in range(30)]
    q = [E(f"j{i}", t, rng.choice(["premium", "standard", "free"]), weight[t], rng.uniform(0, 100), rng.uniform(0.1, 100))
         for i, t in enumerate(tenants)]
    usage = {f"t{i}": rng.uniform(0, 100) for i in range(5)}
    a, b = fs.order(q, usage, 150.0), fs.order(list(reversed(q)), usage, 150.0)
    assert a == b and sorted(e.job_id for e in a) == sorted(e.job_id for e in q)
