"""Dashboard widget: experiments per stage; alerts and late milestones for those who see details."""

from __future__ import annotations

from django.db.models import Count

from tremplin.web.portfolio import selectors
from tremplin.web.portfolio.models import Experiment, Stage


def portfolio_dashboard_context(request) -> dict | None:
    user = request.user
    if not user.has_perm("portfolio.view_portfolio"):
        return None
    counts = dict(Experiment.objects.values_list("stage").annotate(n=Count("id")).values_list("stage", "n"))
    if not counts:
        return None
    context: dict = {"by_stage": [(label, counts.get(value, 0)) for value, label in Stage.choices], "alerts": None}
    if user.has_perm("portfolio.view_portfolio_details"):
        experiments = list(Experiment.objects.select_related("evaluation_plan"))
        context["alerts"] = sum(1 for e in experiments if selectors.evaluation_alert(e) is not None)
        context["late"] = selectors.late_milestones().count()
    return context
