"""Who may see and change experiments (rules predicates). See README.md for the table."""

from __future__ import annotations

import rules

from tremplin.web.accounts.rules import has_role, is_platform_admin

is_manager = is_platform_admin | has_role("programme_manager")
is_reader = is_manager | has_role("decision_maker", "evaluator")


def _experiment(obj):
    from tremplin.web.portfolio.models import Experiment

    if isinstance(obj, Experiment):
        return obj
    return getattr(obj, "experiment", None)


@rules.predicate
def is_involved(user, obj) -> bool:
    """Member of the experiment's lead organisation or of a partner."""
    experiment = _experiment(obj)
    if experiment is None or not user.is_authenticated:
        return False
    from tremplin.web.portfolio.selectors import involved_organisation_ids, user_organisation_ids

    return bool(involved_organisation_ids(experiment) & user_organisation_ids(user))


rules.add_perm("portfolio.view_portfolio", rules.is_authenticated)  # public summary of every experiment
rules.add_perm("portfolio.view_portfolio_details", is_reader)  # budgets, alerts, late milestones, export
rules.add_perm("portfolio.view_experiment", is_reader | is_involved)  # full page
rules.add_perm("portfolio.add_experiment", is_manager)
rules.add_perm("portfolio.change_experiment", is_manager)  # edit, gate reviews, plan, deadlines
rules.add_perm("portfolio.manage_gate_criteria", is_manager)
rules.add_perm("portfolio.update_progress", is_manager | is_involved)  # milestones, KPI actuals
rules.add_perm("portfolio.bulk_update", is_manager | has_role("network_member", "innovator"))
