"""Budget-constrained selection: the exact 0/1 knapsack against brute force on small inputs."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tremplin.web.calls.selection import KnapsackItem, knapsack


def brute_force(items, capacity):
    best = 0.0
    for r in range(len(items) + 1):
        for combo in itertools.combinations(items, r):
            if sum(i.cost for i in combo) <= capacity:
                best = max(best, sum(max(i.value, 0) for i in combo if i.value > 0))
    return best


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.floats(0, 4, allow_nan=False)), max_size=10),
       st.integers(0, 200))
def test_knapsack_matches_brute_force(raw, capacity):
    items = [KnapsackItem(i, cost, value) for i, (cost, value) in enumerate(raw)]
    result = knapsack(items, capacity)
    assert result.resolution == 1
    assert result.total_cost <= capacity
    assert result.total_value == pytest.approx(brute_force(items, capacity), abs=1e-9)
    assert len(set(result.chosen)) == len(result.chosen)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3_000_000), st.floats(0, 4, allow_nan=False)), max_size=8),
       st.integers(0, 5_000_000))
def test_coarse_resolution_never_exceeds_the_envelope(raw, capacity):
    items = [KnapsackItem(i, cost, value) for i, (cost, value) in enumerate(raw)]
    result = knapsack(items, capacity, max_units=1000)
    assert result.total_cost <= capacity
    assert result.total_value <= brute_force(items, capacity) + 1e-9


def test_exact_with_euro_resolution_and_cents():
    items = [KnapsackItem("a", Decimal("600000.50"), 3.5), KnapsackItem("b", Decimal("400000"), 2.0),
             KnapsackItem("c", Decimal("500000"), 2.5)]
    result = knapsack(items, Decimal("1000000"))
    # Greedy by score would take "a" (3.5) then nothing fits but "b" (600000.50 + 400000 > 1 M): b + c = 4.5.
    assert set(result.chosen) == {"b", "c"}
    assert result.total_cost == Decimal("900000")
    assert result.total_value == pytest.approx(4.5)


def test_rejects_negative_inputs():
    with pytest.raises(ValueError):
        knapsack([KnapsackItem("a", -1, 1)], 10)
    with pytest.raises(ValueError):
        knapsack([], -1)


def test_many_candidates_coarsen_the_resolution_but_stay_within_budget():
    items = [KnapsackItem(i, 1000 + (i * 7919) % 250_000, (i * 31) % 40 / 10) for i in range(2000)]
    result = knapsack(items, 1_200_000)
    assert result.resolution > 1
    assert result.total_cost <= 1_200_000
    # Never worse than taking the best-value items greedily by score per euro (a simple feasible baseline).
    spent, greedy = 0, 0.0
    for it in sorted(items, key=lambda it: -it.value / it.cost):
        if it.value > 0 and spent + it.cost <= 1_200_000:
            spent += it.cost
            greedy += it.value
    assert result.total_value >= greedy * 0.99
