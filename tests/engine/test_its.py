"""Interrupted time series against statsmodels OLS with Newey–West (HAC) covariance."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.its import interrupted_time_series

sm = pytest.importorskip("statsmodels.api")


def make_panel(
    seed: int = 0,
    n_months: int = 72,
    start: str = "2021-01-01",
    t0: int = 48,
    level: float = -3.0,
    slope: float = -0.2,
    n_controls: int = 3,
) -> pd.DataFrame:
    """Monthly panel: one treated region, a few controls sharing seasonality and a common shock."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=n_months, freq="MS")
    t = np.arange(n_months)
    season = 4.0 * np.sin(2 * np.pi * dates.month.to_numpy() / 12) + 2.0 * (dates.month.to_numpy() == 12)
    common = np.cumsum(rng.normal(0, 0.5, n_months))
    rows = []
    for u in range(1 + n_controls):
        e = np.zeros(n_months)
        for i in range(n_months):  # AR(1) noise
            e[i] = (0.5 * e[i - 1] if i else 0.0) + rng.normal(0, 1.0)
        y = 50 + 5 * u + 0.1 * t + season + common + e
        if u == 0:
            y = y + (t >= t0) * (level + slope * (t - t0))
        for d, yy in zip(dates, y, strict=True):
            rows.append(
                {
                    "region": f"R{u}",
                    "month": d,
                    "visits": yy,
                    "first": dates[t0] if u == 0 else pd.NaT,
                    "treated": int(u == 0 and d >= dates[t0]),
                }
            )
    return pd.DataFrame(rows)


def sm_design(n: int, t0: int, months: np.ndarray | None = None) -> np.ndarray:
    t = np.arange(n)
    post = (t >= t0).astype(float)
    cols = [np.ones(n), t, post, (t - t0) * post]
    if months is not None:
        cols += [(months == m).astype(float) for m in range(2, 13)]
    return np.column_stack(cols)


