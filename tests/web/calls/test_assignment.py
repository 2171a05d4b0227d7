"""Reviewer assignment: conflicts never violated, k reviewers when possible, balanced loads (property-based)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from tremplin.web.calls.assignment import assign_reviewers


@st.composite
def instances(draw, with_conflicts=True):
    proposals = list(range(1, draw(st.integers(0, 25)) + 1))
    reviewers = list(range(100, 100 + draw(st.integers(0, 12))))
    k = draw(st.integers(0, 4))
    pairs = [(p, r) for p in proposals for r in reviewers]
    forbidden = set(draw(st.lists(st.sampled_from(pairs), max_size=len(pairs)))) if with_conflicts and pairs else set()
    allowed = [pr for pr in pairs if pr not in forbidden]
    existing = set(draw(st.lists(st.sampled_from(allowed), max_size=5))) if allowed else set()
    return proposals, reviewers, k, forbidden, existing


def _check(proposals, reviewers, k, forbidden, existing, result):
    pairs = set(result.pairs)
    assert not pairs & forbidden, "a conflicting reviewer was assigned"
    assert not pairs & existing
    assert len(pairs) == len(result.pairs)
    final = pairs | existing
    for p in proposals:
        assigned = {r for q, r in final if q == p}
        eligible = {r for r in reviewers if (p, r) not in forbidden}
        have = len({r for q, r in existing if q == p})
        expected = max(have, min(k, len(eligible | {r for q, r in existing if q == p})))
        assert len(assigned) == expected, (p, assigned, eligible)
        assert result.shortfall.get(p, 0) == max(0, k - len(assigned))
    load = Counter(r for _p, r in final)
    assert result.loads == {r: load.get(r, 0) for r in reviewers}
    # Local optimality: no new assignment can move to an eligible reviewer with a load at least 2 lower.
    for p, r_hi in pairs:
        for r_lo in reviewers:
            if (p, r_lo) in forbidden or (p, r_lo) in final:
                continue
            assert load[r_hi] - load[r_lo] < 2, (p, r_hi, r_lo, dict(load))


@settings(max_examples=300, deadline=None)
@given(instances())
def test_conflicts_are_never_violated_and_loads_are_locally_balanced(instance):
    proposals, reviewers, k, forbidden, existing = instance
    result = assign_reviewers(proposals, reviewers, k, forbidden=forbidden, existing=existing)
    _check(proposals, reviewers, k, forbidden, existing, result)


@settings(max_examples=200, deadline=None)
@given(instances(with_conflicts=False))
def test_without_conflicts_loads_differ_by_at_most_one(instance):
    proposals, reviewers, k, _forbidden, _existing = instance
    result = assign_reviewers(proposals, reviewers, k)
    _check(proposals, reviewers, k, set(), set(), result)
    if reviewers:
        loads = result.loads.values()
        assert max(loads) - min(loads) <= 1
        assert sum(loads) == len(proposals) * min(k, len(reviewers))


@given(instances())
def test_assignment_is_deterministic(instance):
    proposals, reviewers, k, forbidden, existing = instance
    first = assign_reviewers(proposals, reviewers, k, forbidden=forbidden, existing=existing)
    again = assign_reviewers(list(reversed(proposals)), list(reversed(reviewers)), k, forbidden=forbidden,
                             existing=existing)
    assert first == again


def test_small_example_by_hand():
    # Reviewer 10 is in conflict with proposal 1: proposal 1 gets 11 and 12.
    result = assign_reviewers([1, 2, 3], [10, 11, 12], 2, forbidden={(1, 10)})
    assert {r for p, r in result.pairs if p == 1} == {11, 12}
    assert sorted(result.loads.values()) == [2, 2, 2]
    assert result.shortfall == {}
    short = assign_reviewers([1], [10], 3)
    assert short.shortfall == {1: 2}
