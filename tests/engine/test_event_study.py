"""Event study with uniform bands: window aggregation matches csdid; bands and plot."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.event_study import event_study

DATA = Path(__file__).resolve().parents[1] / "data" / "mpdta.csv"


def test_window_matches_csdid_dynamic():
    from csdid.att_gt import ATTgt

    df = pd.read_csv(DATA)
    res = event_study(
        df,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        control="not-yet",
        min_e=-2,
        max_e=2,
        n_boot=2000,
        seed=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ATTgt(
            yname="lemp",
            gname="first.treat",
            idname="countyreal",
            tname="year",
            data=df,
            control_group=["notyettreated"],
        ).fit(est_method="dr", bstrap=False)
        a = m.aggte(typec="dynamic", min_e=-2, max_e=2, bstrap=False, cband=False).atte
    assert [e.relative_period for e in res.effects] == [-2, -1, 0, 1, 2]
    np.testing.assert_allclose([e.estimate for e in res.effects], a["att_egt"], atol=1e-6, rtol=0)
    np.testing.assert_allclose([e.se for e in res.effects], np.ravel(a["se_egt"]), atol=1e-4, rtol=0)
    assert res.post_average.estimate == pytest.approx(a["overall_att"], abs=1e-6)
    assert res.post_average.se == pytest.approx(a["overall_se"], abs=1e-4)
    # uniform band: wider than pointwise, narrower than Bonferroni over 5 periods
    assert 1.96 < res.uniform_crit < 2.58 + 0.1
    for e in res.effects:
        assert e.ci_low_uniform < e.ci_low and e.ci_high < e.ci_high_uniform
    fig = res.plot()
    assert fig.layout.xaxis.title.text == "Periods relative to treatment"
    d = res.to_dict()
    assert d["event_study"][0]["relative_period"] == -2 and "ci_low_uniform" in d["event_study"][0]
    assert "Event study" in res.summary()


def test_uniform_band_covers_all_true_effects_in_simulation():
    """Simultaneous coverage: across seeds the band covers the whole true path ~95 % of the time (coarse)."""
    rng = np.random.default_rng(0)
    hits = []
    for s in range(40):
        n, t = 400, 8
        g = rng.choice([0, 4, 6], n)
        e = np.arange(1, t + 1)[None, :] - g[:, None]
        tau = np.where((g[:, None] > 0) & (e >= 0), 0.5 * (e + 1), 0.0)
        y = rng.normal(size=(n, 1)) + 0.1 * np.arange(t) + tau + rng.normal(size=(n, t))
        df = pd.DataFrame(
            {
                "u": np.repeat(np.arange(n), t),
                "t": np.tile(np.arange(1, t + 1), n),
                "g": np.repeat(g, t),
                "y": y.ravel(),
            }
        )
        res = event_study(
            df,
            outcome="y",
            unit="u",
            time="t",
            cohort="g",
            estimation="unconditional",
            min_e=-2,
            max_e=2,
            n_boot=499,
            seed=s,
        )
        truth = {-2: 0.0, -1: 0.0, 0: 0.5, 1: 1.0, 2: 1.5}
        hits.append(all(x.ci_low_uniform <= truth[int(x.relative_period)] <= x.ci_high_uniform for x in res.effects))
    assert np.mean(hits) >= 0.85


def test_bad_window():
    df = pd.read_csv(DATA)
    with pytest.raises(EngineInputError):
        event_study(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", min_e=2, max_e=1)
