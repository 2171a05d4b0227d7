"""Each model's formula on hand-computed examples: caps, floors term by term, the MSR sliding scale, stop-loss.

The populations are a handful of identical persons (so every risk score is 1.0) with round amounts; the expected
numbers are worked out in the comments. Organisations: A (index 0) and B (1) primary-care teams, H (2) a hospital.
"""

from __future__ import annotations

import numpy as np
import pytest

from tremplin.funding import (
    BundledEpisodes,
    Capitation,
    FeeForService,
    FundingInputError,
    MarginSharing,
    PersonalBudget,
    Scenario,
    SharedSavingsIPEP,
    SharedSavingsMSSP,
    build_model,
    minimum_savings_rate,
    simulate,
)
from tremplin.funding.population import Episodes
from tremplin.funding.risk import risk_model

from .builders import population

A, B, H = 0, 1, 2


def pay(model, pop, effect):
    return model.plan(pop).payments([effect])[:, 0]


def test_fee_for_service_pays_volumes_at_tariffs_and_the_effect_on_affected_events():
    pop = population([{}, {}], [
        (1, 0, A, "outpatient", 100.0, 0.0), (1, 0, H, "inpatient", 2000.0, 2000.0),
        (1, 1, H, "inpatient", 3000.0, 0.0), (1, 1, B, "pharmacy", 50.0, 0.0), (0, 0, A, "outpatient", 999.0, 0.0)])
    np.testing.assert_allclose(pay(FeeForService(), pop, 0.0), [100, 50, 5000])
    np.testing.assert_allclose(pay(FeeForService(), pop, -0.25), [100, 50, 4500])  # 2000 x (1 - 0.25)
    np.testing.assert_allclose(pay(FeeForService(tariff_scale=1.02), pop, 0.0), [102, 51, 5100])


def capitation_population():
    persons = [{"team": A}, {"team": A}, {"team": -1}]
    lines = [  # reference year (index 0): covered care
        (0, 0, A, "outpatient", 300.0, 0.0, 0, 3), (0, 0, B, "outpatient", 100.0, 0.0, 0, 1),
        (0, 1, A, "outpatient", 200.0, 0.0, 0, 2), (0, 2, B, "outpatient", 400.0, 0.0, 0, 4),
        # performance year
        (1, 0, A, "outpatient", 350.0, 0.0), (1, 0, H, "inpatient", 1000.0, 1000.0),
        (1, 1, A, "outpatient", 150.0, 0.0), (1, 2, B, "outpatient", 420.0, 0.0)]
    return population(persons, lines)


def test_capitation_forfait_loyalty_bonus_and_cap():
    pop = capitation_population()
    # similar patients (one cell): 1000 of covered care over 3 person-years = 333.33 per year; no revaluation
    # (no year before the reference year). Loyalty: p0 3 of 4 visits in A = 0.75, p1 2 of 2 = 1.
    # forfaits 250 + 333.33 = 583.33; +5 % bonus = 612.50; cap = 1.2 x previous income (300 + 200) = 600 -> 600
    plan = Capitation().plan(pop)
    np.testing.assert_allclose(plan.payments([0.0])[:, 0], [600.0, 420.0, 1000.0])
    assert plan.details["teams_capped"] == 1 and plan.details["forfaits"] == pytest.approx(583.3333333)
    assert plan.details["replaced_fee_for_service"] == pytest.approx(500.0)  # A's acts for p0 and p1
    # a looser cap lets the bonus through: 612.50; the hospital's stay keeps its fee and the effect
    np.testing.assert_allclose(pay(Capitation(cap=0.5), pop, -0.5), [612.5, 420.0, 500.0])
    # no loyalty factor: forfaits 666.67 x 1.05 = 700, capped at 600 / 750
    np.testing.assert_allclose(pay(Capitation(loyalty=False, cap=0.5), pop, 0.0)[A], 700.0)
    # nobody aged 65+: the team keeps its fees
    np.testing.assert_allclose(pay(Capitation(scope="65+"), pop, 0.0), [500.0, 420.0, 1000.0])


