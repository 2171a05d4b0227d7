"""Callaway & Sant'Anna: reference comparisons with csdid and differences on mpdta, planted effects."""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.panel_input import build_panel
from tremplin.engine.estimators.staggered import (
    CallawaySantAnna,
    aggregate,
    callaway_santanna,
    compute_att_gt,
)
from tremplin.engine.estimators.twfe import twfe

DATA = Path(__file__).resolve().parents[1] / "data" / "mpdta.csv"
ATT_TOL = 1e-6
SE_TOL = 1e-4


@cache
def mpdta() -> pd.DataFrame:
    return pd.read_csv(DATA)


@cache
def csdid_fit(
    control: str, estimation: str, covariates: bool, anticipation: int = 0, cluster: bool = False, weights: bool = False
):
    from csdid.att_gt import ATTgt

    df = mpdta().copy()
    df["state"] = df["countyreal"] // 1000
    df["w"] = 1.0 + (df["countyreal"] % 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ATTgt(
            yname="lemp",
            gname="first.treat",
            idname="countyreal",
            tname="year",
            data=df,
            control_group=["nevertreated" if control == "never" else "notyettreated"],
            xformla="lemp~lpop" if covariates else None,
            anticipation=anticipation,
            clustervar="state" if cluster else None,
            weights_name="w" if weights else None,
        ).fit(est_method={"or": "reg", "unconditional": "dr"}.get(estimation, estimation), bstrap=False)
        aggs = {}
        for kind in ("simple", "group", "dynamic", "calendar"):
            a = m.aggte(typec=kind, bstrap=False, cband=False).atte
            aggs[kind] = {
                "att": a["overall_att"],
                "se": a["overall_se"],
                "att_egt": None if a.get("att_egt") is None else np.asarray(a["att_egt"], dtype=float),
                "se_egt": None if a.get("se_egt") is None else np.asarray(a["se_egt"], dtype=float).ravel(),
                "egt": None if a.get("egt") is None else np.asarray(a["egt"], dtype=float),
            }
    res = m.results
    return {
        "group": np.asarray(res["group"], float),
        "time": np.asarray(res["year"], float),
        "att": np.asarray(res["att"], float),
        "se": np.asarray(res["se"], float),
        "wpval": m.MP["Wpval"],
        "aggs": aggs,
    }


def mine(
    control: str, estimation: str, covariates: bool, anticipation: int = 0, cluster: bool = False, weights: bool = False
):
    df = mpdta().copy()
    df["state"] = df["countyreal"] // 1000
    df["w"] = 1.0 + (df["countyreal"] % 5)
    return callaway_santanna(
        df,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        control=control,
        estimation=estimation,
        covariates=["lpop"] if covariates else (),
        anticipation=anticipation,
        cluster="state" if cluster else None,
        weights="w" if weights else None,
    )


CASES = [
    ("never", "unconditional", False),
    ("not-yet", "unconditional", False),
    *[(c, e, True) for c in ("never", "not-yet") for e in ("or", "ipw", "dr")],
    ("never", "dr", False),
    ("not-yet", "ipw", False),
]


@pytest.mark.parametrize(("control", "estimation", "covariates"), CASES)
def test_group_time_matches_csdid(control, estimation, covariates):
    ref = csdid_fit(control, estimation, covariates)
    res = mine(control, estimation, covariates)
    g = np.array([e.cohort for e in res.group_time], float)
    t = np.array([e.time for e in res.group_time], float)
    np.testing.assert_array_equal(g, ref["group"])
    np.testing.assert_array_equal(t, ref["time"])
    np.testing.assert_allclose([e.estimate for e in res.group_time], ref["att"], atol=ATT_TOL, rtol=0)
    np.testing.assert_allclose([e.se for e in res.group_time], ref["se"], atol=SE_TOL, rtol=0)
    assert res.pretrend is not None
    assert res.pretrend.p_value == pytest.approx(ref["wpval"], abs=1e-5)


@pytest.mark.parametrize(("control", "estimation", "covariates"), CASES)
def test_aggregations_match_csdid(control, estimation, covariates):
    ref = csdid_fit(control, estimation, covariates)["aggs"]
    res = mine(control, estimation, covariates)
    overall = {"simple": res.att, "group": res.group_att, "dynamic": res.dynamic_att, "calendar": res.calendar_att}
    for kind, est in overall.items():
        assert est.estimate == pytest.approx(ref[kind]["att"], abs=ATT_TOL), kind
        assert est.se == pytest.approx(ref[kind]["se"], abs=SE_TOL), kind
    tables = {
        "dynamic": (res.event_study, "relative_period"),
        "group": (res.groups, "cohort"),
        "calendar": (res.calendar, "time"),
    }
    for kind, (rows, key) in tables.items():
        np.testing.assert_array_equal([float(getattr(r, key)) for r in rows], ref[kind]["egt"])
        np.testing.assert_allclose([r.estimate for r in rows], ref[kind]["att_egt"], atol=ATT_TOL, rtol=0)
        np.testing.assert_allclose([r.se for r in rows], ref[kind]["se_egt"], atol=SE_TOL, rtol=0)


@pytest.mark.parametrize(
    ("anticipation", "cluster", "weights"),
    [(1, False, False), (0, True, False), (0, False, True), (1, True, True)],
)
def test_anticipation_cluster_weights_match_csdid(anticipation, cluster, weights):
    ref = csdid_fit("not-yet", "dr", False, anticipation, cluster, weights)
    res = mine("not-yet", "dr", False, anticipation, cluster, weights)
    np.testing.assert_allclose([e.estimate for e in res.group_time], ref["att"], atol=ATT_TOL, rtol=0)
    np.testing.assert_allclose([e.se for e in res.group_time], ref["se"], atol=SE_TOL, rtol=0)
    for kind, est in (("simple", res.att), ("dynamic", res.dynamic_att), ("group", res.group_att)):
        assert est.estimate == pytest.approx(ref["aggs"][kind]["att"], abs=ATT_TOL), kind
        assert est.se == pytest.approx(ref["aggs"][kind]["se"], abs=SE_TOL), kind
    if cluster and anticipation == 0:
        assert res.inference.n_clusters == mpdta()["countyreal"].floordiv(1000).nunique()


@cache
def differences_fit(control: str, est_method: str, covariates: bool):
    from differences import ATTgt

    d = mpdta().copy()
    d["cohort"] = d["first.treat"].where(d["first.treat"] > 0)
    d = d.set_index(["countyreal", "year"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        att = ATTgt(data=d, cohort_column="cohort")
        att.fit(
            formula="lemp ~ lpop" if covariates else "lemp",
            est_method=est_method,
            control_group="never_treated" if control == "never" else "not_yet_treated",
            progress_bar=False,
        )
        gt = att.results()
        simple = att.aggregate("simple")
        event = att.aggregate("event")
    return gt, simple, event


@pytest.mark.parametrize(
    ("control", "estimation", "est_method", "covariates"),
    [("never", "dr", "dr", False), ("not-yet", "dr", "dr", True), ("never", "or", "reg", True)],
)
def test_matches_differences(control, estimation, est_method, covariates):
    gt, simple, event = differences_fit(control, est_method, covariates)
    res = mine(control, estimation, covariates)
    ref_att = gt.iloc[:, 0].to_numpy(float)
    ref_se = gt.iloc[:, 1].to_numpy(float)
    np.testing.assert_allclose([e.estimate for e in res.group_time], ref_att, atol=ATT_TOL, rtol=0)
    np.testing.assert_allclose([e.se for e in res.group_time], ref_se, atol=SE_TOL, rtol=0)
    assert res.att.estimate == pytest.approx(float(simple.iloc[0, 0]), abs=ATT_TOL)
    assert res.att.se == pytest.approx(float(simple.iloc[0, 1]), abs=SE_TOL)
    np.testing.assert_allclose(
        [e.estimate for e in res.event_study], event.iloc[:, 0].to_numpy(float), atol=ATT_TOL, rtol=0
    )


def test_published_mpdta_simple_att():
    res = mine("never", "unconditional", False)
    assert res.att.estimate == pytest.approx(-0.0400, abs=5e-4)
    assert res.att.ci_high < 0


def test_event_study_uniform_band_is_wider_than_pointwise():
    res = mine("never", "dr", False)
    assert res.uniform_crit > 1.96
    for e in res.event_study:
        assert e.ci_low_uniform < e.ci_low < e.estimate < e.ci_high < e.ci_high_uniform
    fig = res.plot_event_study()
    assert len(fig.data) == 2  # band + points
    assert list(fig.data[1].x) == [float(e.relative_period) for e in res.event_study]


def test_bootstrap_se_close_to_analytic():
    df = mpdta()
    analytic = callaway_santanna(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    boot = callaway_santanna(
        df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", bootstrap=2000, seed=3
    )
    assert boot.att.estimate == analytic.att.estimate
    assert boot.att.se == pytest.approx(analytic.att.se, rel=0.1)
    ratio = np.array([b.se / a.se for a, b in zip(analytic.event_study, boot.event_study, strict=True)])
    assert np.all(np.abs(ratio - 1) < 0.15)
    assert "multiplier bootstrap" in boot.inference.method
    again = callaway_santanna(
        df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", bootstrap=2000, seed=3
    )
    assert again.att.se == boot.att.se  # seeded


def test_does_not_mutate_user_data():
    df = mpdta().copy()
    before = df.copy()
    callaway_santanna(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", covariates=["lpop"])
    pd.testing.assert_frame_equal(df, before)


def test_treatment_column_equals_cohort_column():
    df = mpdta().copy()
    df["d"] = ((df["first.treat"] > 0) & (df["year"] >= df["first.treat"])).astype(int)
    a = callaway_santanna(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    b = callaway_santanna(df, outcome="lemp", unit="countyreal", time="year", treatment="d")
    assert a.att.estimate == pytest.approx(b.att.estimate, abs=1e-12)


def test_to_dict_contract():
    d = mine("never", "dr", False).to_dict()
    for key in (
        "method",
        "outcome",
        "n_units",
        "n_periods",
        "n_obs",
        "att",
        "event_study",
        "groups",
        "group_time",
        "pretrend_p_value",
    ):
        assert key in d
    assert set(d["att"]) >= {"estimate", "se", "ci_low", "ci_high", "p_value"}
    assert set(d["event_study"][0]) >= {"relative_period", "estimate", "se", "ci_low", "ci_high"}
    assert set(d["groups"][0]) >= {"cohort", "estimate", "se"}
    assert set(d["group_time"][0]) >= {"cohort", "time", "estimate", "se"}
    assert d["groups"][0]["cohort"] == 2004 and isinstance(d["groups"][0]["cohort"], int)
    assert d["n_units"] == 500 and d["n_periods"] == 5 and d["n_obs"] == 2500


# ------------------------------------------------------------------ errors


def test_no_treated_unit():
    df = mpdta().copy()
    df["g0"] = 0
    with pytest.raises(EngineInputError, match="No treated unit"):
        callaway_santanna(df, outcome="lemp", unit="countyreal", time="year", cohort="g0")


def test_no_control_unit():
    df = mpdta().copy()
    df["g1"] = 2006
    with pytest.raises(EngineInputError, match="No control"):
        callaway_santanna(df, outcome="lemp", unit="countyreal", time="year", cohort="g1")


def test_unbalanced_panel_is_refused():
    df = mpdta().iloc[1:]
    with pytest.raises(EngineInputError, match="Unbalanced panel"):
        callaway_santanna(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")


def test_invalid_option_lists_allowed_values():
    with pytest.raises(EngineInputError, match="'never', 'not-yet'"):
        CallawaySantAnna(control="sometimes")
    with pytest.raises(EngineInputError, match="'unconditional', 'or', 'ipw', 'dr'"):
        CallawaySantAnna(estimation="magic")


# ------------------------------------------------------------------ planted effects


def simulate_staggered(
    seed: int, n_units: int = 600, n_periods: int = 12, dynamic: bool = True, effect: float = 1.0
) -> tuple[pd.DataFrame, float]:
    """Staggered panel with heterogeneous, growing effects; returns (data, true simple ATT)."""
    rng = np.random.default_rng(seed)
    cohorts = np.array([0, 4, 7, 10])
    g = rng.choice(cohorts, size=n_units, p=[0.3, 0.25, 0.25, 0.2])
    t = np.arange(1, n_periods + 1)
    unit_fe = rng.normal(0, 1, n_units)[:, None]
    time_fe = (0.2 * t + rng.normal(0, 0.3, n_periods))[None, :]
    e = t[None, :] - g[:, None]
    treated = (g[:, None] > 0) & (e >= 0)
    slope = {4: 0.5, 7: 0.3, 10: 0.1}
    if dynamic:
        tau = np.where(treated, effect * (1 + np.vectorize(lambda x: slope.get(x, 0.0))(g)[:, None] * e), 0.0)
    else:
        tau = np.where(treated, effect, 0.0)
    y = unit_fe + time_fe + tau + rng.normal(0, 1, (n_units, n_periods))
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), n_periods),
            "time": np.tile(t, n_units),
            "cohort": np.repeat(g, n_periods),
            "y": y.ravel(),
        }
    )
    true_att = tau[treated].mean()
    return df, float(true_att)


def test_twfe_biased_cs_recovers_truth_and_warning_fires():
    df, true_att = simulate_staggered(seed=11, n_units=3000)
    cs = callaway_santanna(df, outcome="y", unit="unit", time="time", cohort="cohort", estimation="unconditional")
    tw = twfe(df, outcome="y", unit="unit", time="time", cohort="cohort")
    assert abs(cs.att.estimate - true_att) < 3 * cs.att.se
    assert abs(tw.att.estimate - true_att) > 10 * tw.att.se  # TWFE is far off
    assert tw.att.estimate < true_att * 0.8
    assert any("Staggered adoption" in w for w in tw.warnings)
    assert tw.bacon is not None and tw.bacon.forbidden_weight > 0.05


def test_no_warning_with_constant_effects():
    df, _ = simulate_staggered(seed=12, n_units=1500, dynamic=False)
    tw = twfe(df, outcome="y", unit="unit", time="time", cohort="cohort")
    assert not any("Staggered adoption" in w for w in tw.warnings)


def test_pure_functions_on_arrays():
    df, true_att = simulate_staggered(seed=5, n_units=800)
    panel = build_panel(df, outcome="y", unit="unit", time="time", cohort="cohort")
    gt = compute_att_gt(panel.y, panel.times, panel.cohort, control="not-yet", estimation="unconditional")
    agg = aggregate(gt, "simple")
    assert gt.influence.n_params == gt.att.size
    assert agg.overall_att == pytest.approx(true_att, abs=0.2)
    # the structured influence functions equal the textbook ones: n w_i (dY_i - mean) / W, treated minus control
    j = int(np.flatnonzero(gt.post)[0])
    dense = gt.influence.cluster_sums()[:, j]  # unit clusters: one row per unit (ordered by cohort label)
    order = np.argsort(gt.unit_label, kind="stable")
    g, t = gt.groups[j], gt.times[j]
    ti = int(np.searchsorted(gt.period_values, t))
    bi = int(np.flatnonzero(gt.period_values < g)[-1])
    dy = panel.y[:, ti] - panel.y[:, bi]
    tr = panel.cohort == g
    ctrl = (panel.cohort == 0) | ((panel.cohort > t) & ~tr)
    expected = np.where(tr, 800 * (dy - dy[tr].mean()) / tr.sum(), 0.0) - np.where(
        ctrl, 800 * (dy - dy[ctrl].mean()) / ctrl.sum(), 0.0
    )
    np.testing.assert_allclose(dense, expected[order], atol=1e-9)
    with pytest.raises(EngineInputError, match="allowed values"):
        aggregate(gt, "weekly")


def test_randomization_inference_cs():
    df, _ = simulate_staggered(seed=8, n_units=300, n_periods=8)
    res = callaway_santanna(
        df, outcome="y", unit="unit", time="time", cohort="cohort", estimation="unconditional", randomization=99, seed=1
    )
    assert res.inference.randomization_p_value == pytest.approx(0.01)  # (1 + 0) / (1 + 99): strong effect


@pytest.mark.slow
def test_coverage_planted_effect_over_seeds():
    """Over many seeds: unbiased and the 95 % CI covers the true ATT 93-97 % of the time."""
    estimates, covered = [], []
    for seed in range(600):
        df, true_att = simulate_staggered(seed=1000 + seed, n_units=200, n_periods=10)
        res = callaway_santanna(
            df, outcome="y", unit="unit", time="time", cohort="cohort", estimation="unconditional", control="not-yet"
        )
        # the estimand is the sample ATT of the realised cohorts; its error is the estimation error
        estimates.append(res.att.estimate - true_att)
        covered.append(res.att.ci_low <= true_att <= res.att.ci_high)
    bias = np.mean(estimates)
    assert abs(bias) < 3 * np.std(estimates) / np.sqrt(len(estimates))
    assert 0.93 <= np.mean(covered) <= 0.97


@pytest.mark.parametrize("kind", ["string", "datetime"])
def test_non_numeric_periods(kind):
    import json

    df = mpdta().copy()
    months = {2003: "2003-01", 2004: "2003-02", 2005: "2003-03", 2006: "2003-04", 2007: "2003-05"}
    df["month"] = df["year"].map(months)
    if kind == "datetime":
        df["month"] = pd.to_datetime(df["month"])
    df["d"] = ((df["first.treat"] > 0) & (df["year"] >= df["first.treat"])).astype(int)
    ref = mine("never", "dr", False)
    res = callaway_santanna(df, outcome="lemp", unit="countyreal", time="month", treatment="d")
    assert res.att.estimate == pytest.approx(ref.att.estimate, abs=1e-12)
    assert [e.relative_period for e in res.event_study] == [-3, -2, -1, 0, 1, 2, 3]
    d = json.loads(json.dumps(res.to_dict()))
    assert str(d["groups"][0]["cohort"]).startswith("2003-02")


@pytest.mark.parametrize(("covariates", "cluster"), [(True, None), (False, "state"), (True, "state")])
def test_bootstrap_paths_agree_with_analytic(covariates, cluster):
    """Dense (covariates) and structured (no covariates) influence functions, unit or state clusters."""
    df = mpdta().copy()
    df["state"] = df["countyreal"] // 1000
    kw = {"outcome": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat", "control": "not-yet",
          "covariates": ["lpop"] if covariates else (), "cluster": cluster}
    analytic = callaway_santanna(df, **kw)
    boot = callaway_santanna(df, **kw, bootstrap=3000, seed=7)
    tol = 0.12 if cluster is None else 0.3  # 29 clusters: a noisier bootstrap
    assert boot.att.se == pytest.approx(analytic.att.se, rel=tol)
    ratio = np.array([b.se / a.se for a, b in zip(analytic.group_time, boot.group_time, strict=True)])
    assert np.median(np.abs(ratio - 1)) < tol


def test_invariances_property():
    """Hypothesis: unit and time effects added to y leave every ATT(g,t) and SE unchanged; scaling y by c
    scales them by |c| (for SEs) and c (for estimates)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    df, _ = simulate_staggered(seed=3, n_units=120, n_periods=8)
    base = callaway_santanna(df, outcome="y", unit="unit", time="time", cohort="cohort", control="not-yet",
                             band_draws=0)
    att0 = np.array([e.estimate for e in base.group_time])
    se0 = np.array([e.se for e in base.group_time])

    @settings(max_examples=25, deadline=None)
    @given(seed=st.integers(0, 10_000), scale=st.floats(-5, 5).filter(lambda c: abs(c) > 0.1))
    def check(seed, scale):
        rng = np.random.default_rng(seed)
        shifted = df.assign(y=scale * df["y"] + rng.normal(size=120)[df["unit"]] + rng.normal(size=9)[df["time"]])
        res = callaway_santanna(shifted, outcome="y", unit="unit", time="time", cohort="cohort",
                                control="not-yet", band_draws=0)
        np.testing.assert_allclose([e.estimate for e in res.group_time], scale * att0, atol=1e-9)
        np.testing.assert_allclose([e.se for e in res.group_time], abs(scale) * se0, rtol=1e-9)

    check()
