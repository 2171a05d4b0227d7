"""Analyses on a generated region: Monte Carlo (seeded, exact against brute force, converging to the analytic
answer of a linear model), break-even (simulate there gives net savings 0), sensitivity, effects from runs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from tremplin.funding import (
    MODEL_NAMES,
    Effect,
    FundingInputError,
    MarginSharing,
    Scenario,
    breakeven,
    build_model,
    effect_from_json,
    load_population,
    montecarlo,
    sensitivity,
    simulate,
)
from tremplin.funding.analysis import LOSS_TOLERANCE

VARIANTS = [(name, {}) for name in MODEL_NAMES] + [
    ("ipep", {"level": "patient"}), ("mssp", {"track": "two_sided"}), ("personal_budget", {"pooling": "patient"})]


@pytest.fixture(scope="module")
def pop(region):
    return load_population(region)


def test_montecarlo_is_reproducible_by_seed(pop):
    scenario = Scenario(pop, build_model("ipep"), programme_cost=20_000)
    effect = Effect(-0.12, se=0.05)
    a = montecarlo(scenario, effect, draws=5_000, seed=7).to_dict()["montecarlo"]
    b = montecarlo(scenario, effect, draws=5_000, seed=7).to_dict()["montecarlo"]
    c = montecarlo(scenario, effect, draws=5_000, seed=8).to_dict()["montecarlo"]
    assert a == b
    assert a["mean_net_savings"] != c["mean_net_savings"]


def test_montecarlo_converges_to_the_analytic_answer_of_a_linear_model(pop):
    # fee-for-service is linear in the effect: net(E) = -E x affected amount - programme cost
    alpha = float(pop.affected().sum())
    cost, mu, sigma, draws = 0.05 * alpha, -0.12, 0.05, 200_000
    d = montecarlo(Scenario(pop, build_model("ffs"), programme_cost=cost), Effect(mu, se=sigma), draws=draws,
                   seed=3).to_dict()["montecarlo"]
    mean, sd = -mu * alpha - cost, sigma * alpha
    assert d["mean_net_savings"] == pytest.approx(mean, abs=4 * sd / np.sqrt(draws))
    assert d["sd_net_savings"] == pytest.approx(sd, rel=0.01)
    p = norm.cdf((-cost / alpha - mu) / sigma)  # P(net > 0) = P(E < -cost / alpha)
    assert d["p_payer_saves"] == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / draws))
    assert d["quantiles"]["0.05"] == pytest.approx(mean + norm.ppf(0.05) * sd, rel=0.02)
    # under fee-for-service the hospitals lose whenever the effect is a reduction
    assert d["p_provider_loses"] == pytest.approx(norm.cdf(-mu / sigma), abs=4 * np.sqrt(0.01 / draws) + 1e-3)


@pytest.mark.parametrize(("name", "params"), VARIANTS)
def test_montecarlo_is_exact_against_brute_force(pop, name, params):
    scenario = Scenario(pop, build_model(name, params), programme_cost=30_000)
    result = montecarlo(scenario, Effect(-0.12, se=0.08), draws=20_000, seed=5)
    # every draw on every patient, on a subsample of the draws
    sub = slice(0, 400)
    pay = scenario.payments(result.effects[sub])
    brute_net = scenario.baseline_cost - pay.sum(axis=0) - scenario.programme_cost
    np.testing.assert_allclose(result.net_savings[sub], brute_net, rtol=0, atol=1e-6 * scenario.baseline_cost)
    brute_loses = ((pay - scenario.ffs0[:, None]) < -LOSS_TOLERANCE).any(axis=0)
    assert (result.provider_loses[sub] == brute_loses).all()


@pytest.mark.parametrize(("name", "params"), VARIANTS)
def test_montecarlo_on_a_subsample_of_patients_equals_every_draw_on_every_patient(pop, name, params):
    keep = np.zeros(pop.n_persons, bool)
    keep[np.random.default_rng(1).choice(pop.n_persons, size=600, replace=False)] = True
    small = pop.subset(keep)
    scenario = Scenario(small, build_model(name, params), programme_cost=1_000)
    result = montecarlo(scenario, Effect(-0.2, se=0.3), draws=2_000, seed=11)
    pay = scenario.payments(result.effects)
    np.testing.assert_allclose(result.net_savings, scenario.baseline_cost - pay.sum(axis=0) - 1_000, rtol=0,
                               atol=1e-6 * max(scenario.baseline_cost, 1))
    assert (result.provider_loses == ((pay - scenario.ffs0[:, None]) < -LOSS_TOLERANCE).any(axis=0)).all()


def test_margin_sharing_losses_are_exact_too(pop):
    teams = sorted({pop.organisations[t] for t in pop.team[pop.team >= 0]})[:3]
    hospital = next(o for o, k in zip(pop.organisations, pop.org_kind, strict=True) if k == "hospital")
    sharing = MarginSharing(rule="fixed", organisations=(*teams, hospital), keys=dict.fromkeys((*teams, hospital), 1.0))
    scenario = Scenario(pop, build_model("ipep"), sharing)
    result = montecarlo(scenario, Effect(-0.3, se=0.3), draws=3_000, seed=2)
    pay = scenario.payments(result.effects[:500])
    assert (result.provider_loses[:500] == ((pay - scenario.ffs0[:, None]) < -LOSS_TOLERANCE).any(axis=0)).all()


@pytest.mark.parametrize(("name", "params"), VARIANTS)
def test_simulate_at_the_breakeven_effect_gives_zero_net_savings(pop, name, params):
    scenario = Scenario(pop, build_model(name, params), programme_cost=40_000)
    b = breakeven(scenario).to_dict()["breakeven"]
    if b["effect"] is None:
        # e.g. a benchmark or a per-patient floor paying more than any effect saves: never covered, as reported
        assert b["kind"] == "above"
        assert (scenario.net_savings(np.linspace(-1, 1, 2001)) < 0).all()
        return
    assert b["kind"] == "root"
    net = simulate(scenario, b["effect"]).net_savings
    assert net == pytest.approx(0.0, abs=1e-6 * scenario.baseline_cost)
    assert b["avoided_hospitalisations_per_year"] == pytest.approx(-b["effect"] * pop.affected_events())
    days = 366 if pop.performance_year % 4 == 0 else 365
    assert b["avoided_hospitalisations_per_day"] == pytest.approx(b["avoided_hospitalisations_per_year"] / days)
    # just beyond it (a weaker effect) the programme is no longer covered
    assert simulate(scenario, b["effect"] + 1e-3).net_savings < 0


def test_breakeven_of_fee_for_service_is_the_cost_over_the_affected_amount(pop):
    cost = 25_000.0
    b = breakeven(Scenario(pop, build_model("ffs"), programme_cost=cost)).effect
    assert b == pytest.approx(-cost / pop.affected().sum())


def test_mssp_breakeven_by_hand():
    from .test_models import mssp_population

    # baseline 1900; payer cost 1900 + 300 E + 0.5 (50 - 300 E) while savings clear the MSR -> net -25 - 150 E - 5
    b = breakeven(Scenario(mssp_population(), build_model("mssp"), programme_cost=5.0))
    assert b.effect == pytest.approx(-0.2) and b.to_dict()["breakeven"]["kind"] == "root"
    assert b.to_dict()["breakeven"]["avoided_hospitalisations_per_year"] == pytest.approx(0.2)  # one affected event


def test_breakeven_reports_when_nothing_covers_the_programme(pop):
    huge = 10 * pop.spending().sum()
    b = breakeven(Scenario(pop, build_model("ffs"), programme_cost=huge)).to_dict()["breakeven"]
    assert b["effect"] is None and "no effect" in b["reason"]
    assert b["avoided_hospitalisations_per_day"] is None


def test_sensitivity_rows_are_sorted_and_consistent_with_simulate(pop):
    scenario = Scenario(pop, build_model("capitation"), programme_cost=10_000)
    effect = Effect(-0.12, se=0.05)
    rows = sensitivity(scenario, effect).to_dict()["sensitivity"]["parameters"]
    swings = [r["swing"] for r in rows]
    assert swings == sorted(swings, reverse=True)
    names = {r["parameter"] for r in rows}
    assert {"effect", "programme_cost", "quality_bonus", "cap", "local_factor"} <= names
    row = next(r for r in rows if r["parameter"] == "effect")
    lo, hi = effect.interval()
    assert (row["low"], row["high"]) == pytest.approx((lo, hi))
    assert row["net_savings_low"] == pytest.approx(simulate(scenario, lo).net_savings)
    bonus = next(r for r in rows if r["parameter"] == "quality_bonus")
    other = Scenario(pop, build_model("capitation", {"quality_bonus": bonus["high"]}), programme_cost=10_000)
    assert bonus["net_savings_high"] == pytest.approx(simulate(other, -0.12).net_savings)


def test_montecarlo_over_parameter_ranges(pop):
    scenario = Scenario(pop, build_model("ipep"))
    effect = Effect(-0.12, se=0.05)
    fixed = montecarlo(scenario, effect, draws=4_000, seed=1).to_dict()["montecarlo"]
    degenerate = montecarlo(scenario, effect, draws=4_000, seed=1, ranges={"c_share": [0.5, 0.5]}).to_dict()
    # same effect draws (drawn first), parameters at their value: the same distribution
    assert degenerate["montecarlo"]["mean_net_savings"] == pytest.approx(fixed["mean_net_savings"])
    wide = montecarlo(scenario, effect, draws=4_000, seed=1, ranges={"c_share": [0.0, 1.0]}).to_dict()["montecarlo"]
    assert wide["sd_net_savings"] > fixed["sd_net_savings"] and wide["parameter_sets"] == 50
    with pytest.raises(FundingInputError, match="allowed: c_share"):
        montecarlo(scenario, effect, draws=10, seed=1, ranges={"share": [0, 1]})


def test_effect_from_estimate_json_and_from_a_platform_run():
    estimate = {"outcome": "avoidable_hospitalisations",
                "att": {"estimate": -0.06, "se": 0.02, "ci_low": -0.1, "ci_high": -0.02}}
    e = effect_from_json(estimate, baseline=0.5)
    assert (e.estimate, e.se, e.ci_low, e.ci_high) == pytest.approx((-0.12, 0.04, -0.2, -0.04))
    no_se = effect_from_json({**estimate, "att": {"estimate": -0.06, "ci_low": -0.1, "ci_high": -0.02}}, baseline=0.5)
    assert no_se.se == pytest.approx(0.16 / (2 * norm.ppf(0.975)))  # relative interval -0.2 to -0.04
    run = {"outcome": "avoidable_hospitalisations", "se": 0.03,
           "headline": {"relative": -0.11, "relative_ci_low": -0.2, "relative_ci_high": -0.02, "baseline": 0.6}}
    r = effect_from_json(run)
    assert (r.estimate, r.se) == pytest.approx((-0.11, 0.05))
    draws = effect_from_json({**estimate, "att": {**estimate["att"], "draws": [-0.05, -0.07]}}, baseline=0.5)
    assert draws.distribution == "bootstrap"
    assert set(np.round(draws.sample(50, np.random.default_rng(0)), 6)) == {-0.1, -0.14}
    boot = effect_from_json({**run, "bootstrap_draws": [-0.06, -0.072]})  # ATT scale, over the headline baseline
    assert boot.distribution == "bootstrap" and sorted(boot.draws) == pytest.approx([-0.12, -0.1])
    with pytest.raises(FundingInputError, match="list of numbers"):
        effect_from_json({**run, "bootstrap_draws": ["a"]})
    with pytest.raises(FundingInputError, match="below -100 %"):
        effect_from_json({**estimate, "att": {"estimate": -0.8}}, baseline=0.5)
    with pytest.raises(FundingInputError, match="allowed values: avoidable_hospitalisations"):
        effect_from_json({"outcome": "lemp", "att": {"estimate": 1}}, baseline=1)