def ipep_population():
    # national spending per person: reference year 4000 / 4 = 1000, performance year 4400 / 4 = 1100 (growth 10 %)
    persons = [{"team": A}, {"team": A}, {"team": B}, {"team": -1}]
    ref = [900.0, 1100.0, 1400.0, 600.0]
    perf = [800.0, 1000.0, 1500.0, 1100.0]
    lines = [(0, i, H, "inpatient", v, 0.0) for i, v in enumerate(ref)]
    lines += [(1, i, H, "inpatient", v, 200.0 if i == 0 else 0.0) for i, v in enumerate(perf)]
    return population(persons, lines)


def test_ipep_formula_with_each_negative_term_floored_separately():
    pop = ipep_population()
    assert np.allclose(risk_model(pop).scores(pop, -1), 1.0)
    model = SharedSavingsIPEP(quality=1.0)
    # group A: expected 2 x 1100 = 2200, observed 1800 + 200 E -> gap 400 - 200 E;
    #          growth reference 2000 x 1.1 = 2200 -> growth term 400 - 200 E; bonus 0.5 (1/3 + 2/3)(400 - 200 E)
    # group B: gap 1100 - 1500 = -400 -> floored to 0; growth 1400 x 1.1 - 1500 = 40 -> 0.5 x 2/3 x 40 = 13.33
    #          (flooring the sum instead would give max(0, -400/3 + 80/3) = 0)
    np.testing.assert_allclose(pay(model, pop, 0.0), [200.0, 13.333333, 4400.0])
    np.testing.assert_allclose(pay(model, pop, -0.5), [250.0, 13.333333, 4300.0])
    # quality gating
    np.testing.assert_allclose(pay(SharedSavingsIPEP(quality=0.4), pop, 0.0)[:2], [80.0, 5.333333])
    np.testing.assert_allclose(pay(SharedSavingsIPEP(quality=0.4, gating="threshold"), pop, 0.0)[:2], [0.0, 0.0])
    np.testing.assert_allclose(pay(SharedSavingsIPEP(quality=0.4, gating="none"), pop, 0.0)[:2], [200.0, 13.333333])


def test_ipep_per_patient_floors():
    pop = ipep_population()
    # per patient, group A: p0 gap 1100 - 800 = 300, growth 990 - 800 = 190; p1 gap 100, growth 1210 - 1000 = 210
    # at E = +1 (p0 observed 1000): p0 gap 100, growth -10 -> 0; p1 unchanged -> 0.5 (200/3 + 2/3 x 210) = 103.33
    # at group level: gap 200, growth 210 - 10 = 200 -> 0.5 (200/3 + 400/3) = 100
    np.testing.assert_allclose(pay(SharedSavingsIPEP(quality=1.0, level="patient"), pop, 1.0)[A], 103.333333)
    np.testing.assert_allclose(pay(SharedSavingsIPEP(quality=1.0, level="group"), pop, 1.0)[A], 100.0)


@pytest.mark.parametrize(("beneficiaries", "msr"), [
    (1, 0.039), (4_999, 0.039), (5_000, 0.039), (5_999, 0.036), (6_000, 0.036), (6_999, 0.034), (7_000, 0.034),
    (9_999, 0.030), (10_000, 0.030), (14_999, 0.027), (15_000, 0.027), (19_999, 0.025), (20_000, 0.025),
    (49_999, 0.022), (50_000, 0.022), (59_999, 0.020), (60_000, 0.020), (1_000_000, 0.020),
    (5_500, 0.039 - 0.003 * 500 / 999), (30_000, 0.025 - 0.003 * 10_000 / 29_999)])
def test_minimum_savings_rate_sliding_scale_at_band_edges(beneficiaries, msr):
    # 42 CFR 425.604(b): 3.9 % at 5,000 down to 2.0 % from 60,000, each band from its low-end to its high-end value
    assert minimum_savings_rate(beneficiaries) == pytest.approx(msr, abs=1e-12)


def test_minimum_savings_rate_matches_the_rule_s_worked_example():
    # CMS-1345-P (76 FR 19528), Table 6: "an ACO with 7,500 beneficiaries would be assigned an MSR of 3.3 percent"
    assert round(minimum_savings_rate(7_500), 4) == 0.033


