"""Invariants on random populations (hypothesis): conservation, the two forms of every model agreeing, monotonicity
in the effect, caps never exceeded."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tremplin.funding import MarginSharing, Scenario, build_model, simulate

from .builders import random_populations

CONFIGS = [
    ("ffs", {}), ("capitation", {}), ("capitation", {"scope": "65+", "cap": 0.05}), ("ipep", {}),
    ("ipep", {"level": "patient", "gating": "threshold"}), ("mssp", {}), ("mssp", {"track": "two_sided"}),
    ("mssp", {"aco": "all", "track": "two_sided", "minimum_savings_rate": 0.0}), ("bundle", {"min_baseline_episodes": 1}),
    ("bundle", {"min_baseline_episodes": 1, "stop_loss": 0.02, "stop_gain": 0.02, "quality": 0.3}),
    ("personal_budget", {}), ("personal_budget", {"pooling": "patient", "eligibility": "all"}),
]
EFFECTS = np.array([-1.0, -0.7, -0.31, -0.12, -0.05, 0.0, 0.02, 0.4, 1.3])
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _scale(pop) -> float:
    return max(1.0, float(pop.line_amount.sum()))


@SETTINGS
@given(pop=random_populations(), config=st.sampled_from(CONFIGS))
def test_direct_formulas_pieces_and_compiled_total_agree(pop, config):
    plan = build_model(*config).plan(pop)
    direct = plan.payments(EFFECTS)
    terms = plan.terms()
    tol = 1e-9 * _scale(pop)
    np.testing.assert_allclose(terms.evaluate(EFFECTS), direct, atol=tol, rtol=0)
    np.testing.assert_allclose(terms.compile()(EFFECTS), direct.sum(axis=0), atol=tol, rtol=0)


@SETTINGS
@given(pop=random_populations(), config=st.sampled_from(CONFIGS), effect=st.floats(-1, 1),
       cost=st.sampled_from([0.0, 1234.5]), shared=st.booleans())
def test_the_payer_pays_what_the_providers_receive(pop, config, effect, cost, shared):
    sharing = MarginSharing(rule="patients") if shared else None
    if sharing is not None:
        try:
            sharing.shares(pop)
        except ValueError:  # nobody cared for in the performance year: no keys to share by
            return
    d = simulate(Scenario(pop, build_model(*config), sharing, cost), effect).to_dict()
    rev = d["provider_revenue"]
    tol = 1e-9 * _scale(pop)
    assert abs(d["payer_cost"] - rev["total"]) <= tol
    assert abs(sum(rev["by_sector"].values()) - rev["total"]) <= tol
    assert abs(sum(rev["by_organisation"].values()) - rev["total"]) <= tol
    assert abs(d["net_savings"] - (d["baseline"]["payer_cost"] - d["payer_cost"])) <= tol


@SETTINGS
@given(pop=random_populations(), config=st.sampled_from([c for c in CONFIGS if c[0] in (
    "ffs", "capitation", "ipep", "personal_budget")]))
def test_payer_cost_never_falls_when_the_effect_is_weaker(pop, config):
    # every share of savings is at most 1: a weaker effect (larger E) never costs the payer less
    cost = build_model(*config).plan(pop).payments(EFFECTS).sum(axis=0)
    assert (np.diff(cost) >= -1e-9 * _scale(pop)).all()


@SETTINGS
@given(pop=random_populations(), config=st.sampled_from([c for c in CONFIGS if c[0] in ("ipep", "mssp")]))
def test_a_stronger_effect_never_earns_a_smaller_incentive(pop, config):
    plan = build_model(*config).plan(pop)
    a0, a1 = plan.internals["ffs"]
    incentive = plan.payments(EFFECTS) - (a0[:, None] + a1[:, None] * EFFECTS[None, :])
    assert (np.diff(incentive, axis=1) <= 1e-9 * _scale(pop)).all()


@SETTINGS
@given(pop=random_populations(with_episodes=True))
def test_bundle_reconciliation_never_falls_with_a_stronger_effect_when_no_anchor_is_affected(pop):
    if pop.episodes is None:
        return
    episodes = dataclasses.replace(pop.episodes, anchor_affected=np.zeros(len(pop.episodes), bool))
    pop = dataclasses.replace(pop, episodes=episodes, _cache={})
    plan = build_model("bundle", {"min_baseline_episodes": 1}).plan(pop)
    a0, a1 = plan.internals["ffs"]
    rec = plan.payments(EFFECTS) - (a0[:, None] + a1[:, None] * EFFECTS[None, :])
    assert (np.diff(rec, axis=1) <= 1e-9 * _scale(pop)).all()


@SETTINGS
@given(pop=random_populations(), cap=st.sampled_from([0.0, 0.05, 0.2]), bonus=st.floats(0, 0.5))
def test_capitation_never_exceeds_its_cap(pop, cap, bonus):
    plan = build_model("capitation", {"cap": cap, "quality_bonus": bonus}).plan(pop)
    i = plan.internals
    assert (i["capitation"] <= i["limit"] * (1 + 1e-12)).all()
    assert (i["capitation"] <= i["gross"] * (1 + 1e-12)).all()


@SETTINGS
@given(pop=random_populations(), track=st.sampled_from(["one_sided", "two_sided"]),
       limit=st.floats(0, 0.3), loss_limit=st.floats(0, 0.3))
def test_mssp_shared_savings_and_losses_stay_within_their_caps(pop, track, limit, loss_limit):
    model = build_model("mssp", {"track": track, "performance_payment_limit": limit, "loss_limit": loss_limit,
                                 "minimum_savings_rate": 0.0})
    plan = model.plan(pop)
    a0, a1 = plan.internals["ffs"]
    bench = np.where(plan.internals["active"], plan.internals["benchmark"], 0.0)
    effects = np.linspace(-1, 3, 41)
    incentive = plan.payments(effects) - (a0[:, None] + a1[:, None] * effects[None, :])
    tol = 1e-9 * _scale(pop)
    assert (incentive <= limit * bench[:, None] + tol).all()
    assert (incentive >= -loss_limit * bench[:, None] - tol).all()
    if track == "one_sided":
        assert (incentive >= -tol).all()


@SETTINGS
@given(pop=random_populations(with_episodes=True), stop=st.floats(0, 0.4))
def test_bundle_reconciliation_stays_within_stop_loss_and_stop_gain(pop, stop):
    plan = build_model("bundle", {"min_baseline_episodes": 1, "stop_loss": stop, "stop_gain": stop}).plan(pop)
    a0, a1 = plan.internals["ffs"]
    t0, t1 = plan.internals["target"]
    effects = np.linspace(-1, 2, 31)
    rec = plan.payments(effects) - (a0[:, None] + a1[:, None] * effects[None, :])
    target = t0[:, None] + t1[:, None] * effects[None, :]
    assert (np.abs(rec) <= stop * target + 1e-9 * _scale(pop)).all()


@SETTINGS
@given(pop=random_populations())
def test_patient_level_floors_never_pay_less_than_group_level(pop):
    group = build_model("ipep", {"level": "group", "quality": 1.0}).plan(pop).payments(EFFECTS)
    patient = build_model("ipep", {"level": "patient", "quality": 1.0}).plan(pop).payments(EFFECTS)
    assert (patient >= group - 1e-9 * _scale(pop)).all()
