"""Dashboard widget of horizon scanning: signals per horizon, reviews due, signals left to score."""

from __future__ import annotations

from django.db.models import Count

from tremplin.web.horizon import selectors
from tremplin.web.horizon.models import Horizon, PanelMember, Signal, SignalScore, SignalStatus


def horizon_dashboard_context(request) -> dict | None:
    user = request.user
    if not user.has_perm("horizon.view_signals"):
        return None
    watching = Signal.objects.filter(status=SignalStatus.WATCHING)
    counts = dict(watching.values_list("horizon").annotate(n=Count("id")).values_list("horizon", "n"))
    if not counts:
        return None
    context: dict = {"by_horizon": [(label, counts.get(value, 0)) for value, label in Horizon.choices]}
    if user.has_perm("horizon.add_signal"):
        due = selectors.signals_due_for_review()
        context["due"] = len(due)
        context["my_due"] = sum(1 for s, _d in due if s.steward_id == user.pk)
    if PanelMember.objects.filter(user=user).exists():
        scored = SignalScore.objects.filter(scorer=user, signal__status=SignalStatus.WATCHING).count()
        context["to_score"] = watching.count() - scored
    return context
