"""Power and duration: closed forms, pyfixest for TWFE + CR1, and simulation for the analytical MDE."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tremplin.engine.errors import EngineInputError
from tremplin.engine.power import (
    _did_batch,
    baseline_from_panel,
    did_variance_factor,
    mde_did,
    months_required,
    power_did,
    simulate_power,
    twfe_did,
)

DATA = Path(__file__).resolve().parents[1] / "data"


def ar1_panel(N: int = 300, T: int = 60, phi: float = 0.5, sigma: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """Stationary AR(1) residuals around unit effects and a common seasonal pattern."""
    rng = np.random.default_rng(seed)
    e = np.zeros((T, N))
    e[0] = rng.normal(0, sigma, N)
    for t in range(1, T):
        e[t] = phi * e[t - 1] + rng.normal(0, sigma * math.sqrt(1 - phi**2), N)
    Y = 20 + rng.normal(0, 3, N)[None, :] + np.sin(np.arange(T) / 3)[:, None] + e
    return pd.DataFrame({"unit": np.tile(np.arange(N), T), "month": np.repeat(np.arange(T), N), "y": Y.ravel()})


def quad_form(m: int, r: int, R: np.ndarray) -> float:
    c = np.r_[np.full(m, -1 / m), np.full(r, 1 / r)]
    return float(c @ R @ c)


@pytest.mark.parametrize(("m", "r", "rho"), [(1, 1, 0.0), (1, 1, 0.5), (3, 5, 0.3), (12, 6, 0.7), (24, 24, 0.9)])
def test_variance_factor_matches_mckenzie_and_ar1_quadratic_form(m: int, r: int, rho: float) -> None:
    # McKenzie (2012) / Frison & Pocock (1992): DiD with equicorrelated errors
    mckenzie = (1 + (m - 1) * rho) / m + (1 + (r - 1) * rho) / r - 2 * rho
    assert did_variance_factor(m, r, rho, "equicorrelated") == pytest.approx(mckenzie, rel=1e-12)
    T = m + r
    R_eq = np.full((T, T), rho) + (1 - rho) * np.eye(T)
    assert did_variance_factor(m, r, rho, "equicorrelated") == pytest.approx(quad_form(m, r, R_eq), rel=1e-12)
    idx = np.arange(T)
    R_ar = rho ** np.abs(idx[:, None] - idx[None, :])
    assert did_variance_factor(m, r, rho, "ar1") == pytest.approx(quad_form(m, r, R_ar), rel=1e-10)


def test_published_special_cases() -> None:
    # Bloom (1995): with a two-sided 5 % test and 80 % power the MDE is 2.80 standard errors
    res = mde_did(n_units=1000, n_treated=500, pre_periods=1, post_periods=1, sd=1.0, inference="normal")
    assert round(res.multiplier, 2) == 2.80
    # one baseline, one follow-up, no correlation: SE^2 = 2 sd^2 (1/n_T + 1/n_C)
    assert res.se == pytest.approx(math.sqrt(2 * (1 / 500 + 1 / 500)), rel=1e-12)
    # McKenzie (2012): with rho = 0.5, DiD with one baseline has the variance of a post-only comparison
    eq = mde_did(n_units=100, n_treated=50, pre_periods=1, post_periods=1, sd=2.0, rho=0.5,
                 correlation="equicorrelated")
    assert eq.variance_factor == pytest.approx(1.0)
    # Bloom's design effect for clusters of 5 units with ICC 0.1 and t(G-1) quantiles with G = 20 clusters
    cl = mde_did(n_units=100, n_treated=50, pre_periods=1, post_periods=1, sd=1.0, cluster_size=5, icc=0.1)
    assert cl.design_effect == pytest.approx(1.4)
    from scipy import stats

    assert cl.multiplier == pytest.approx(stats.t(19).ppf(0.975) + stats.t(19).ppf(0.8))
    # power at the MDE is the target power (normal: exactly)
    assert power_did(res.mde, res.se, inference="normal") == pytest.approx(0.8, abs=1e-3)


def test_twfe_cr1_matches_pyfixest() -> None:
    pf = pytest.importorskip("pyfixest")
    df = pd.read_csv(DATA / "mpdta.csv")
    df["D"] = ((df["first.treat"] > 0) & (df["year"] >= df["first.treat"])).astype(float)
    ours = twfe_did(df["lemp"].to_numpy(), df["D"].to_numpy(), df["countyreal"].to_numpy(), df["year"].to_numpy())
    ref = pf.feols("lemp ~ D | countyreal + year", data=df, vcov={"CRV1": "countyreal"})
    assert ours.estimate == pytest.approx(float(ref.coef().iloc[0]), rel=1e-8)
    assert ours.se == pytest.approx(float(ref.se().iloc[0]), rel=1e-6)
    assert ours.p_value == pytest.approx(float(ref.pvalue().iloc[0]), rel=1e-5)


def test_batched_did_equals_twfe_on_block_assignments() -> None:
    df = ar1_panel(N=40, T=10, seed=3)
    wide = df.pivot(index="month", columns="unit", values="y").to_numpy()
    rng = np.random.default_rng(0)
    assign = np.zeros((3, 40), dtype=bool)
    for s in range(3):
        assign[s, rng.choice(40, 12, replace=False)] = True
    m = 4
    contrast = wide[m:].mean(axis=0) - wide[:m].mean(axis=0)
    est, se = _did_batch(contrast[None, :].repeat(3, 0), assign, 12, 10)
    for s in range(3):
        d = (assign[s][None, :] & (np.arange(10)[:, None] >= m)).astype(float)
        ref = twfe_did(wide.ravel(), d.ravel(), np.tile(np.arange(40), 10), np.repeat(np.arange(10), 40))
        assert est[s] == pytest.approx(ref.estimate, rel=1e-10)
        assert se[s] == pytest.approx(ref.se, rel=1e-10)


def test_baseline_recovers_ar1_parameters() -> None:
    b = baseline_from_panel(ar1_panel(N=400, T=36, phi=0.6, sigma=2.0, seed=5), outcome="y", unit="unit", time="month")
    assert b.n_units == 400 and b.n_periods == 36
    assert b.autocorrelation == pytest.approx(0.6, abs=0.03)
    assert b.sd == pytest.approx(2.0, rel=0.04)


def test_analytical_mde_agrees_with_simulation() -> None:
    """Inject the analytical MDE into placebo assignments: simulated power is 80 % within Monte Carlo error."""
    df = ar1_panel(N=300, T=60, phi=0.5, sigma=1.0, seed=0)
    mde = mde_did(n_units=300, n_treated=60, pre_periods=12, post_periods=12, sd=1.0, rho=0.5)
    sim = simulate_power(df, outcome="y", unit="unit", time="month", n_treated=60, effect=mde.mde, relative=False,
                         pre_periods=12, post_periods=12, n_sims=4000, seed=1)
    assert abs(sim.power - 0.8) < 4 * sim.power_se + 0.01
    assert sim.size == pytest.approx(0.05, abs=0.02)
    assert sim.sd_estimate_null == pytest.approx(mde.se, rel=0.06)
    assert sim.mde == pytest.approx(mde.mde, rel=0.06)


def test_simulation_on_real_panel_has_nominal_size() -> None:
    df = pd.read_csv(DATA / "mpdta.csv")
    never = df[df["first.treat"] == 0]
    before = never.copy()
    sim = simulate_power(never, outcome="lemp", unit="countyreal", time="year", n_treated=60, effect=-0.05,
                         relative=False, pre_periods=2, post_periods=3, n_sims=2000, seed=2)
    pd.testing.assert_frame_equal(never, before)
    assert 0.02 <= sim.size <= 0.09
    assert sim.effect == pytest.approx(-0.05)
    assert sim.power > sim.size


def test_months_required_is_the_first_sufficient_duration() -> None:
    kw = {"n_units": 40, "n_treated": 10, "baseline_mean": 100.0, "sd": 12.0, "autocorrelation": 0.5}
    res = months_required(**kw, effect=-0.10, planned_months=3)
    need = res.months_required
    assert need is not None and need > 1
    common = {"n_units": 40, "n_treated": 10, "pre_periods": 12, "sd": 12.0, "rho": 0.5}
    assert mde_did(post_periods=need, **common).mde <= 10.0 < mde_did(post_periods=need - 1, **common).mde
    assert res.evaluated_months == 3 and res.sufficient is (need <= 3)
    at_need = months_required(**kw, effect=-0.10)
    assert at_need.evaluated_months == need and at_need.power >= 0.8 and at_need.sufficient is None
    assert at_need.mde_relative == pytest.approx(at_need.mde / 100.0)
    assert at_need.effect == pytest.approx(-10.0)
    # a 1 % effect is out of reach: the pre-period noise sets a floor on the MDE
    far = months_required(**kw, effect=-0.01, max_months=60)
    assert far.months_required is None and far.evaluated_months == 60 and far.power < 0.8
    # the same answer in absolute units
    assert months_required(**kw, effect=-10.0, relative=False).months_required == need


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"correlation": "spatial"}, "allowed values are 'ar1', 'equicorrelated'"),
        ({"n_treated": 40}, "n_treated < n_units"),
        ({"power": 1.2}, "strictly between 0 and 1"),
        ({"autocorrelation": 1.0}, "serial correlation"),
        ({"effect": 0.0}, "non-zero"),
        ({"baseline_mean": 0.0}, "baseline_mean"),
    ],
)
def test_months_required_bad_input(kwargs: dict, match: str) -> None:
    base = {"n_units": 40, "n_treated": 10, "baseline_mean": 100.0, "sd": 12.0}
    with pytest.raises(EngineInputError, match=match):
        months_required(**{**base, **kwargs})


def test_cli_power_json_and_errors(tmp_path: Path) -> None:
    from tremplin.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["power", "--units", "40", "--treated", "10", "--baseline-mean", "100", "--sd", "12",
                              "--autocorrelation", "0.5", "--months", "3", "--format", "json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.stdout)
    ref = months_required(n_units=40, n_treated=10, baseline_mean=100.0, sd=12.0, autocorrelation=0.5,
                          planned_months=3)
    assert d["months_required"] == ref.months_required and d["mde"] == pytest.approx(ref.mde)
    assert d["power"] == pytest.approx(ref.power) and d["sufficient"] is ref.sufficient

    panel = tmp_path / "panel.csv"
    ar1_panel(N=60, T=30, seed=4).to_csv(panel, index=False)
    out = runner.invoke(app, ["power", "--panel", str(panel), "--outcome", "y", "--unit", "unit", "--time", "month",
                              "--treated", "20", "--months", "6", "--simulate", "200", "--format", "json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.stdout)
    assert {"mde", "power", "months_required", "baseline", "simulation"} <= set(d)
    assert d["baseline"]["n_units"] == 60 and d["simulation"]["n_sims"] == 200

    text = runner.invoke(app, ["power", "--units", "40", "--treated", "10", "--baseline-mean", "100", "--sd", "12"])
    assert text.exit_code == 0 and "Months of follow-up required" in text.stdout

    for bad, msg in [
        (["--units", "40", "--sd", "12", "--baseline-mean", "100", "--format", "xml"],
         "Invalid --format 'xml': allowed values are 'text', 'json'."),
        (["--units", "40", "--sd", "12", "--baseline-mean", "100", "--correlation", "spatial"],
         "Invalid --correlation 'spatial': allowed values are 'ar1', 'equicorrelated'."),
        (["--units", "40", "--sd", "12"], "missing --baseline-mean"),
        (["--units", "40", "--sd", "12", "--baseline-mean", "100", "--treated", "40"], "n_treated < n_units"),
        (["--panel", str(tmp_path / "nope.csv"), "--outcome", "y", "--unit", "u", "--time", "t"], "not found"),
        (["--panel", str(panel), "--outcome", "zz", "--unit", "unit", "--time", "month"], "Unknown outcome column"),
    ]:
        res = runner.invoke(app, ["power", *bad])
        assert res.exit_code == 2, res.output
        assert msg in res.stderr