def mssp_population():
    # p0 in ACO A: 1000 a year in the three baseline years, 900 in the performance year (300 affected);
    # p1 outside: 1000 every year. National: 1000, then 950. Benchmark = 1000 x 950/1000 = 950 per person-year.
    years = (2020, 2021, 2022, 2023)
    lines = [(y, 0, H, "inpatient", 1000.0, 0.0) for y in range(3)] + [(3, 0, H, "inpatient", 900.0, 300.0)]
    lines += [(y, 1, H, "inpatient", 1000.0, 0.0) for y in range(4)]
    return population([{"team": A, "exposure": [1.0] * 4}, {"exposure": [1.0] * 4}], lines, years=years)


@pytest.mark.parametrize(("effect", "payment"), [
    (0.0, 25.0),     # S = 50 >= MSR 3.9 % x 950 = 37.05: 0.5 x 50
    (0.042, 18.7),   # S = 37.4, just above the MSR: the whole savings are shared (first-dollar), 0.5 x 37.4
    (0.045, 0.0),    # S = 36.5, just below: nothing
    (-0.1, 40.0),    # S = 80: 40
    (-0.5, 95.0),    # S = 200: 0.5 x 200 = 100 capped at 10 % x 950 = 95
])
def test_mssp_one_sided_msr_share_and_cap(effect, payment):
    assert pay(SharedSavingsMSSP(), mssp_population(), effect)[A] == pytest.approx(payment)


def test_mssp_two_sided_loss_sharing_loss_cap_and_quality_gate():
    pop = mssp_population()
    two = SharedSavingsMSSP(track="two_sided")
    assert pay(two, pop, 0.0)[A] == pytest.approx(37.5)  # 0.75 x 50 (cap 20 % x 950 = 190)
    # E = +0.5: S = -100, beyond the MLR: repay 40 % (1 - 0.75 x quality 1, kept in 40-75 %) of 100
    assert pay(two, pop, 0.5)[A] == pytest.approx(-40.0)
    # E = +2: S = -550: 0.4 x 550 = 220 capped at 15 % x 950 = 142.5
    assert pay(two, pop, 2.0)[A] == pytest.approx(-142.5)
    # below the quality standard: no shared savings, losses shared at 75 %
    gated = SharedSavingsMSSP(track="two_sided", quality=0.3)
    assert pay(gated, pop, 0.0)[A] == 0.0 and pay(gated, pop, 0.5)[A] == pytest.approx(-75.0)
    assert pay(SharedSavingsMSSP(quality=0.3), pop, -0.1)[A] == 0.0
    assert pay(SharedSavingsMSSP(quality=0.8), pop, 0.0)[A] == pytest.approx(20.0)  # 0.5 x 0.8 x 50


def test_mssp_uses_the_sliding_msr_of_its_size():
    n = 7_500
    lines = [(y, i, H, "inpatient", 1000.0, 0.0) for i in range(n) for y in range(2)]
    pop = population([{"team": A}] * n, lines)
    assert round(SharedSavingsMSSP().plan(pop).details["minimum_savings_rate"]["min"], 4) == 0.033


def bundle_population(**episode_overrides):
    # baseline (period 1): two I50 episodes of 1000 and 1400 -> 1200 per episode (risk 1, no trend);
    # performance (period 0) at H: e1 1000 with 100 affected after the anchor, e2 1500 anchored by an affected stay
    persons = [{}, {}, {}, {}]
    lines = [(y, i, H, "inpatient", 1000.0, 0.0) for i in range(4) for y in range(2)]
    ep = {"window_days": 90, "person": np.array([0, 1, 2, 3]), "organisation": np.full(4, H), "period": np.array([1, 1, 0, 0]),
              "year": np.array([0, 0, 1, 1]), "category": np.zeros(4, int), "categories": ("I50",),
              "amount": np.array([1000.0, 1400.0, 1000.0, 1500.0]), "anchor_amount": np.full(4, 500.0),
              "anchor_affected": np.array([False, False, False, True]), "post_affected": np.array([0.0, 0.0, 100.0, 0.0]),
              "periods": (("2023-01-01", "2023-12-31"),) * 4}
    ep.update(episode_overrides)
    return population(persons, lines, episodes=Episodes(**ep))


