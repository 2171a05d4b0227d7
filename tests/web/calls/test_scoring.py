"""Aggregation of reviews: weighted mean, reviewer z-scores (checked against scipy), spread, disagreement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from tremplin.web.calls import scoring
from tremplin.web.calls.scoring import ReviewScore


def test_weighted_mean_by_hand():
    assert scoring.weighted_mean({"a": 4, "b": 1}, {"a": 3, "b": 1}) == pytest.approx((12 + 1) / 4)
    assert scoring.weighted_mean({"a": 2, "b": 2, "c": 2}, {"a": 1, "b": 5, "c": 0.5}) == pytest.approx(2)


def test_weighted_mean_rejects_missing_and_out_of_range_scores():
    with pytest.raises(ValueError, match="missing"):
        scoring.weighted_mean({"a": 1}, {"a": 1, "b": 1})
    with pytest.raises(ValueError, match="outside"):
        scoring.weighted_mean({"a": 5}, {"a": 1})
    with pytest.raises(ValueError, match="positive"):
        scoring.weighted_mean({"a": 1}, {"a": 0})


@given(st.lists(st.tuples(st.integers(0, 4), st.floats(0.1, 10)), min_size=1, max_size=9))
def test_weighted_mean_matches_numpy_average(pairs):
    scores = {i: s for i, (s, _w) in enumerate(pairs)}
    weights = {i: w for i, (_s, w) in enumerate(pairs)}
    expected = np.average([s for s, _ in pairs], weights=[w for _, w in pairs])
    assert scoring.weighted_mean(scores, weights) == pytest.approx(expected)


def test_z_scores_match_scipy_per_reviewer():
    reviews = [ReviewScore("r1", p, s) for p, s in [(1, 3.0), (2, 2.0), (3, 4.0), (4, 1.5)]]
    reviews += [ReviewScore("r2", p, s) for p, s in [(1, 1.0), (2, 0.5), (5, 2.5)]]
    z = scoring.reviewer_z_scores(reviews)
    r1 = stats.zscore([3.0, 2.0, 4.0, 1.5])  # ddof=0 like ours
    r2 = stats.zscore([1.0, 0.5, 2.5])
    assert [z[("r1", p)] for p in (1, 2, 3, 4)] == pytest.approx(list(r1))
    assert [z[("r2", p)] for p in (1, 2, 5)] == pytest.approx(list(r2))


def test_a_harsh_and_a_lenient_reviewer_agree_once_normalised():
    # Same ordering, different scales: the normalised scores are identical.
    harsh = [ReviewScore("harsh", p, s) for p, s in [(1, 1.0), (2, 0.5), (3, 1.5)]]
    lenient = [ReviewScore("lenient", p, s) for p, s in [(1, 3.5), (2, 3.0), (3, 4.0)]]
    z = scoring.reviewer_z_scores(harsh + lenient)
    for p in (1, 2, 3):
        assert z[("harsh", p)] == pytest.approx(z[("lenient", p)])


def test_z_is_zero_without_information_about_the_reviewer_scale():
    z = scoring.reviewer_z_scores([ReviewScore("solo", 1, 3.0), ReviewScore("flat", 1, 2.0),
                                   ReviewScore("flat", 2, 2.0)])
    assert z[("solo", 1)] == 0 and z[("flat", 1)] == 0 and z[("flat", 2)] == 0


def test_aggregate_mean_spread_and_disagreement_threshold():
    reviews = [ReviewScore("a", 1, 1.0), ReviewScore("b", 1, 3.0),  # std 1.0: flagged (threshold)
               ReviewScore("a", 2, 2.0), ReviewScore("b", 2, 2.9),  # std 0.45: not flagged
               ReviewScore("c", 3, 4.0)]  # one review: never flagged
    agg = scoring.aggregate(reviews, proposals=[1, 2, 3, 4])
    assert agg[1].mean == pytest.approx(2.0)
    assert agg[1].spread == pytest.approx(np.std([1.0, 3.0]))
    assert agg[1].disagreement is True
    assert agg[2].disagreement is False
    assert agg[3].disagreement is False and agg[3].spread == 0
    assert agg[4].n_reviews == 0 and agg[4].mean is None
    assert scoring.DISAGREEMENT_STD_THRESHOLD == 1.0


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.integers(1, 6), st.floats(0, 4)), min_size=1, max_size=30,
                unique_by=lambda t: (t[0], t[1])))
def test_normalised_scores_are_means_of_scipy_z_scores(rows):
    reviews = [ReviewScore(r, p, s) for r, p, s in rows]
    agg = scoring.aggregate(reviews)
    for proposal in {p for _r, p, _s in rows}:
        zs = []
        for reviewer in {r for r, p, _s in rows if p == proposal}:
            values = [s for r, _p, s in rows if r == reviewer]
            own = next(s for r, p, s in rows if r == reviewer and p == proposal)
            sd = np.std(values)
            zs.append(0.0 if len(values) < 2 or sd < 1e-12 else (own - np.mean(values)) / sd)
        assert agg[proposal].normalised == pytest.approx(float(np.mean(zs)), abs=1e-9)
        assert math.isfinite(agg[proposal].spread)


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 8), st.floats(0, 4)), max_size=40,
                unique_by=lambda t: (t[0], t[1])))
def test_vectorised_aggregation_matches_the_reference(rows):
    reviews = [ReviewScore(r, p, s) for r, p, s in rows]
    expected = scoring.aggregate(reviews, proposals=[99])
    got = scoring.aggregate_arrays([r for r, _p, _s in rows], [p for _r, p, _s in rows], [s for _r, _p, s in rows],
                                   all_proposals=[99])
    assert set(got) == set(expected)
    for key, e in expected.items():
        g = got[key]
        assert (g.n_reviews, g.disagreement) == (e.n_reviews, e.disagreement) or (
            abs((e.spread or 0) - scoring.DISAGREEMENT_STD_THRESHOLD) < 1e-9)
        for field in ("mean", "normalised", "spread"):
            if getattr(e, field) is None:
                assert getattr(g, field) is None
            else:
                assert getattr(g, field) == pytest.approx(getattr(e, field), abs=1e-9)


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 8), st.floats(0, 4)), min_size=1, max_size=40,
                unique_by=lambda t: (t[0], t[1])), st.sets(st.integers(1, 8)))
def test_aggregation_of_a_subset_with_cached_reviewer_stats_matches_the_reference(rows, subset):
    # The ranked list computes only the displayed proposals, with each reviewer's statistics over the whole call.
    reviews = [ReviewScore(r, p, s) for r, p, s in rows]
    expected = scoring.aggregate(reviews)
    stats = scoring.reviewer_stats_arrays([r for r, _p, _s in rows], [s for _r, _p, s in rows])
    for reviewer, st_ in stats.items():
        values = [s for r, _p, s in rows if r == reviewer]
        assert (st_.n, st_.mean, st_.sd) == (len(values), pytest.approx(np.mean(values)),
                                             pytest.approx(np.std(values), abs=1e-12))
    got = scoring.aggregate_with_stats([r for r in reviews if r.proposal in subset], stats)
    assert set(got) == set(expected) & subset
    for key, g in got.items():
        e = expected[key]
        assert g.n_reviews == e.n_reviews
        assert g.disagreement == e.disagreement or abs(e.spread - scoring.DISAGREEMENT_STD_THRESHOLD) < 1e-9
        for field in ("mean", "normalised", "spread"):
            assert getattr(g, field) == pytest.approx(getattr(e, field), abs=1e-9)
