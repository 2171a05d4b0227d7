"""The shared panel arithmetic (calls reviews, horizon signals, stage-gate panels): pure, checked against scipy and
by hand, and the same numbers whatever the caller's aggregate type."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from tremplin.web.calls import scoring as calls_scoring
from tremplin.web.core import panel_scoring as panel


def test_importing_it_loads_no_django():
    code = ("import sys; import tremplin.web.core.panel_scoring; "
            "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_aggregate_by_hand_and_against_scipy():
    # Scorer a: 1, 2, 3 (mean 2, sd sqrt(2/3)); scorer b: 3, 3.5 on items x, y; scorer c: one rating only.
    ratings = [("a", "x", 1.0), ("a", "y", 2.0), ("a", "z", 3.0), ("b", "x", 3.0), ("b", "y", 3.5), ("c", "z", 0.0)]
    agg = panel.aggregate(ratings, items=["x", "y", "z", "w"])
    za = stats.zscore([1.0, 2.0, 3.0])
    zb = stats.zscore([3.0, 3.5])
    assert agg["x"].mean == pytest.approx(2.0) and agg["x"].n == 2
    assert agg["x"].normalised == pytest.approx((za[0] + zb[0]) / 2)
    assert agg["x"].spread == pytest.approx(1.0) and agg["x"].disagreement is True  # 1 vs 3: the threshold
    assert agg["y"].spread == pytest.approx(np.std([2.0, 3.5])) and agg["y"].disagreement is False
    assert agg["z"].normalised == pytest.approx((za[2] + 0.0) / 2)  # c's single rating carries z = 0
    assert agg["z"].spread == pytest.approx(1.5) and agg["z"].disagreement is True
    assert agg["w"] == panel.ItemAggregate("w", 0, None, None, None, False)


def test_the_three_variants_agree_and_the_factory_only_names_the_fields():
    rng = np.random.default_rng(3)
    ratings = [(int(s), int(i), float(rng.integers(0, 5))) for s in range(6) for i in range(10) if rng.random() < .6]
    reference = panel.aggregate(ratings)
    vectorised = panel.aggregate_arrays(*zip(*[(s, i, x) for s, i, x in ratings], strict=True))
    stats_ = panel.scorer_stats_arrays([s for s, _i, _x in ratings], [x for _s, _i, x in ratings])
    subset = panel.aggregate_with_stats(ratings, stats_)
    calls = calls_scoring.aggregate([calls_scoring.ReviewScore(s, i, x) for s, i, x in ratings])
    assert set(reference) == set(vectorised) == set(subset) == set(calls)
    for item, e in reference.items():
        for other in (vectorised[item], subset[item]):
            assert (other.n, other.disagreement) == (e.n, e.disagreement)
            assert other.normalised == pytest.approx(e.normalised, abs=1e-9)
            assert other.spread == pytest.approx(e.spread, abs=1e-9)
        c = calls[item]
        assert isinstance(c, calls_scoring.ProposalAggregate)
        assert (c.proposal, c.n_reviews, c.mean, c.normalised, c.spread, c.disagreement) == (
            e.item, e.n, e.mean, e.normalised, e.spread, e.disagreement)


def test_weighted_mean_is_the_calls_one():
    assert calls_scoring.weighted_mean is panel.weighted_mean
    assert panel.weighted_mean({"a": 4, "b": 1}, {"a": 3, "b": 1}) == pytest.approx(13 / 4)
