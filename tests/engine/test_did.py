"""TWFE and 2x2 DiD against pyfixest (coefficients and CR1 SEs), Goodman-Bacon identities, errors."""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.bacon import bacon_decomposition
from tremplin.engine.estimators.panel_input import build_panel
from tremplin.engine.estimators.twfe import TwoWayFE, demean_two_way, did_2x2, twfe

DATA = Path(__file__).resolve().parents[1] / "data" / "mpdta.csv"
COEF_TOL = 1e-6
SE_TOL = 1e-4


@cache
def mpdta() -> pd.DataFrame:
    df = pd.read_csv(DATA)
    df["d"] = ((df["first.treat"] > 0) & (df["year"] >= df["first.treat"])).astype(float)
    df["x"] = df["lpop"] * (df["year"] - 2003) + np.sin(df["countyreal"] + df["year"])
    df["w"] = 1.0 + (df["countyreal"] % 7)
    df["state"] = df["countyreal"] // 1000
    return df


def pyfixest_fit(fml: str, data: pd.DataFrame, cluster: str, weights: str | None = None):
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pf.feols(fml, data=data, vcov={"CRV1": cluster}, weights=weights)
    return m.coef(), m.se()


@pytest.mark.parametrize("covariates", [(), ("x",)])
@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize("cluster", [None, "state"])
@pytest.mark.parametrize("unbalanced", [False, True])
def test_twfe_matches_pyfixest(covariates, weights, cluster, unbalanced):
    df = mpdta()
    if unbalanced:
        df = df.sample(frac=0.9, random_state=1).reset_index(drop=True)
    res = twfe(
        df,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        covariates=covariates,
        weights=weights,
        cluster=cluster,
    )
    rhs = " + ".join(["d", *covariates])
    coef, se = pyfixest_fit(f"lemp ~ {rhs} | countyreal + year", df, cluster or "countyreal", weights)
    assert res.att.estimate == pytest.approx(coef["d"], abs=COEF_TOL)
    assert res.att.se == pytest.approx(se["d"], abs=SE_TOL)
    assert res.att.se == pytest.approx(se["d"], rel=1e-6)  # in fact identical
    for c in covariates:
        assert res.coefficients[c].estimate == pytest.approx(coef[c], abs=COEF_TOL)
        assert res.coefficients[c].se == pytest.approx(se[c], abs=SE_TOL)
    assert res.n_obs == len(df)
    assert res.inference.n_clusters == df[cluster or "countyreal"].nunique()


