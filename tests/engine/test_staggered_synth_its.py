"""Synthetic control and ITS with several treated units starting at different periods.

References: planted effects recovered exactly (treated units are convex combinations of donors);
the per-unit fits equal single-unit runs (themselves checked against NNLS and pysyncon in test_synth.py);
placebo averages by brute-force enumeration; random-effects pooling against statsmodels' meta-analysis.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tremplin.cli import app
from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.its import interrupted_time_series, random_effects_pool
from tremplin.engine.estimators.synth import synthetic_control
from tremplin.engine.estimators.synth_staggered import StaggeredSynthResult, placebo_averages

T, J = 36, 10
STARTS = {"t0": 14, "t1": 20, "t2": 20, "t3": 28}


def planted_panel(
    noise: float = 0.0, seed: int = 3, level: float = -2.0
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Donors on random walks; each treated unit = convex mix of donors + effect level - 0.1 * (t - start)."""
    rng = np.random.default_rng(seed)
    donors = 40 + np.cumsum(rng.normal(0, 1, (T, J)), axis=0) + rng.normal(0, 4, J)
    rows, effects = [], {}
    for j in range(J):
        rows += [{"unit": f"d{j}", "t": t, "y": donors[t, j], "g": 0} for t in range(T)]
    for k, (name, start) in enumerate(STARTS.items()):
        w = np.zeros(J)
        w[[k, k + 3, k + 5]] = [0.5, 0.3, 0.2]
        effect = np.where(np.arange(T) >= start, level - 0.1 * (np.arange(T) - start), 0.0)
        y = donors @ w + effect + noise * rng.normal(0, 1, T)
        effects[name] = effect
        rows += [{"unit": name, "t": t, "y": y[t], "g": start} for t in range(T)]
    return pd.DataFrame(rows), effects


COMMON = {"outcome": "y", "unit": "unit", "time": "t", "cohort": "g"}


def test_staggered_synth_recovers_planted_effects_exactly() -> None:
    df, effects = planted_panel()
    res = synthetic_control(df, **COMMON, n_placebo_draws=500)
    assert isinstance(res, StaggeredSynthResult)
    for fit in res.treated:
        np.testing.assert_allclose(fit.fit.gap, effects[fit.unit], atol=1e-7)
    true_att = np.mean([e[STARTS[u]:].mean() for u, e in effects.items()])
    assert res.att.estimate == pytest.approx(true_att, abs=1e-7)
    # event time 0 is -2 for every unit; event time 8 (units with at least 9 post periods: all) is -2.8
    e = dict(zip(res.event_times.tolist(), res.event_gap, strict=True))
    assert e[0] == pytest.approx(-2.0, abs=1e-7) and e[8] == pytest.approx(-2.8, abs=1e-7)
    assert e[-5] == pytest.approx(0.0, abs=1e-7)
    d = res.to_dict()
    assert d["method"] == "synth" and d["n_units"] == 4 + J and d["n_obs"] == (4 + J) * T
    assert {"weights", "pre_rmspe", "post_rmspe", "placebo_p_value"} <= set(d["synth"])
    assert d["att"]["estimate"] == pytest.approx(true_att, abs=1e-7)
    json.dumps(d, allow_nan=False)


def test_staggered_synth_placebo_p_value_separates_effect_from_none() -> None:
    big, _ = planted_panel(level=-15.0)
    d = synthetic_control(big, **COMMON, leave_one_out=False).to_dict()
    assert d["att"]["p_value"] < 0.01 and d["synth"]["n_placebo_draws"] == 2000
    none, _ = planted_panel(level=0.0, noise=0.5)
    none["y"] = np.where(none["g"] > 0, none["y"] + 0.1 * (none["t"] - none["g"]).clip(lower=0) * (none["t"] >= none["g"]),
                         none["y"])  # cancel the slope: no effect at all
    assert synthetic_control(none, **COMMON, leave_one_out=False).to_dict()["att"]["p_value"] > 0.1


def test_each_treated_fit_equals_the_single_unit_estimator() -> None:
    df, _ = planted_panel(noise=0.7)
    res = synthetic_control(df, **COMMON, placebo=False, leave_one_out=False)
    for fit in res.treated:
        alone = df[(df["g"] == 0) | (df["unit"] == fit.unit)]
        single = synthetic_control(alone, **COMMON, placebo=False, leave_one_out=False)
        np.testing.assert_allclose(fit.fit.weights, single.fit.weights, atol=1e-12)
        assert fit.att == pytest.approx(single.att.estimate, abs=1e-12)


