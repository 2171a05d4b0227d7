"""Service-level tests: gate transitions, plan + power alert, lock & amendments, budgets, deadlines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from tests.web.factories import ExperimentFactory, OrganisationFactory, ProposalFactory, TerritoryFactory
from tremplin.engine.power import months_required
from tremplin.web.portfolio import planning, selectors, services
from tremplin.web.portfolio.models import BudgetLine, Experiment, GateReview, PlanAmendment

pytestmark = pytest.mark.django_db


def _review(experiment, decision, **kwargs):
    return services.gate_review_record(experiment=experiment, decision=decision, rationale="Motifs",
                                       deciders="Comité", **kwargs)


# --- stage gates ---------------------------------------------------------------------------------------------


def test_advance_moves_to_next_stage_and_keeps_history(experiment):
    first = _review(experiment, "advance", decided_on=date(2025, 6, 1))
    second = _review(experiment, "advance", decided_on=date(2025, 9, 1))
    experiment.refresh_from_db()
    assert experiment.stage == 3
    assert [(g.stage, g.stage_after, g.decision) for g in selectors.gate_history(experiment=experiment)] == [
        (1, 2, "advance"), (2, 3, "advance")]
    assert first.deciders == "Comité" and second.rationale == "Motifs"


@pytest.mark.parametrize("decision", ["extend", "adapt"])
def test_extend_and_adapt_keep_the_stage(experiment, decision):
    _review(experiment, "advance")
    review = _review(experiment, decision)
    experiment.refresh_from_db()
    assert experiment.stage == 2 and experiment.status == "active"
    assert (review.stage, review.stage_after) == (2, 2)


def test_extend_can_push_the_authorisation_end(experiment):
    _review(experiment, "extend", new_authorisation_end=date(2027, 7, 1))
    experiment.refresh_from_db()
    assert experiment.authorisation_end == date(2027, 7, 1)
    with pytest.raises(ValidationError):
        _review(experiment, "extend", new_authorisation_end=date(2026, 1, 1))


def test_stop_ends_the_experiment_and_refuses_later_decisions(experiment):
    _review(experiment, "stop", decided_on=date(2025, 5, 5))
    experiment.refresh_from_db()
    assert experiment.status == "stopped" and experiment.ended_on == date(2025, 5, 5)
    with pytest.raises(ValidationError, match="arrêtée"):
        _review(experiment, "advance")
    assert GateReview.objects.filter(experiment=experiment).count() == 1


def test_no_advance_beyond_stage_five(experiment):
    for _ in range(4):
        _review(experiment, "advance")
    experiment.refresh_from_db()
    assert experiment.stage == 5
    with pytest.raises(ValidationError):
        _review(experiment, "advance")
    experiment.refresh_from_db()
    assert experiment.stage == 5 and experiment.gate_reviews.count() == 4


def test_gate_review_validates_decision_rationale_and_criteria(experiment):
    services.gate_criteria_replace(stage=1, texts=["Équipes formées", "", "Usagers associés"])
    with pytest.raises(ValidationError):
        _review(experiment, "jump")
    with pytest.raises(ValidationError):
        services.gate_review_record(experiment=experiment, decision="advance", rationale=" ", deciders="X")
    with pytest.raises(ValidationError):
        _review(experiment, "advance", criteria_met=["Critère inventé"])
    experiment.refresh_from_db()
    assert experiment.stage == 1  # nothing applied
    review = _review(experiment, "advance", criteria_met=["Équipes formées"])
    assert review.criteria_met == ["Équipes formées"]


def test_stage_changes_only_through_gate_reviews(experiment):
    with pytest.raises(ValidationError):
        services.experiment_update(experiment=experiment, stage=3)


def test_gate_criteria_templates_are_replaced_per_stage():
    services.gate_criteria_replace(stage=2, texts=["A", "B"])
    services.gate_criteria_replace(stage=2, texts=["C"])
    from tremplin.web.portfolio.models import GateCriterion

    assert list(GateCriterion.objects.filter(stage=2).values_list("text", flat=True)) == ["C"]


# --- evaluation plan, power and alert ------------------------------------------------------------------------

PLAN = {"primary_outcome": "avoidable_hospitalisations", "baseline_mean": 6.0, "baseline_sd": 0.25,
        "autocorrelation": 0.4, "expected_effect": -0.10, "pre_months": 12,
        "expand_criteria": "Généraliser si baisse ≥ 5 %", "stop_criteria": "Arrêter sans baisse"}


def _plan(experiment, territories, n_treated=1, n_comparison=3, **overrides):
    return services.evaluation_plan_register(
        experiment=experiment, treated_territories=territories[:n_treated],
        comparison_territories=territories[n_treated:n_treated + n_comparison], **{**PLAN, **overrides})


def test_plan_stores_exactly_the_engines_months_required(experiment, territories):
    plan = _plan(experiment, territories)
    expected = months_required(n_units=4, n_treated=1, baseline_mean=6.0, sd=0.25, autocorrelation=0.4,
                               effect=-0.10, relative=True, pre_months=12)
    assert plan.months_required == expected.months_required == 30
    assert plan.power_result["mde"] == pytest.approx(expected.mde)


def test_alert_says_by_how_many_months_the_authorisation_is_short(experiment, territories):
    # 2025-01-01 → 2027-01-01: 24 months authorised; the engine asks for 30.
    plan = _plan(experiment, territories)
    experiment = Experiment.objects.select_related("evaluation_plan").get(pk=experiment.pk)
    alert = selectors.evaluation_alert(experiment)
    required = months_required(n_units=4, n_treated=1, baseline_mean=6.0, sd=0.25, autocorrelation=0.4,
                               effect=-0.10, pre_months=12).months_required
    assert alert is not None
    assert alert.months_required == required == plan.months_required
    assert alert.available_months == 24
    assert alert.months_short == required - 24 == 6


def test_no_alert_when_the_authorisation_covers_the_follow_up(experiment, territories):
    plan = _plan(experiment, territories, n_treated=3, n_comparison=5, baseline_sd=0.4)
    required = months_required(n_units=8, n_treated=3, baseline_mean=6.0, sd=0.4, autocorrelation=0.4,
                               effect=-0.10, pre_months=12).months_required
    assert plan.months_required == required == 9
    assert selectors.evaluation_alert(Experiment.objects.get(pk=experiment.pk)) is None
    # Shorten the authorisation below the requirement: the alert appears, with the exact gap.
    services.experiment_update(experiment=experiment, authorisation_end=planning.add_months(
        experiment.start_date, required - 1))
    alert = selectors.evaluation_alert(Experiment.objects.get(pk=experiment.pk))
    assert alert.months_short == 1 and alert.available_months == required - 1


def test_unreachable_evaluation_is_an_alert_without_a_month_count(experiment, territories):
    plan = _plan(experiment, territories, baseline_sd=3.0)
    assert plan.months_required is None
    alert = selectors.evaluation_alert(Experiment.objects.get(pk=experiment.pk))
    assert alert.unreachable and alert.months_short is None and alert.available_months == 24


def test_plan_validation(experiment, territories):
    with pytest.raises(ValidationError) as exc:
        _plan(experiment, territories, primary_outcome="happiness")
    assert "primary_outcome" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.evaluation_plan_register(experiment=experiment, treated_territories=territories[:2],
                                          comparison_territories=territories[1:3], **PLAN)
    assert "comparison_territories" in exc.value.message_dict
    with pytest.raises(ValidationError):
        _plan(experiment, territories, stop_criteria=" ")
    _plan(experiment, territories)
    with pytest.raises(ValidationError):
        _plan(experiment, territories)  # registered once


def test_plan_changes_before_lock_leave_no_amendment(experiment, territories):
    plan = _plan(experiment, territories)
    services.evaluation_plan_update(plan=plan, expected_effect=-0.2)
    plan.refresh_from_db()
    assert plan.expected_effect == -0.2 and not plan.amendments.exists()
    assert plan.months_required == months_required(n_units=4, n_treated=1, baseline_mean=6.0, sd=0.25,
                                                   autocorrelation=0.4, effect=-0.2).months_required


def test_locked_plan_changes_need_a_reason_and_become_amendments(experiment, territories, make_user):
    plan = _plan(experiment, territories)
    services.evaluation_plan_lock(plan=plan)
    locked_at = plan.locked_at
    assert locked_at is not None
    services.evaluation_plan_lock(plan=plan)  # idempotent
    plan.refresh_from_db()
    assert plan.locked_at == locked_at
    with pytest.raises(ValidationError) as exc:
        services.evaluation_plan_update(plan=plan, expected_effect=-0.05)
    assert "reason" in exc.value.message_dict
    plan.refresh_from_db()
    assert plan.expected_effect == -0.10
    user = make_user("programme_manager")
    extra = TerritoryFactory()
    services.evaluation_plan_update(plan=plan, user=user, reason="Un territoire témoin de plus",
                                    expected_effect=-0.05,
                                    comparison_territories=[*territories[1:4], extra])
    amendment = PlanAmendment.objects.get(plan=plan)
    assert amendment.changed_by == user and amendment.reason == "Un territoire témoin de plus"
    assert amendment.changes["expected_effect"] == [-0.10, -0.05]
    assert amendment.changes["comparison_territories"][1] == sorted(
        t.code for t in [*territories[1:4], extra])
    assert set(amendment.changes) == {"expected_effect", "comparison_territories"}
    # No change, no amendment.
    services.evaluation_plan_update(plan=plan, user=user, reason="rien", expected_effect=-0.05)
    assert PlanAmendment.objects.filter(plan=plan).count() == 1


# --- budget --------------------------------------------------------------------------------------------------


def test_budget_totals_per_experiment_overall_and_by_type(experiment):
    other = ExperimentFactory()
    services.budget_line_add(experiment=experiment, label="A", committed=Decimal("1000.50"), spent=200,
                             funding_type="public")
    services.budget_line_add(experiment=experiment, label="B", committed=500, spent=Decimal("499.50"),
                             funding_type="private")
    services.budget_line_add(experiment=other, label="C", committed=300, spent=0, funding_type="mixed")
    totals = selectors.budget_totals()
    assert totals[experiment.pk].committed == Decimal("1500.50")
    assert totals[experiment.pk].spent == Decimal("699.50")
    assert totals[experiment.pk].remaining == Decimal("801.00")
    assert totals[None].committed == Decimal("1800.50") and totals[None].spent == Decimal("699.50")
    by_type = selectors.budget_by_type(experiment_ids=[experiment.pk])
    assert set(by_type) == {"public", "private"} and by_type["private"].spent == Decimal("499.50")
    with pytest.raises(ValidationError):
        services.budget_line_add(experiment=experiment, label="D", committed=-1)
    assert BudgetLine.objects.count() == 3


# --- milestones ----------------------------------------------------------------------------------------------


def test_milestone_states_and_late_list(experiment):
    today = date(2025, 6, 1)
    done = services.milestone_add(experiment=experiment, name="Fait", due_date=date(2025, 3, 1),
                                  done_on=date(2025, 3, 5))
    late = services.milestone_add(experiment=experiment, name="En retard", due_date=date(2025, 5, 1))
    due = services.milestone_add(experiment=experiment, name="À venir", due_date=date(2025, 7, 1))
    assert [m.state_on(today) for m in (done, late, due)] == ["done", "late", "due"]
    assert list(selectors.late_milestones(today=today)) == [late]
    services.milestone_mark_done(milestone=late, done_on=date(2025, 6, 1))
    assert list(selectors.late_milestones(today=today)) == []


# --- deadlines -----------------------------------------------------------------------------------------------


def test_article51_dependent_deadlines(experiment):
    end, report, early, permanent = services.deadlines_article51(experiment=experiment, early_months=12,
                                                                 permanent_within_months=6)
    dates = dict(selectors.resolved_deadlines(experiment=experiment))
    assert dates[end] == date(2027, 1, 1)
    assert dates[report] == date(2026, 10, 1)
    assert dates[early] == date(2028, 1, 1)
    assert dates[permanent] == date(2028, 7, 1)
    # Moving the anchor moves every dependent date.
    services.deadline_update(deadline=end, fixed_date=date(2027, 3, 31))
    dates = dict(selectors.resolved_deadlines(experiment=experiment))
    assert dates[early] == date(2028, 3, 31) and dates[permanent] == date(2028, 9, 30)
    # What is due next: the first one not done.
    assert selectors.next_deadline(experiment=experiment)[0] == report
    services.deadline_mark_done(deadline=report)
    assert selectors.next_deadline(experiment=experiment)[0] == end


def test_deadline_rules_refuse_cycles_and_foreign_anchors(experiment):
    a = services.deadline_add(experiment=experiment, name="A", fixed_date=date(2026, 1, 31))
    b = services.deadline_add(experiment=experiment, name="B", relative_to=a, offset_months=1, offset_days=2)
    assert dict(selectors.resolved_deadlines(experiment=experiment))[b] == date(2026, 3, 2)  # 28 Feb + 2 days
    with pytest.raises(ValidationError):
        services.deadline_update(deadline=a, fixed_date=None, relative_to=b)
    a.refresh_from_db()
    assert a.fixed_date == date(2026, 1, 31)
    other = ExperimentFactory()
    with pytest.raises(ValidationError):
        services.deadline_add(experiment=other, name="C", relative_to=a)
    with pytest.raises(ValidationError):
        services.deadline_add(experiment=experiment, name="D")


def test_resolve_deadlines_pure():
    rules = {1: planning.DeadlineRule(1, fixed_date=date(2024, 1, 31)),
             2: planning.DeadlineRule(2, relative_to=1, offset_months=1),
             3: planning.DeadlineRule(3, relative_to=2, offset_months=-1, offset_days=-1),
             4: planning.DeadlineRule(4, relative_to=99)}
    assert planning.resolve_deadlines(rules) == {1: date(2024, 1, 31), 2: date(2024, 2, 29),
                                                 3: date(2024, 1, 28), 4: None}
    with pytest.raises(planning.DeadlineCycleError):
        planning.resolve_deadlines({1: planning.DeadlineRule(1, relative_to=2),
                                    2: planning.DeadlineRule(2, relative_to=1)})


@pytest.mark.parametrize(("start", "end", "months"), [
    (date(2025, 1, 1), date(2027, 1, 1), 24), (date(2025, 1, 31), date(2025, 2, 28), 1),  # end-of-month clamping
    (date(2025, 1, 15), date(2025, 3, 14), 1), (date(2025, 1, 15), date(2025, 3, 15), 2),
    (date(2025, 5, 1), date(2025, 4, 1), 0)])
def test_months_between(start, end, months):
    assert planning.months_between(start, end) == months


# --- creation from a proposal --------------------------------------------------------------------------------


def test_experiment_from_selected_proposal(make_user):
    from tests.web.factories import make_call
    from tremplin.web.calls import services as calls_services

    call = make_call("results")
    partner = OrganisationFactory()
    proposal = ProposalFactory(call=call, requested_amount=1000)
    proposal.partners.add(partner)
    proposal.budget_lines.create(label="Équipe", amount=Decimal("800"))
    with pytest.raises(ValidationError):
        services.experiment_create_from_proposal(proposal=proposal)  # not selected yet
    calls_services.decision_record(proposal=proposal, outcome="selected", reason="Oui")
    calls_services.decisions_release(call=call)
    proposal.refresh_from_db()
    user = make_user("programme_manager")
    experiment = services.experiment_create_from_proposal(proposal=proposal, user=user)
    assert (experiment.stage, experiment.proposal, experiment.lead_organisation) == (1, proposal,
                                                                                     proposal.organisation)
    assert list(experiment.partners.all()) == [partner]
    assert selectors.budget_totals(experiment_ids=[experiment.pk])[experiment.pk].committed == Decimal("800")
    assert proposal not in selectors.proposals_without_experiment()
    with pytest.raises(ValidationError):
        services.experiment_create_from_proposal(proposal=proposal, user=user)


def test_gate_decisions_and_plan_lock_reach_the_audit_log(experiment, territories):
    from tremplin.web.core.models import AuditLog

    _review(experiment, "advance")
    plan = _plan(experiment, territories)
    services.evaluation_plan_lock(plan=plan)
    stage_change = AuditLog.objects.filter(model__iendswith="experiment", object_pk=str(experiment.pk),
                                           changes__has_key="stage")
    assert stage_change.exists()
    assert AuditLog.objects.filter(model__iendswith="evaluationplan", object_pk=str(plan.pk),
                                   changes__has_key="locked_at").exists()
