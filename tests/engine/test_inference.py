"""Inference kernels: CR1 vs pyfixest, wild cluster bootstrap vs wildboottest and under the null,
multiplier bootstrap, randomisation inference."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.twfe import TwoWayFE, demean_two_way
from tremplin.engine.inference import (
    cr1_vcov,
    influence_se,
    multiplier_bootstrap,
    rademacher,
    randomization_inference,
    wild_cluster_bootstrap,
    wild_weights,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "mpdta.csv"


def mpdta() -> pd.DataFrame:
    df = pd.read_csv(DATA)
    df["d"] = ((df["first.treat"] > 0) & (df["year"] >= df["first.treat"])).astype(float)
    df["state"] = df["countyreal"] // 1000
    return df


def test_cr1_plain_ols_matches_pyfixest():
    import pyfixest as pf

    rng = np.random.default_rng(0)
    n, g = 400, 23
    cl = rng.integers(0, g, n)
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    y = x @ [1.0, 0.5, -0.2] + rng.normal(size=n) + rng.normal(size=g)[cl]
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    v = cr1_vcov(x, y - x @ beta, cl)
    df = pd.DataFrame({"y": y, "x1": x[:, 1], "x2": x[:, 2], "cl": cl})
    m = pf.feols("y ~ x1 + x2", data=df, vcov={"CRV1": "cl"})
    np.testing.assert_allclose(np.sqrt(np.diag(v.vcov)), m.se().to_numpy(), rtol=1e-8)
    assert v.n_clusters == g
    assert v.ssc == pytest.approx(g / (g - 1) * (n - 1) / (n - 3))


@pytest.mark.parametrize("weights", ["rademacher", "webb"])
def test_wild_bootstrap_matches_wildboottest_full_enumeration(weights):
    """10 state clusters: both enumerate (Rademacher) or draw; identical bootstrap t distribution up to the
    constant small-sample factor (wildboottest counts every FE dummy in k)."""
    pytest.importorskip("wildboottest")
    import pyfixest as pf

    df = mpdta()
    sub = df[df["state"].isin(sorted(df["state"].unique())[:10])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pf.feols("lemp ~ d | countyreal + year", data=sub, vcov={"CRV1": "state"})
        ref, t_ref = m.wildboottest(
            param="d",
            reps=9999 if weights == "rademacher" else 20000,
            seed=1,
            weights_type=weights,
            return_bootstrapped_t_stats=True,
        )
    res = TwoWayFE("twfe", bootstrap=9999 if weights == "rademacher" else 20000, wild_weights=weights, seed=1).fit(
        sub, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", cluster="state"
    )
    p_ref = float(ref["Pr(>|t|)"])
    p = res.inference.wild_bootstrap_p_value
    if weights == "rademacher":
        assert res.inference.n_boot == 2**10  # full enumeration
        # same 1024 sign patterns; only the tie convention differs (we count |t*| >= |t|, i.e. the
        # identity draw, which is conservative): at most one +- pair of draws apart
        assert abs(p - p_ref) <= 2 / 1024 + 1e-12
        assert p >= p_ref
    else:
        se_mc = np.sqrt(p_ref * (1 - p_ref) / 20000) * np.sqrt(2)
        assert abs(p - p_ref) < 4 * se_mc


def test_wild_bootstrap_t_distribution_equals_wildboottest():
    pytest.importorskip("wildboottest")
    import pyfixest as pf

    from tremplin.engine.estimators.panel_input import build_panel

    df = mpdta()
    sub = df[df["state"].isin(sorted(df["state"].unique())[:10])].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pf.feols("lemp ~ d | countyreal + year", data=sub, vcov={"CRV1": "state"})
        ref, t_ref = m.wildboottest(param="d", reps=9999, seed=1, return_bootstrapped_t_stats=True)
    panel = build_panel(sub, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", cluster="state")
    ui, ti = np.nonzero(np.isfinite(panel.y))
    d = ((panel.cohort[ui] > 0) & (panel.times[ti] >= panel.cohort[ui])).astype(float)
    z = demean_two_way(np.column_stack([panel.y[ui, ti], d]), ui, ti)
    res = wild_cluster_bootstrap(
        z[:, 1:], z[:, 0], panel.cluster[ui], coef=0, demean=lambda v: demean_two_way(v, ui, ti), n_boot=9999
    )
    scale = float(ref["t value"]) / res.t_stat
    np.testing.assert_allclose(np.sort(np.abs(res.t_boot)) * abs(scale), np.sort(np.abs(np.ravel(t_ref))), rtol=1e-6)


def _null_panel(rng, n_clusters=12, units_per=8, n_t=6):
    n = n_clusters * units_per
    cl_unit = np.repeat(np.arange(n_clusters), units_per)
    treated_clusters = rng.choice(n_clusters, n_clusters // 2, replace=False)
    g = np.where(np.isin(cl_unit, treated_clusters), 4, 0)
    unit = np.repeat(np.arange(n), n_t)
    time = np.tile(np.arange(1, n_t + 1), n)
    # cluster-correlated, serially correlated errors; no treatment effect
    cshock = rng.normal(size=(n_clusters, n_t))[cl_unit].ravel()
    y = rng.normal(size=n)[unit] + 0.3 * time + cshock + rng.normal(size=n * n_t)
    return pd.DataFrame({"u": unit, "t": time, "g": np.repeat(g, n_t), "c": np.repeat(cl_unit, n_t), "y": y})


def test_wild_bootstrap_p_values_uniform_under_null():
    rng = np.random.default_rng(42)
    pvals = []
    est = TwoWayFE("twfe", bootstrap=199, wild_weights="webb", bacon=False)
    for s in range(150):
        df = _null_panel(rng)
        res = TwoWayFE("twfe", bootstrap=199, wild_weights="webb", bacon=False, seed=s).fit(
            df, outcome="y", unit="u", time="t", cohort="g", cluster="c"
        )
        pvals.append(res.inference.wild_bootstrap_p_value)
    assert est.bootstrap == 199
    pvals = np.array(pvals)
    assert stats.kstest(pvals, "uniform").pvalue > 0.01
    assert 0.02 <= np.mean(pvals < 0.10) <= 0.20


def test_wild_bootstrap_rejects_a_real_effect():
    rng = np.random.default_rng(1)
    df = _null_panel(rng, n_clusters=14)
    df["y"] = df["y"] + 3.0 * ((df["g"] > 0) & (df["t"] >= df["g"]))
    res = TwoWayFE("twfe", bootstrap=999, wild_weights="webb").fit(
        df, outcome="y", unit="u", time="t", cohort="g", cluster="c"
    )
    assert res.inference.wild_bootstrap_p_value < 0.01


def test_wild_weights_moments_and_errors():
    rng = np.random.default_rng(0)
    for kind in ("rademacher", "webb"):
        v = wild_weights(rng, (200_000, 1), kind)
        assert abs(v.mean()) < 0.01 and abs((v**2).mean() - 1) < 0.01
    with pytest.raises(EngineInputError, match="'rademacher', 'webb'"):
        wild_weights(rng, (2, 2), "mammen")


def test_rademacher_bits():
    v = rademacher(np.random.default_rng(0), (1000, 101))
    assert set(np.unique(v)) == {-1.0, 1.0}
    assert abs(v.mean()) < 0.01


def test_multiplier_bootstrap_se_matches_analytic_for_a_mean():
    rng = np.random.default_rng(3)
    n = 2000
    x = rng.exponential(size=n)
    inf = (x - x.mean())[:, None]  # influence function of the mean, scaled so se = sqrt(sum inf^2)/n
    cluster = np.arange(n)
    analytic = influence_se(inf, cluster, n)[0]
    mb = multiplier_bootstrap([inf], cluster, n_units=n, n_boot=4000, seed=1)
    assert mb.se[0][0] == pytest.approx(analytic, rel=0.05)
    assert analytic == pytest.approx(x.std() / np.sqrt(n), rel=1e-9)


def test_uniform_critical_value_between_pointwise_and_bonferroni():
    rng = np.random.default_rng(4)
    n, m = 3000, 8
    inf = rng.normal(size=(n, m))
    mb = multiplier_bootstrap([inf], np.arange(n), n_units=n, n_boot=3000, seed=2)
    assert stats.norm.ppf(0.975) < mb.crit[0] < stats.norm.ppf(1 - 0.025 / m) + 0.05
    # independent columns: the exact simultaneous value is the Sidak one
    sidak = stats.norm.ppf(1 - (1 - 0.95 ** (1 / m)) / 2)
    assert mb.crit[0] == pytest.approx(sidak, abs=0.08)


def test_randomization_inference_null_and_effect():
    rng = np.random.default_rng(5)
    n = 60
    d = np.repeat([0, 1], n // 2)
    y_null = rng.normal(size=n)
    y_eff = y_null + 1.5 * d

    def diff(y):
        return lambda a: y[a == 1].mean() - y[a == 0].mean()

    eff = randomization_inference(diff(y_eff), d, observed=diff(y_eff)(d), n_permutations=999, seed=1)
    assert eff.p_value < 0.01
    pvals = [
        randomization_inference(diff(rng.normal(size=n)), d, observed=0.0, n_permutations=9, seed=s).p_value
        for s in range(3)
    ]
    assert all(p == 1.0 for p in pvals)  # |stat| >= 0 always: p = 1


def test_randomization_inference_twfe():
    rng = np.random.default_rng(9)
    df = _null_panel(rng, n_clusters=10)
    res = TwoWayFE("twfe", randomization=49, seed=3).fit(df, outcome="y", unit="u", time="t", cohort="g")
    assert res.inference.randomization_permutations == 49
    assert 0.02 <= res.inference.randomization_p_value <= 1.0


@pytest.mark.parametrize("cluster", ["state", "countyreal"])
def test_wild_bootstrap_closed_form_time_fe_equals_generic_demeaning(cluster):
    """The O(N + G T) unit+time correction equals demeaning every cluster's score column (unbalanced panel)."""
    from tremplin.engine.estimators.panel_input import build_panel

    df = mpdta().sample(frac=0.85, random_state=3)
    if cluster == "countyreal":
        df = df[df["countyreal"] < 22000]
    panel = build_panel(df, outcome="lemp", unit="countyreal", time="year", cohort="first.treat",
                        cluster=None if cluster == "countyreal" else cluster, require_balanced=False)
    ui, ti = np.nonzero(np.isfinite(panel.y))
    d = ((panel.cohort[ui] > 0) & (panel.times[ti] >= panel.cohort[ui])).astype(float)
    z = demean_two_way(np.column_stack([panel.y[ui, ti], d]), ui, ti)
    kw = {"coef": 0, "n_boot": 499, "seed": 5, "weights": "webb"}
    generic = wild_cluster_bootstrap(z[:, 1:], z[:, 0], panel.cluster[ui],
                                     demean=lambda v: demean_two_way(v, ui, ti), **kw)
    fast = wild_cluster_bootstrap(z[:, 1:], z[:, 0], panel.cluster[ui], unit=ui, time=ti, **kw)
    np.testing.assert_allclose(fast.t_boot, generic.t_boot, rtol=1e-7, atol=1e-9)
    assert fast.p_value == generic.p_value