def test_bundle_target_reconciliation_stop_loss_stop_gain_and_quality():
    pop = bundle_population()
    model = BundledEpisodes(min_baseline_episodes=2)
    # target 1200 x 0.97 = 1164 per episode; T(E) = 2328 + 1164 E; actual 2500 + 1600 E; R = -172 - 436 E
    # E = 0: R = -172 (stop-loss 20 % x 2328 = 465.6 not reached); negative amounts reduced by 10 % x quality 1
    assert pay(model, pop, 0.0)[H] - 4000.0 == pytest.approx(-172 * 0.9)
    # E = -0.5: R = 46, positive, full quality: no reduction (stop-gain 20 % x 1746 not reached)
    assert pay(model, pop, -0.5)[H] - 4000.0 == pytest.approx(46.0)
    # stop-loss at 5 % of 2328 = 116.4 binds
    assert pay(BundledEpisodes(min_baseline_episodes=2, stop_loss=0.05), pop, 0.0)[H] - 4000 == pytest.approx(
        -116.4 * 0.9)
    # stop-gain at 1 % of 1746 = 17.46 binds
    assert pay(BundledEpisodes(min_baseline_episodes=2, stop_gain=0.01), pop, -0.5)[H] - 4000 == pytest.approx(17.46)
    # quality 0.5: positive reduced by 10 % x 0.5 = 5 %, negative by 5 %
    q = BundledEpisodes(min_baseline_episodes=2, quality=0.5)
    assert pay(q, pop, -0.5)[H] - 4000 == pytest.approx(46 * 0.95)
    assert pay(q, pop, 0.0)[H] - 4000 == pytest.approx(-172 * 0.95)
    # too few baseline episodes: the category keeps fee-for-service
    assert pay(BundledEpisodes(min_baseline_episodes=3), pop, 0.0)[H] == pytest.approx(4000.0)


def test_bundle_window_must_match_the_loaded_episodes():
    with pytest.raises(FundingInputError, match="episode_window_days=60"):
        BundledEpisodes(window_days=60).plan(bundle_population())


def budget_population():
    persons = [{"long_term_condition": True}, {"long_term_condition": True}, {}]
    lines = [(0, 0, H, "inpatient", 1000.0, 0.0), (0, 1, H, "inpatient", 2000.0, 0.0), (0, 2, B, "outpatient", 600.0, 0.0),
             (1, 0, A, "outpatient", 300.0, 0.0), (1, 0, H, "inpatient", 900.0, 900.0),
             (1, 1, A, "home", 200.0, 0.0), (1, 1, B, "outpatient", 200.0, 0.0), (1, 1, H, "inpatient", 1000.0, 0.0),
             (1, 2, B, "outpatient", 500.0, 0.0)]
    return population(persons, lines)


def test_personal_budget_reinvests_the_pool_underspend_in_community_care():
    pop = budget_population()
    # budgets: similar patients (one cell: everyone) 3600 / 3 = 1200 each -> pool 2400; eligible spending 2600
    model = PersonalBudget()
    np.testing.assert_allclose(pay(model, pop, 0.0), [500.0, 700.0, 1900.0])  # no underspend: fee-for-service
    # E = -0.5: spending 2150, 250 unspent, spent at A and B pro rata of 500 and 200 of community care
    np.testing.assert_allclose(pay(model, pop, -0.5), [500 + 250 * 5 / 7, 700 + 250 * 2 / 7, 1450.0])
    # half reinvested, half back to the payer
    np.testing.assert_allclose(pay(PersonalBudget(reinvest_share=0.5), pop, -0.5).sum(), 2650 + 125)


def test_personal_budget_per_patient():
    pop = budget_population()
    # p0: budget 1200, spending 1200 + 900 E -> 450 unspent at E = -0.5, spent with A (its only community provider);
    # p1: 1400 > 1200, nothing unspent
    np.testing.assert_allclose(pay(PersonalBudget(pooling="patient"), pop, -0.5), [950.0, 700.0, 1450.0])


