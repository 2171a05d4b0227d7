"""Reads of the portfolio: lists for a user, totals, alerts, what is due next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from tremplin.web.accounts.models import Membership
from tremplin.web.portfolio import planning
from tremplin.web.portfolio.models import (
    BudgetLine,
    Deadline,
    Experiment,
    ExperimentStatus,
    GateReview,
    Milestone,
)
from tremplin.web.portfolio.rules import is_reader


def user_organisation_ids(user) -> frozenset[int]:
    """Organisations the user belongs to (cached on the user object)."""
    cache = getattr(user, "_portfolio_org_ids", None)
    if cache is None:
        cache = frozenset(Membership.objects.filter(user=user).values_list("organisation_id", flat=True)) \
            if user.is_authenticated else frozenset()
        user._portfolio_org_ids = cache
    return cache


def involved_organisation_ids(experiment: Experiment) -> frozenset[int]:
    cache = getattr(experiment, "_org_ids", None)
    if cache is None:
        cache = frozenset([experiment.lead_organisation_id, *experiment.partners.values_list("pk", flat=True)])
        experiment._org_ids = cache
    return cache


def experiment_list_for_user(*, user) -> QuerySet[Experiment]:
    """Every experiment (the summary is public to signed-in users); details are filtered in the templates."""
    return Experiment.objects.all()


def involved_experiment_ids(*, user) -> frozenset[int]:
    orgs = user_organisation_ids(user)
    if not orgs:
        return frozenset()
    return frozenset(Experiment.objects.filter(Q(lead_organisation_id__in=orgs) | Q(partners__in=orgs))
                     .values_list("pk", flat=True))


def can_see_details(user) -> bool:
    return bool(is_reader(user))


@dataclass(frozen=True)
class Filters:
    stage: int | None = None
    territory: int | None = None
    sector: str | None = None
    care_domain: str | None = None
    legal_framework: str | None = None
    status: str | None = None
    alerts_only: bool = False


def portfolio_queryset(*, user, filters: Filters) -> QuerySet[Experiment]:
    """Experiments matching the filters, with what the list views display (constant number of queries)."""
    qs = experiment_list_for_user(user=user).select_related("lead_organisation", "evaluation_plan")
    if filters.stage:
        qs = qs.filter(stage=filters.stage)
    if filters.territory:
        qs = qs.filter(Q(territories=filters.territory) | Q(sites__territory=filters.territory))
    if filters.sector:
        qs = qs.filter(Q(lead_organisation__sector=filters.sector) | Q(partners__sector=filters.sector))
    if filters.care_domain:
        qs = qs.filter(care_domain=filters.care_domain)
    if filters.legal_framework:
        qs = qs.filter(legal_framework=filters.legal_framework)
    if filters.status:
        qs = qs.filter(status=filters.status)
    ids = qs.values("pk").distinct()
    return (Experiment.objects.filter(pk__in=ids).select_related("lead_organisation", "evaluation_plan")
            .prefetch_related("territories", "partners").order_by("stage", "title"))


def late_counts(*, experiment_ids, today: date | None = None) -> dict[int, int]:
    today = today or timezone.localdate()
    return dict(Milestone.objects.filter(experiment_id__in=experiment_ids, done_on__isnull=True, due_date__lt=today)
                .values("experiment_id").annotate(n=Count("id")).values_list("experiment_id", "n"))


@dataclass(frozen=True)
class Budget:
    committed: Decimal
    spent: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.committed - self.spent

    @property
    def spent_ratio(self) -> float | None:
        return float(self.spent / self.committed) if self.committed else None


def budget_totals(*, experiment_ids=None) -> dict[int | None, Budget]:
    """Committed and spent per experiment and overall (key None), by funding type too: see `budget_by_type`."""
    qs = BudgetLine.objects.all()
    if experiment_ids is not None:
        qs = qs.filter(experiment_id__in=experiment_ids)
    rows = qs.values("experiment_id").annotate(c=Sum("committed"), s=Sum("spent"))
    totals = {r["experiment_id"]: Budget(r["c"] or Decimal(0), r["s"] or Decimal(0)) for r in rows}
    totals[None] = Budget(sum((b.committed for b in totals.values()), Decimal(0)),
                          sum((b.spent for b in totals.values()), Decimal(0)))
    return totals


def budget_by_type(*, experiment_ids=None) -> dict[str, Budget]:
    qs = BudgetLine.objects.all()
    if experiment_ids is not None:
        qs = qs.filter(experiment_id__in=experiment_ids)
    return {r["funding_type"]: Budget(r["c"] or Decimal(0), r["s"] or Decimal(0))
            for r in qs.values("funding_type").annotate(c=Sum("committed"), s=Sum("spent")).order_by("funding_type")}


def late_milestones(*, experiment_ids=None, today: date | None = None) -> QuerySet[Milestone]:
    today = today or timezone.localdate()
    qs = Milestone.objects.filter(done_on__isnull=True, due_date__lt=today).select_related("experiment")
    if experiment_ids is not None:
        qs = qs.filter(experiment_id__in=experiment_ids)
    return qs.order_by("due_date")


def evaluation_alert(experiment: Experiment) -> planning.EvaluationAlert | None:
    """The authorisation alert of an experiment (uses the plan's stored `months_required`)."""
    plan = plan_of(experiment)
    if plan is None or experiment.status == ExperimentStatus.STOPPED:
        return None
    return planning.evaluation_alert(start=experiment.start_date, authorisation_end=experiment.authorisation_end,
                                     required=plan.months_required, computed=bool(plan.power_result))


def plan_of(experiment: Experiment):
    """The experiment's evaluation plan, or None (no query when `evaluation_plan` was select_related)."""
    try:
        return experiment.evaluation_plan
    except Experiment.evaluation_plan.RelatedObjectDoesNotExist:
        return None


def resolved_deadlines(*, experiment: Experiment) -> list[tuple[Deadline, date | None]]:
    deadlines = list(experiment.deadlines.all())
    dates = planning.resolve_deadlines({d.pk: planning.DeadlineRule(d.pk, d.fixed_date, d.relative_to_id,
                                                                    d.offset_months, d.offset_days)
                                        for d in deadlines})
    return sorted(((d, dates[d.pk]) for d in deadlines), key=lambda item: (item[1] is None, item[1] or date.min))


def next_deadline(*, experiment: Experiment, today: date | None = None) -> tuple[Deadline, date] | None:
    """The first deadline not done yet, on or after today (or overdue)."""
    today = today or timezone.localdate()
    pending = [(d, on) for d, on in resolved_deadlines(experiment=experiment) if on is not None and d.done_on is None]
    return pending[0] if pending else None


def gate_history(*, experiment: Experiment) -> QuerySet[GateReview]:
    return experiment.gate_reviews.select_related("recorded_by").order_by("decided_on", "pk")


def experiment_detail_queryset() -> QuerySet[Experiment]:
    return Experiment.objects.select_related("lead_organisation", "proposal", "proposal__call").prefetch_related(
        "partners", "territories", Prefetch("sites"), "budget_lines", "milestones", "kpis__values")


def proposals_without_experiment():
    """Selected proposals (released) not yet turned into an experiment: the managers' candidates."""
    from tremplin.web.calls.selectors import selected_for_portfolio

    return selected_for_portfolio().filter(experiment__isnull=True).order_by("call_id", "pk")