def test_placebo_averages_equal_brute_force_enumeration() -> None:
    rng = np.random.default_rng(0)
    ratios = [rng.gamma(2, 1, 3), rng.gamma(2, 1, 4), rng.gamma(2, 1, 2)]
    atts = [rng.normal(0, 1, 3), rng.normal(0, 1, 4), rng.normal(0, 1, 2)]
    events = [rng.normal(0, 1, (3, 5)), rng.normal(0, 1, (4, 5)), rng.normal(0, 1, (2, 5))]
    events[2][:, 4] = np.nan  # the third unit has no event time 4
    obs_ratio, obs_att, obs_event = 2.5, -1.1, rng.normal(0, 1, 5)
    res = placebo_averages(ratios, atts, events, obs_ratio, obs_att, obs_event, n_draws=1000, rng=rng)
    assert res.exhaustive and res.n_draws == 24
    combos = list(itertools.product(range(3), range(4), range(2)))
    ref_att = np.array([np.mean([atts[i][c[i]] for i in range(3)]) for c in combos])
    ref_ratio = np.array([np.mean([ratios[i][c[i]] for i in range(3)]) for c in combos])
    np.testing.assert_allclose(np.sort(res.att), np.sort(ref_att))
    np.testing.assert_allclose(np.sort(res.ratio), np.sort(ref_ratio))
    assert res.att_p_value == pytest.approx((1 + np.sum(np.abs(ref_att) >= abs(obs_att))) / 25)
    last = np.array([np.mean([events[i][c[i], 4] for i in range(2)]) for c in combos])
    np.testing.assert_allclose(np.sort(res.event[:, 4]), np.sort(last))
    # more combinations than draws: random draws, reproducible by seed
    a = placebo_averages(ratios, atts, events, obs_ratio, obs_att, obs_event, n_draws=10,
                         rng=np.random.default_rng(5))
    b = placebo_averages(ratios, atts, events, obs_ratio, obs_att, obs_event, n_draws=10,
                         rng=np.random.default_rng(5))
    assert not a.exhaustive and a.n_draws == 10
    np.testing.assert_array_equal(a.att, b.att)


def test_staggered_synth_excludes_units_without_pre_periods() -> None:
    df, _ = planted_panel()
    df.loc[df["unit"] == "t0", "g"] = 1  # one pre period only
    res = synthetic_control(df, **COMMON, placebo=False)
    assert [u for u, _ in res.excluded] == ["t0"] and len(res.treated) == 3
    assert "fewer than 2 pre-treatment periods" in res.summary()
    df.loc[df["unit"] != "t0", "g"] = np.where(df.loc[df["unit"] != "t0", "unit"].str.startswith("d"), 0, 1)
    with pytest.raises(EngineInputError, match="No treated unit has at least 2 pre-treatment periods"):
        synthetic_control(df, **COMMON)


def its_panel(seed: int, level: float = -3.0, slope: float = -0.1, noise: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    starts = {"A": 30, "B": 30, "C": 42, "D": 54, "E": 0, "F": 0}
    t = np.arange(72)
    rows = []
    for u, g in starts.items():
        y = 20 + 0.05 * t + 2 * np.sin(2 * np.pi * t / 12) + noise * rng.normal(0, 1, t.size)
        if g:
            y = y + (t >= g) * (level + slope * (t - g))
        rows += [{"unit": u, "t": tt, "y": yy, "g": g} for tt, yy in zip(t, y, strict=True)]
    return pd.DataFrame(rows)


def test_staggered_its_pools_cohorts_like_statsmodels_meta_analysis() -> None:
    from statsmodels.stats.meta_analysis import combine_effects

    df = its_panel(seed=1)
    res = interrupted_time_series(df, **COMMON, seasonality="dummies")
    assert len(res.cohorts) == 3
    d = res.to_dict()
    for name, getter in (
        ("att", lambda c: (c.fit.att, c.fit.att_se**2)),
        ("level_change", lambda c: (c.fit.coef[2], c.fit.vcov[2, 2])),
    ):
        est, var = np.array([getter(c) for c in res.cohorts]).T
        ref = combine_effects(est, var, method_re="dl")
        mine = d["att"] if name == "att" else d["its"][name]
        assert mine["estimate"] == pytest.approx(ref.mean_effect_re, rel=1e-10)
        assert mine["se"] == pytest.approx(ref.sd_eff_w_re, rel=1e-10)
        assert d["its"]["heterogeneity"][name]["tau2"] == pytest.approx(ref.tau2, abs=1e-12)
    # each cohort equals the single-start analysis of its own units
    alone = df[df["unit"].isin(["C", "E", "F"])]
    single = interrupted_time_series(alone, **COMMON, seasonality="dummies")
    assert res.cohorts[1].fit.att == pytest.approx(single.fit.att, abs=1e-12)
    assert d["method"] == "its" and d["n_periods"] == 72 and d["n_units"] == 4


def test_staggered_its_figure_names_what_it_shows() -> None:
    """Texts are English; layout and trace `meta` say what is drawn so an interface can relabel it."""
    res = interrupted_time_series(its_panel(seed=1), **COMMON, seasonality="dummies")
    fig = res.plot()
    assert fig.layout.meta["figure"] == "its_by_cohort" and fig.layout.meta["outcome"] == COMMON["outcome"]
    starts = [str(c.times[c.t0]) for c in res.cohorts]
    assert [(t.meta["role"], t.meta["start"]) for t in fig.data] == [
        (role, s) for s in starts for role in ("observed", "counterfactual")]
    assert [t.name for t in fig.data][:2] == [f"observed, start {starts[0]}", f"counterfactual, start {starts[0]}"]


def test_staggered_its_recovers_planted_level_and_slope_without_noise() -> None:
    res = interrupted_time_series(its_panel(seed=2, noise=0.0) .assign(y=lambda x: x["y"]), **COMMON,
                                  seasonality="fourier", fourier_order=1)
    for c in res.cohorts:
        assert c.fit.coef[2] == pytest.approx(-3.0, abs=1e-8)
        assert c.fit.coef[3] == pytest.approx(-0.1, abs=1e-9)


def test_random_effects_pool_reduces_to_inverse_variance_without_heterogeneity() -> None:
    r = random_effects_pool(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 4.0]))
    assert r["tau2"] == 0 and r["estimate"] == pytest.approx(1.0)
    assert r["se"] == pytest.approx((1 / (1 + 0.5 + 0.25)) ** 0.5)


