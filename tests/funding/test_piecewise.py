"""The piecewise-linear algebra: compiled totals, loss intervals and crossings against brute force."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tremplin.funding.piecewise import Terms, inside_any, loss_intervals


@st.composite
def random_terms(draw):
    k = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    t = Terms(k)
    for kind in ("linear", "relu", "step"):
        n = draw(st.integers(0, 25))
        owner = rng.integers(0, k, size=n)
        p = rng.normal(0, 100, size=n)
        # slopes of both signs, some exactly zero (flat pieces)
        q = np.where(rng.random(n) < 0.15, 0.0, rng.normal(0, 300, size=n))
        c = rng.normal(0, 2, size=n)
        getattr(t, kind)(owner, p, q, c)
    return t


@settings(max_examples=80, deadline=None)
@given(terms=random_terms(), seed=st.integers(0, 1000))
def test_compiled_total_equals_brute_force(terms, seed):
    effects = np.random.default_rng(seed).uniform(-1, 2, size=200)
    effects[:3] = [-1.0, 0.0, 2.0]
    brute = terms.evaluate(effects).sum(axis=0)
    np.testing.assert_allclose(terms.compile()(effects), brute, atol=1e-7, rtol=1e-9)


def test_hand_example():
    # 2 + 3E + max(0, 1 - 2E) + 5 [E >= 0.25] - 4 [0.5 - E >= 0]  for E >= -1
    t = Terms(1).linear(0, 2, 3).relu(0, 1, -2).step(0, -0.25, 1, 5).step(0, 0.5, -1, -4)
    e = np.array([-1.0, 0.0, 0.25, 0.4, 0.5, 0.75, 1.0])
    expected = 2 + 3 * e + np.maximum(0, 1 - 2 * e) + 5 * (e >= 0.25) - 4 * (e <= 0.5)
    np.testing.assert_allclose(t.compile()(e), expected)
    np.testing.assert_allclose(t.evaluate(e)[0], expected)


@settings(max_examples=80, deadline=None)
@given(terms=random_terms(), seed=st.integers(0, 1000))
def test_loss_intervals_equal_brute_force(terms, seed):
    rng = np.random.default_rng(seed)
    reference = rng.normal(0, 50, size=terms.n_owners)
    effects = rng.uniform(-1, 2, size=400)
    lo, hi = loss_intervals(terms.canonical(), reference, tolerance=0.01)
    brute = (terms.evaluate(effects) < reference[:, None] - 0.01).any(axis=0)
    assert (inside_any(effects, lo, hi) == brute).all()


@settings(max_examples=80, deadline=None)
@given(terms=random_terms(), target=st.floats(-300, 300))
def test_largest_crossing_is_the_last_sign_change(terms, target):
    pw = terms.compile()
    e, kind = pw.largest_crossing(target, -1.0, 1.0)
    grid = np.linspace(-1, 1, 4001)
    values = pw(grid) - target
    if kind == "root":
        assert abs(pw(np.array([e]))[0] - target) <= 1e-6 * (1 + abs(target))
    elif kind == "jump":
        left, right = pw(np.array([e - 1e-9]))[0] - target, pw(np.array([e + 1e-9]))[0] - target
        assert left * right <= 0
    else:
        assert (values > -1e-9).all() if kind == "above" else (values < 1e-9).all()
        return
    # beyond the crossing the function stays on one side of the target
    beyond = values[(grid > e + 1e-6) & (np.abs(values) > 1e-6)]
    assert len(beyond) == 0 or (beyond > 0).all() or (beyond < 0).all()
