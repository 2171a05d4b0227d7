"""Who may do what with signals, reviews and the scoring panel (rules predicates)."""

from __future__ import annotations

import rules

from tremplin.web.accounts.rules import has_role, is_platform_admin, is_programme_manager
from tremplin.web.horizon.models import PanelMember, SignalStatus

is_manager = is_platform_admin | is_programme_manager


@rules.predicate
def is_panel_member(user) -> bool:
    if not user or not user.is_authenticated:
        return False
    cached = getattr(user, "_horizon_panel", None)
    if cached is None:
        cached = PanelMember.objects.filter(user=user).exists()
        user._horizon_panel = cached
    return cached


@rules.predicate
def is_steward(user, signal) -> bool:
    return signal is not None and user.is_authenticated and signal.steward_id == user.pk


@rules.predicate
def signal_is_watching(user, signal) -> bool:
    return signal is not None and signal.status == SignalStatus.WATCHING


@rules.predicate
def may_prepare_calls(user) -> bool:
    """Whoever may create a call for solutions (the calls app's own rule)."""
    return user.has_perm("calls.add_call")


# Horizon scanning is read by those who prepare and decide (programme managers, decision makers, evaluators,
# reviewers) and by the panel; everyone else reads the public listing.
can_view_signals = is_manager | has_role("decision_maker", "evaluator", "reviewer") | is_panel_member

rules.add_perm("horizon.view_signals", can_view_signals)
rules.add_perm("horizon.view_signal", can_view_signals | is_steward)
rules.add_perm("horizon.add_signal", is_manager)
rules.add_perm("horizon.change_signal", is_manager | is_steward)
rules.add_perm("horizon.review_signal", (is_manager | is_steward) & signal_is_watching)
rules.add_perm("horizon.view_score_queue", is_panel_member)
rules.add_perm("horizon.score_signal", is_panel_member & signal_is_watching)
rules.add_perm("horizon.view_panel_scores", is_manager)  # each member's scores and comments, by name
rules.add_perm("horizon.manage_panel", is_manager)
rules.add_perm("horizon.prepare_call", may_prepare_calls & signal_is_watching)
rules.add_perm("horizon.export_signals", can_view_signals)