def test_staggered_its_skips_short_cohorts_and_explains() -> None:
    df = its_panel(seed=3)
    df.loc[df["unit"] == "D", "g"] = 71  # one post period: skipped
    res = interrupted_time_series(df, **COMMON)
    assert len(res.cohorts) == 2 and "skipped" in res.summary()
    assert res.to_dict()["its"]["skipped_cohorts"][0]["intervention_time"] == 71


runner = CliRunner()


@pytest.fixture(scope="module")
def demo_panel(tmp_path_factory) -> Path:
    """A generated region with staggered interventions, through `tremplin generate` and `tremplin panel`."""
    out = tmp_path_factory.mktemp("region")
    res = runner.invoke(app, ["generate", str(out), "--persons", "6000", "--territories", "16", "--years", "4",
                              "--seed", "5"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["panel", str(out), "--out", str(out / "panel.parquet"),
                              "--outcomes", "avoidable_hospitalisations,cost_per_capita"])
    assert res.exit_code == 0, res.output
    cohorts = pd.read_parquet(out / "panel.parquet").groupby("unit_id")["cohort"].first()
    assert cohorts[cohorts > 0].nunique() >= 2  # staggered
    return out / "panel.parquet"


@pytest.mark.parametrize("method", ["did", "twfe", "cs", "synth", "its"])
def test_every_method_runs_on_the_generated_demo_panel(demo_panel: Path, tmp_path: Path, method: str) -> None:
    args = ["estimate", str(demo_panel), "--outcome", "cost_per_capita", "--unit", "unit_id", "--time", "period",
            "--cohort", "cohort", "--method", method, "--format", "json", "--plot", str(tmp_path / "p.html")]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["method"] == method and d["n_periods"] == 48
    assert {"estimate", "se", "ci_low", "ci_high", "p_value"} <= set(d["att"])
    assert isinstance(d["att"]["estimate"], float)
    html = (tmp_path / "p.html").read_text()
    if method != "did":
        assert "Plotly.newPlot" in html and "<script src" not in html  # plotly.js embedded, no CDN
        # the vendored bundle, and no URL to a CDN (figure data is base64: look for URLs, not substrings)
        assert "plotly.js (basic - minified)" in html and not re.search(r"(?i)https?://[^\s\"']*cdn", html)


def test_synth_on_a_public_staggered_dataset_from_the_cli() -> None:
    data = Path(__file__).resolve().parents[1] / "data" / "mpdta.csv"
    res = runner.invoke(app, ["estimate", str(data), "--outcome", "lemp", "--unit", "countyreal", "--time", "year",
                              "--cohort", "first.treat", "--method", "synth", "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    # the 2004 cohort has one pre-treatment year: excluded and reported
    assert d["synth"]["excluded_units"] and d["n_treated"] == 191 - len(d["synth"]["excluded_units"])
    assert d["att"]["estimate"] < 0 and 0 < d["att"]["p_value"] <= 1