@pytest.mark.parametrize(("correction", "use_t", "lags"), [(True, True, 3), (False, False, 6), (True, True, None)])
def test_matches_statsmodels_hac(correction: bool, use_t: bool, lags: int | None) -> None:
    df = make_panel()
    res = interrupted_time_series(
        df,
        outcome="visits",
        unit="region",
        time="month",
        treatment="treated",
        seasonality="dummies",
        hac_lags=lags,
        hac_correction=correction,
        use_t=use_t,
    )
    y = df[df["region"] == "R0"].sort_values("month")["visits"].to_numpy()
    months = df[df["region"] == "R0"].sort_values("month")["month"].dt.month.to_numpy()
    X = sm_design(72, 48, months)
    maxlags = 3 if lags == 3 else (6 if lags == 6 else int(np.floor(4 * (72 / 100) ** (2 / 9))))
    ref = sm.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": maxlags, "use_correction": correction}, use_t=use_t)
    np.testing.assert_allclose(res.fit.coef, ref.params, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(res.fit.se, ref.bse, rtol=1e-6)
    d = res.to_dict()
    assert d["its"]["hac_lags"] == maxlags
    assert d["its"]["level_change"]["p_value"] == pytest.approx(ref.pvalues[2], rel=1e-6)
    ci = ref.conf_int()[3]
    assert d["its"]["slope_change"]["ci_low"] == pytest.approx(ci[0], rel=1e-6)
    # the ATT is a linear combination of the level and slope terms: statsmodels' t_test gives its SE
    c = np.zeros(X.shape[1])
    c[2], c[3] = 1.0, np.mean(np.arange(48, 72) - 48)
    tt = ref.t_test(c)
    assert d["att"]["estimate"] == pytest.approx(float(tt.effect[0]), rel=1e-8)
    assert d["att"]["se"] == pytest.approx(float(tt.sd[0, 0]), rel=1e-6)
    assert d["att"]["p_value"] == pytest.approx(float(tt.pvalue), rel=1e-6, abs=1e-12)
    json.dumps(d)


def test_fourier_terms_match_statsmodels() -> None:
    df = make_panel(seed=2)
    res = interrupted_time_series(
        df,
        outcome="visits",
        unit="region",
        time="month",
        treatment="treated",
        seasonality="fourier",
        fourier_order=2,
        hac_lags=4,
    )
    sub = df[df["region"] == "R0"].sort_values("month")
    m = sub["month"].dt.month.to_numpy() - 1
    X = sm_design(72, 48)
    X = np.column_stack([X] + [f(2 * np.pi * k * m / 12) for k in (1, 2) for f in (np.sin, np.cos)])
    ref = sm.OLS(sub["visits"].to_numpy(), X).fit(
        cov_type="HAC", cov_kwds={"maxlags": 4, "use_correction": True}, use_t=True
    )
    np.testing.assert_allclose(res.fit.coef, ref.params, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(res.fit.se, ref.bse, rtol=1e-6)


def test_comparison_series_equals_interacted_model() -> None:
    """Difference ITS = the group interactions of a fully interacted comparative ITS (stacked OLS)."""
    df = make_panel(seed=3)
    res = interrupted_time_series(
        df,
        outcome="visits",
        unit="region",
        time="month",
        treatment="treated",
        comparison=True,
        seasonality="dummies",
        hac_lags=3,
    )
    wide = df.pivot(index="month", columns="region", values="visits")
    treated, control = wide["R0"].to_numpy(), wide[["R1", "R2", "R3"]].mean(axis=1).to_numpy()
    months = wide.index.month.to_numpy()
    X = sm_design(72, 48, months)
    stacked_X = np.vstack([np.hstack([X, X]), np.hstack([X, np.zeros_like(X)])])
    stacked_y = np.r_[treated, control]
    ref = sm.OLS(stacked_y, stacked_X).fit()
    k = X.shape[1]
    np.testing.assert_allclose(res.fit.coef, ref.params[k:], rtol=1e-7, atol=1e-8)
    d = res.to_dict()
    assert d["its"]["comparison"] is True and d["n_units"] == 4


def test_planted_effect_is_recovered_without_noise() -> None:
    n, t0 = 40, 25
    t = np.arange(n)
    y = 10 + 0.5 * t + (t >= t0) * (4.0 - 0.3 * (t - t0))
    df = pd.DataFrame({"unit": "A", "period": t, "y": y, "g": 25})
    res = interrupted_time_series(df, outcome="y", unit="unit", time="period", cohort="g")
    d = res.to_dict()
    assert d["its"]["level_change"]["estimate"] == pytest.approx(4.0, abs=1e-9)
    assert d["its"]["slope_change"]["estimate"] == pytest.approx(-0.3, abs=1e-10)
    assert d["att"]["estimate"] == pytest.approx(np.mean(4.0 - 0.3 * (t[t >= t0] - t0)), abs=1e-9)
    np.testing.assert_allclose(res.fit.counterfactual, 10 + 0.5 * t, atol=1e-9)
    assert d["method"] == "its" and d["n_periods"] == 40 and d["n_obs"] == 40


def test_summary_plot_and_no_mutation() -> None:
    df = make_panel(seed=4)
    before = df.copy()
    res = interrupted_time_series(
        df, outcome="visits", unit="region", time="month", cohort="first", seasonality="dummies"
    )
    pd.testing.assert_frame_equal(df, before)
    assert "Level change" in res.summary()
    fig = res.plot()
    assert [tr.name for tr in fig.data] == ["observed", "fitted", "counterfactual"]
    assert len(fig.data[2].x) == 24


def test_bad_input() -> None:
    df = make_panel(seed=5)
    base = {"outcome": "visits", "unit": "region", "time": "month"}
    with pytest.raises(EngineInputError, match="Unknown outcome column"):
        interrupted_time_series(df, **{**base, "outcome": "nope"}, treatment="treated")
    with pytest.raises(EngineInputError, match="allowed values are 'none', 'dummies', 'fourier'"):
        interrupted_time_series(df, **base, treatment="treated", seasonality="weekly")
    with pytest.raises(EngineInputError, match="No treated unit"):
        interrupted_time_series(df.assign(treated=0), **base, treatment="treated")
    staggered = df.assign(treated=np.where((df["region"] == "R1") & (df["month"] >= "2024-06-01"), 1, df["treated"]))
    assert len(interrupted_time_series(staggered, **base, treatment="treated").cohorts) == 2  # pooled, not refused
    with pytest.raises(EngineInputError, match="No cohort of treated units can be analysed"):
        late = ((df["region"] == "R0") & (df["month"] >= "2021-02-01")) | (
            (df["region"] == "R1") & (df["month"] >= "2026-12-01"))  # 1 pre period, 1 post period
        interrupted_time_series(df.assign(treated=late.astype(int)), **base, treatment="treated")
    only = df[df["region"] == "R0"]
    with pytest.raises(EngineInputError, match="No control"):
        interrupted_time_series(only, **base, treatment="treated", comparison=True)
    with pytest.raises(EngineInputError, match="Unknown ITS option"):
        interrupted_time_series(df, **base, treatment="treated", lags=3)


def test_collinear_seasonal_design_is_a_clear_error() -> None:
    """Two years, interruption after exactly one: trend = month-of-year + 12 * post, collinear with dummies."""
    t = np.arange(24)
    df = pd.DataFrame({"unit": "A", "period": t, "y": 10 + 0.1 * t + np.sin(t), "g": 12})
    with pytest.raises(EngineInputError, match="singular"):
        interrupted_time_series(df, outcome="y", unit="unit", time="period", cohort="g", seasonality="dummies")
    fourier = interrupted_time_series(df, outcome="y", unit="unit", time="period", cohort="g", seasonality="fourier")
    assert np.isfinite(fourier.fit.att_se) and "n/a" not in fourier.summary()
