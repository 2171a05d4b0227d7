"""Prioritisation score: hand-computed expectations, then the ranked list built from the database."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.web.factories import EndorsementFactory, ProblemFactory
from tremplin.web.problems import selectors, services
from tremplin.web.problems.scoring import Maxima, linear_scale, log_scale, score

EQUAL = {"burden": 1, "population": 1, "endorsements": 1, "strategic_fit": 1}


def test_scales():
    assert log_scale(999, 999_999) == pytest.approx(3 / 6)  # log10(1000) / log10(1e6)
    assert log_scale(None, 10) == 0 and log_scale(5, 0) == 0 and log_scale(10, 10) == 1
    assert log_scale(1e-140, 1e-140) == 0  # 1 + 1e-140 == 1: no division by zero
    assert linear_scale(2, 4) == 0.5 and linear_scale(3, 0) == 0


def test_score_by_hand():
    maxima = Maxima(burden=999_999, population=9_999, endorsements=4)
    result = score(burden_cost=999, population=99, endorsements=1, strategic_fit=3, maxima=maxima,
                   weights={"burden": 2, "population": 1, "endorsements": 1, "strategic_fit": 0})
    # normalised: burden 3/6 = 0.5, population 2/4 = 0.5, endorsements 1/4, fit 3/4 (weight 0)
    # score = 100 * (2*0.5 + 1*0.5 + 1*0.25 + 0*0.75) / 4 = 43.75
    assert result.total == pytest.approx(43.75)
    points = {c.name: c.points for c in result.components}
    assert points == pytest.approx({"burden": 25.0, "population": 12.5, "endorsements": 6.25, "strategic_fit": 0})
    assert sum(points.values()) == pytest.approx(result.total)
    assert result.component("strategic_fit").normalised == 0.75


def test_all_weights_zero_gives_zero():
    result = score(burden_cost=10, population=10, endorsements=1, strategic_fit=4, maxima=Maxima(10, 10, 1),
                   weights=dict.fromkeys(EQUAL, 0))
    assert result.total == 0


@pytest.mark.django_db
def test_ranked_list_uses_open_problems_maxima_and_weights():
    a = ProblemFactory(burden_cost_eur=999_999, affected_population=9, strategic_fit=0)
    b = ProblemFactory(burden_cost_eur=999, affected_population=9_999, strategic_fit=4)
    ProblemFactory(burden_cost_eur=10**9, affected_population=10**6, status="declined")  # ignored by the maxima
    for _ in range(2):
        EndorsementFactory(problem=b)
    ranked = selectors.problem_ranked(selectors.problem_filtered(user=None))
    assert [r.problem for r in ranked] == [b, a]
    # a: burden 1, population log(10)/log(10000) = 0.25, endorsements 0, fit 0 -> 100 * 1.25 / 4
    assert ranked[1].score.total == pytest.approx(31.25)
    # b: burden 0.5, population 1, endorsements 1, fit 1 -> 100 * 3.5 / 4
    assert ranked[0].score.total == pytest.approx(87.5)
    services.weights_update(burden=10, population=0, endorsements=0, strategic_fit=0)
    ranked = selectors.problem_ranked(selectors.problem_filtered(user=None))
    assert [r.problem for r in ranked] == [a, b]
    assert ranked[1].score.total == pytest.approx(100 * math.log10(1000) / math.log10(1_000_000))

amounts = st.one_of(st.none(), st.floats(min_value=0, max_value=1e9, allow_nan=False))
weights = st.fixed_dictionaries({name: st.floats(min_value=0, max_value=10, allow_nan=False) for name in EQUAL})


@given(cost=amounts, population=st.one_of(st.none(), st.integers(0, 10**7)), endorsements=st.integers(0, 50),
       fit=st.integers(0, 4), extra=st.floats(min_value=0, max_value=1e9, allow_nan=False), weights=weights)
def test_score_properties(cost, population, endorsements, fit, extra, weights):
    maxima = Maxima(burden=(cost or 0) + extra, population=(population or 0) + extra, endorsements=endorsements + 1)
    result = score(burden_cost=cost, population=population, endorsements=endorsements, strategic_fit=fit,
                   maxima=maxima, weights=weights)
    assert 0 <= result.total <= 100 + 1e-9
    assert sum(c.points for c in result.components) == pytest.approx(result.total)
    assert all(0 <= c.normalised <= 1 for c in result.components)
    more = score(burden_cost=cost, population=population, endorsements=endorsements + 1, strategic_fit=fit,
                 maxima=maxima, weights=weights)
    assert more.total >= result.total - 1e-9  # one more endorsement never lowers the score