def test_twfe_p_value_and_ci_match_pyfixest():
    import pyfixest as pf

    df = mpdta()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pf.feols("lemp ~ d | countyreal + year", data=df, vcov={"CRV1": "state"})
    res = twfe(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", cluster="state")
    assert res.att.p_value == pytest.approx(float(m.pvalue()["d"]), abs=1e-6)
    ci = m.confint().loc["d"].to_numpy(float)
    assert (res.att.ci_low, res.att.ci_high) == pytest.approx(tuple(ci), abs=1e-6)


def test_twfe_with_treatment_column_matches_pyfixest():
    df = mpdta()
    res = twfe(df, outcome="lemp", unit="countyreal", time="year", treatment="d")
    coef, se = pyfixest_fit("lemp ~ d | countyreal + year", df, "countyreal")
    assert res.att.estimate == pytest.approx(coef["d"], abs=COEF_TOL)
    assert res.att.se == pytest.approx(se["d"], abs=SE_TOL)


@pytest.mark.parametrize("covariates", [(), ("x",)])
@pytest.mark.parametrize("cluster", [None, "state"])
def test_did_2x2_matches_pyfixest(covariates, cluster):
    df = mpdta()
    df = df[df["first.treat"].isin([0, 2006])].copy()
    res = did_2x2(
        df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", covariates=covariates, cluster=cluster
    )
    df["treated"] = (df["first.treat"] == 2006).astype(float)
    df["post"] = (df["year"] >= 2006).astype(float)
    rhs = " + ".join(["treated * post", *covariates])
    coef, se = pyfixest_fit(f"lemp ~ {rhs}", df, cluster or "countyreal")
    assert res.att.estimate == pytest.approx(coef["treated:post"], abs=COEF_TOL)
    assert res.att.se == pytest.approx(se["treated:post"], abs=SE_TOL)
    # balanced panel, one cohort: the 2x2 DiD equals TWFE
    tw = twfe(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    if not covariates:
        assert res.att.estimate == pytest.approx(tw.att.estimate, abs=1e-10)


@pytest.mark.parametrize("covariates", [(), ("lpop",)])
def test_did_staggered_is_the_stacked_regression_of_pyfixest(covariates):
    """Several adoption dates: one clean 2x2 per cohort (cohort + never treated), stacked; reference: pyfixest
    with stack-specific treated and post effects and CR1 clustered by county."""
    df = mpdta()
    res = did_2x2(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", covariates=covariates)
    stacks = []
    for c in (2004, 2006, 2007):
        s = df[df["first.treat"].isin([c, 0])].copy()
        s["stack"] = c
        s["treated"] = (s["first.treat"] == c).astype(float)
        s["post"] = (s["year"] >= c).astype(float)
        stacks.append(s)
    stacked = pd.concat(stacks, ignore_index=True)
    stacked["tp"] = stacked["treated"] * stacked["post"]
    stacked["stack_treated"] = stacked["stack"].astype(str) + "_" + stacked["treated"].astype(str)
    stacked["stack_post"] = stacked["stack"].astype(str) + "_" + stacked["post"].astype(str)
    rhs = " + ".join(["tp", *covariates])
    coef, se = pyfixest_fit(f"lemp ~ {rhs} | stack_treated + stack_post", stacked, "countyreal")
    assert res.att.estimate == pytest.approx(coef["tp"], abs=COEF_TOL)
    assert res.att.se == pytest.approx(se["tp"], abs=SE_TOL)
    assert any("stacked 2x2 DiD" in w for w in res.warnings)


def test_no_treated_and_no_control_errors():
    df = mpdta().copy()
    df["g0"] = 0
    with pytest.raises(EngineInputError, match="No treated unit"):
        twfe(df, outcome="lemp", unit="countyreal", time="year", cohort="g0")
    df["g1"] = 2005
    with pytest.raises(EngineInputError, match="No control units"):
        twfe(df, outcome="lemp", unit="countyreal", time="year", cohort="g1")


def test_collinear_covariate_is_a_clear_error():
    with pytest.raises(EngineInputError, match="collinear"):
        twfe(mpdta(), outcome="lemp", unit="countyreal", time="year", cohort="first.treat", covariates=["lpop"])


def test_unknown_column_names_role_and_lists_columns():
    with pytest.raises(EngineInputError, match=r"'nope' \(outcome\).*Available columns: year"):
        twfe(mpdta(), outcome="nope", unit="countyreal", time="year", cohort="first.treat")


def test_demeaning_matches_dummy_regression_on_unbalanced_weighted_panel():
    rng = np.random.default_rng(0)
    n_u, n_t = 30, 6
    unit = np.repeat(np.arange(n_u), n_t)
    time = np.tile(np.arange(n_t), n_u)
    keep = rng.random(unit.size) > 0.2
    unit, time = unit[keep], time[keep]
    v = rng.normal(size=unit.size)
    w = rng.uniform(0.5, 2, unit.size)
    dummies = np.column_stack([np.eye(n_u)[unit], np.eye(n_t)[time][:, 1:]])
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(dummies * sw[:, None], v * sw, rcond=None)[0]
    np.testing.assert_allclose(demean_two_way(v, unit, time, w), v - dummies @ beta, atol=1e-9)


# ------------------------------------------------------------------ Goodman-Bacon


@pytest.mark.parametrize("always_treated", [False, True])
def test_bacon_weights_sum_to_one_and_reproduce_twfe(always_treated):
    df = mpdta().copy()
    if always_treated:
        df.loc[df["countyreal"] < 8060, "first.treat"] = 2003
    panel = build_panel(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    b = bacon_decomposition(panel.y, panel.times, panel.cohort)
    weights = np.array([c.weight for c in b.components])
    assert np.all(weights >= 0)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    coef, _ = pyfixest_fit(
        "lemp ~ d | countyreal + year",
        df.assign(d=((df["first.treat"] > 0) & (df["year"] >= df["first.treat"])).astype(float)),
        "countyreal",
    )
    assert float(np.sum(weights * [c.estimate for c in b.components])) == pytest.approx(coef["d"], abs=1e-10)
    assert b.twfe_estimate == pytest.approx(coef["d"], abs=1e-10)


def test_bacon_2x2_estimates_by_hand():
    """A treated-vs-never 2x2 component equals the DiD of group means computed directly."""
    df = mpdta()
    panel = build_panel(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    b = bacon_decomposition(panel.y, panel.times, panel.cohort)
    comp = next(c for c in b.components if c.kind == "treated vs never treated" and c.treated == 2006)
    m = df.groupby([df["first.treat"], df["year"] >= 2006])["lemp"].mean()
    by_hand = (m[(2006, True)] - m[(2006, False)]) - (m[(0, True)] - m[(0, False)])
    assert comp.estimate == pytest.approx(by_hand, abs=1e-12)


def test_twfe_result_summary_json_and_plot():
    res = twfe(mpdta(), outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    text = res.summary()
    assert "Two-way fixed effects" in text and "Goodman-Bacon" in text and "500 clusters" in text
    d = res.to_dict()
    assert d["method"] == "twfe" and d["n_units"] == 500 and d["n_periods"] == 5 and d["n_obs"] == 2500
    assert set(d["att"]) == {"estimate", "se", "ci_low", "ci_high", "p_value"}
    assert d["bacon"]["by_kind"]["treated vs never treated"]["weight"] > 0.5
    fig = res.plot_bacon()
    assert len(fig.data) == 3


def test_fragile_warning_with_few_treated_clusters():
    df = mpdta()
    res = TwoWayFE("twfe").fit(
        df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", cluster="state"
    )
    n_treated_states = df.loc[df["first.treat"] > 0, "state"].nunique()
    assert res.inference.n_treated_clusters == n_treated_states
    assert res.inference.fragile == (n_treated_states < 10)
    sub = df[df["state"].isin(sorted(df["state"].unique())[:8])]
    res = TwoWayFE("twfe").fit(
        sub, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", cluster="state"
    )
    assert res.inference.fragile
    assert any("treated cluster" in w for w in res.warnings)


def test_twfe_does_not_mutate_user_data():
    df = mpdta().copy()
    before = df.copy()
    twfe(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", covariates=["x"],
         weights="w", cluster="state")
    twfe(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", cluster="state", bootstrap=99,
         randomization=9)
    pd.testing.assert_frame_equal(df, before)
    with pytest.raises(EngineInputError, match="not available with weights"):
        twfe(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", weights="w", bootstrap=99)
