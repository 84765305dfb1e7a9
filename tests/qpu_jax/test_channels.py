"""Every channel is completely positive and trace preserving; superoperators act as their Kraus forms."""

from __future__ import annotations

import numpy as np
import pytest

from qpu_jax import channels as ch

rng = np.random.default_rng(7)


def choi(s: np.ndarray, k: int) -> np.ndarray:
    d = 2**k
    t = s.reshape(d, d, d, d)  # out r, out c, in r, in c
    return np.transpose(t, (0, 2, 1, 3)).reshape(d * d, d * d)


def assert_cptp(s: np.ndarray, k: int) -> None:
    d = 2**k
    vec_i = np.eye(d).reshape(-1)
    # trace preservation: Tr(S(rho)) = Tr(rho) for every rho  <=>  vec(I)^T S = vec(I)^T
    np.testing.assert_allclose(vec_i @ s, vec_i, atol=1e-12)
    assert np.linalg.eigvalsh(choi(s, k)).min() > -1e-12


@pytest.mark.parametrize("gamma", [0.0, 0.1, 0.7, 1.0])
def test_kraus_sets_are_complete(gamma):
    for kraus in (ch.amplitude_damping_kraus(gamma), ch.phase_damping_kraus(gamma), ch.reset_kraus()):
        assert ch.kraus_completeness(kraus) < 1e-12


@pytest.mark.parametrize("k,p", [(1, 0.0), (1, 0.3), (1, 4 / 3), (2, 0.05), (2, 16 / 15)])
def test_depolarizing_is_cptp_and_mixes_to_identity(k, p):
    s = ch.depolarizing(p, k)
    assert_cptp(s, k)
    d = 2**k
    full = ch.depolarizing(1.0, k) @ np.eye(d).reshape(-1) / d
    np.testing.assert_allclose(full, np.eye(d).reshape(-1) / d)


def test_relaxation_is_cptp_and_matches_closed_form():
    t, t1, t2 = 3.0, 50.0, 40.0
    s = ch.relaxation(t, t1, t2)
    assert_cptp(s, 1)
    rho = np.array([[0.3, 0.2 - 0.1j], [0.2 + 0.1j, 0.7]])
    out = (s @ rho.reshape(-1)).reshape(2, 2)
    assert out[1, 1] == pytest.approx(0.7 * np.exp(-t / t1))
    assert out[0, 1] == pytest.approx((0.2 - 0.1j) * np.exp(-t / t2))


def test_t2_above_twice_t1_is_refused():
    with pytest.raises(ValueError, match="T2"):
        ch.relaxation(1.0, 10.0, 21.0)


def test_embedding_matches_kronecker_products():
    a = rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))
    b = rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))
    sa, sb = ch.unitary(a), ch.unitary(b)
    both = ch.embed(sa, [3], [3, 5]) @ ch.embed(sb, [5], [3, 5])
    np.testing.assert_allclose(both, ch.unitary(np.kron(a, b)), atol=1e-12)
    np.testing.assert_allclose(ch.embed(ch.unitary(np.kron(a, b)), [3, 5], [5, 3]), ch.unitary(np.kron(b, a)),
                               atol=1e-12)
    np.testing.assert_allclose(ch.swap_order(ch.unitary(np.kron(a, b))), ch.unitary(np.kron(b, a)), atol=1e-12)


def test_composed_gate_channel_is_cptp():
    u = np.linalg.qr(rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4)))[0]
    s = ch.depolarizing(0.02, 2) @ ch.unitary(u)
    s = ch.embed(ch.relaxation(0.3, 80, 60), [0], [0, 1]) @ s
    s = ch.embed(ch.relaxation(0.3, 120, 200), [1], [0, 1]) @ s
    assert_cptp(s, 2)