def test_margin_sharing_splits_the_gains_by_fixed_keys_and_keeps_the_total():
    pop = ipep_population()
    plain = Scenario(pop, SharedSavingsIPEP(quality=1.0))
    shared = Scenario(pop, SharedSavingsIPEP(quality=1.0), MarginSharing(rule="fixed", organisations=("A", "H"),
                                                                          keys={"A": 1, "H": 3}))
    # gains of A and H: A's bonus 200 -> A gets 50, H gets 150 over its fee-for-service 4400; B unchanged
    np.testing.assert_allclose(shared.payments([0.0])[:, 0], [50.0, 13.333333, 4550.0])
    assert shared.payments([0.0]).sum() == pytest.approx(plain.payments([0.0]).sum())


def test_margin_sharing_pro_rata_of_patients():
    pop = ipep_population()
    # everyone is cared for by H only: H has 4 patients, A and B none -> H takes every gain
    shared = Scenario(pop, SharedSavingsIPEP(quality=1.0), MarginSharing(rule="patients"))
    np.testing.assert_allclose(shared.payments([0.0])[:, 0], [0.0, 0.0, 4400 + 200 + 13.333333])


def test_risk_score_has_mean_one_over_the_reference_population(region):
    from tremplin.funding import load_population
    from tremplin.funding.risk import reference_index

    pop = load_population(region)
    ref = reference_index(pop)
    scores = risk_model(pop).scores(pop, ref)
    assert np.average(scores, weights=pop.exposure[ref]) == pytest.approx(1.0, abs=1e-12)
    # older persons and persons with conditions are riskier
    old = pop.age(ref) >= 75
    assert scores[old].mean() > 1.5 * scores[pop.age(ref) < 40].mean()
    assert scores[pop.conditions.any(axis=1)].mean() > scores[~pop.conditions.any(axis=1)].mean()


def test_risk_coefficients_are_the_weighted_least_squares_fit_of_statsmodels(region):
    import statsmodels.api as sm

    from tremplin.funding import load_population
    from tremplin.funding.risk import features, reference_index

    pop = load_population(region)
    ref = reference_index(pop)
    w = pop.exposure[ref]
    sel = w > 0
    x, names = features(pop, ref)
    # independent reference: statsmodels' WLS of the amount per year observed, weighted by the share observed
    fit = sm.WLS(pop.spending(ref)[sel] / w[sel], x[sel], weights=w[sel]).fit()
    model = risk_model(pop)
    assert model.names == names and "low_income" in names
    np.testing.assert_allclose(model.coefficients, fit.params, rtol=1e-7, atol=1e-6)


@pytest.mark.parametrize(("name", "params", "message"), [
    ("magic", {}, "allowed values: ffs, capitation, ipep, mssp, bundle, personal_budget"),
    ("capitation", {"scope": "kids"}, "allowed values: all, 65+, diabetics, long_term_condition"),
    ("ipep", {"gating": "soft"}, "allowed values: proportional, threshold, none"),
    ("mssp", {"track": "three"}, "allowed values: one_sided, two_sided"),
    ("ipep", {"c_share": 2}, "between 0.0 and 1.0"),
    ("bundle", {"windows": 3}, "allowed: window_days, discount"),
])
def test_bad_parameters_name_the_allowed_values(name, params, message):
    with pytest.raises(FundingInputError, match=message.replace("+", r"\+")):
        build_model(name, params)


def test_simulate_reports_the_status_quo_and_conservation():
    pop = capitation_population()
    d = simulate(Scenario(pop, Capitation(), programme_cost=10.0), -0.5).to_dict()
    assert d["baseline"]["payer_cost"] == pytest.approx(1920.0)
    assert d["payer_cost"] == pytest.approx(600 + 420 + 500 + 10)
    assert d["provider_revenue"]["total"] == pytest.approx(d["payer_cost"])
    assert d["provider_revenue"]["by_organisation"]["programme"] == 10.0
    assert d["net_savings"] == pytest.approx(1920 - 1530)
