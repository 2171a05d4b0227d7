"""Reads for coalitions and campaigns: lists, a campaign's figures (totals, costs, goals, comparison), the
coalition's funnel."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from tremplin.web.campaign import metrics
from tremplin.web.campaign.models import (
    FUNNEL,
    Action,
    Campaign,
    Coalition,
    CoalitionMember,
    Goal,
    Interaction,
    KpiEntry,
    MemberStatus,
    Metric,
)


def campaign_list_for_user(*, user) -> QuerySet[Campaign]:
    if not user.has_perm("campaign.view_campaigns"):
        return Campaign.objects.none()
    return Campaign.objects.select_related("coalition", "previous")


def coalition_list_for_user(*, user) -> QuerySet[Coalition]:
    if not user.has_perm("campaign.view_coalition"):
        return Coalition.objects.none()
    return Coalition.objects.select_related("lead_organisation").annotate(n_members=Count("members"))


def coalitions_run_by(*, user) -> QuerySet[Coalition]:
    """The coalitions whose campaigns this user may create and change."""
    from tremplin.web.campaign.rules import managed_organisation_ids

    if user.is_superuser:
        return Coalition.objects.all()
    return Coalition.objects.filter(lead_organisation_id__in=managed_organisation_ids(user))


def entries(campaign: Campaign) -> list[tuple[str, date, Decimal]]:
    return list(campaign.kpi_entries.values_list("metric", "on", "value"))


@dataclass(frozen=True)
class GoalRow:
    goal: Goal
    progress: metrics.GoalProgress


@dataclass(frozen=True)
class CampaignFigures:
    """Everything the campaign's page, its API and its dashboard widget show, computed once."""

    campaign: Campaign
    totals: metrics.Totals
    costs: dict[str, Decimal | None]
    goals: list[GoalRow]
    previous: Campaign | None
    previous_totals: metrics.Totals | None
    results: list[metrics.Comparison]  # totals to date vs the previous campaign's (empty without one)
    projected: list[metrics.Comparison]  # projections at the end vs the previous campaign's final results
    cost_comparison: list[metrics.Comparison]
    comparable_costs: bool
    projections: dict[str, Decimal | None]
    budget_used: Decimal | None  # budget spent / planned budget
    series: dict[str, list[tuple[date, Decimal]]]


def _series(kpis) -> dict[str, list[tuple[date, Decimal]]]:
    series: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for metric, on, value in sorted(kpis, key=lambda e: (e[0], e[1])):
        series[metric].append((on, value))
    return dict(series)


def campaigns_figures(campaigns, *, today: date | None = None) -> dict[int, CampaignFigures]:
    """The figures of several campaigns (and of the campaigns they are compared with) in three queries, whatever
    their number: KPI values, actions' costs, goals. Select `previous` with the campaigns to name it."""
    today = today or timezone.localdate()
    campaigns = list(campaigns)
    shown = [c.pk for c in campaigns]
    ids = set(shown) | {c.previous_id for c in campaigns if c.previous_id}
    kpis: dict[int, list] = defaultdict(list)
    for campaign_id, metric, on, value in KpiEntry.objects.filter(campaign_id__in=ids).values_list(
            "campaign_id", "metric", "on", "value"):
        kpis[campaign_id].append((metric, on, value))
    costs: dict[int, list] = defaultdict(list)
    for campaign_id, cost in Action.objects.filter(campaign_id__in=ids).values_list("campaign_id", "cost"):
        costs[campaign_id].append(cost)
    goals: dict[int, list[Goal]] = defaultdict(list)
    for goal in Goal.objects.filter(campaign_id__in=shown).order_by("target_date", "metric", "pk"):
        goals[goal.campaign_id].append(goal)

    def totals_of(pk: int) -> metrics.Totals:
        return metrics.totals(kpis[pk], metrics=Metric.values, action_costs=costs[pk])

    result = {}
    for campaign in campaigns:
        totals = totals_of(campaign.pk)
        rows = [GoalRow(g, metrics.goal_progress(current=totals.get(g.metric), target=g.target,
                                                 starts_on=campaign.starts_on, target_date=g.target_date,
                                                 today=today))
                for g in goals[campaign.pk]]
        previous = campaign.previous if campaign.previous_id else None
        projections = {m: metrics.projection(totals.get(m), starts_on=campaign.starts_on,
                                             ends_on=campaign.ends_on, as_of=totals.as_of) for m in Metric.values}
        previous_totals, results, projected, cost_comparison, comparable = None, [], [], [], True
        if previous is not None:
            previous_totals = totals_of(previous.pk)
            comparable = previous.currency == campaign.currency
            results, cost_comparison = metrics.comparison(totals, previous_totals, metrics=Metric.values,
                                                          comparable_costs=comparable)
            projected = metrics.projected_comparison(projections, previous_totals, metrics=Metric.values,
                                                     comparable_costs=comparable)
        result[campaign.pk] = CampaignFigures(
            campaign=campaign, totals=totals, costs=metrics.cost_ratios(totals), goals=rows, previous=previous,
            previous_totals=previous_totals, results=results, projected=projected, cost_comparison=cost_comparison,
            comparable_costs=comparable, projections=projections,
            budget_used=metrics.ratio(totals.budget, campaign.planned_budget), series=_series(kpis[campaign.pk]))
    return result


def campaign_figures(campaign: Campaign, *, today: date | None = None) -> CampaignFigures:
    return campaigns_figures([campaign], today=today)[campaign.pk]


def previous_series(campaign: Campaign) -> dict[str, list[tuple[date, Decimal]]]:
    return _series(entries(campaign)) if campaign is not None else {}


def kpi_table(campaign: Campaign) -> list[tuple[date, dict[str, Decimal]]]:
    """The KPI entries as a table: one row per date, one column per metric (also the export's rows)."""
    rows: dict[date, dict[str, Decimal]] = defaultdict(dict)
    for metric, on, value in entries(campaign):
        rows[on][metric] = value
    return sorted(rows.items())


# --- the coalition -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStage:
    status: str
    reached: int  # organisations that reached this stage at some point (the history says)
    current: int  # organisations at this stage now


def coalition_funnel(coalition: Coalition) -> tuple[list[FunnelStage], int]:
    """The funnel approached → engaged → member (how many reached each stage, from the history of status
    changes; an organisation that declined after engaging still counts as having engaged) and how many declined."""
    rank = {status: i for i, status in enumerate(FUNNEL)}
    members = dict(coalition.members.values_list("pk", "status"))
    best: dict[int, int] = {pk: rank.get(status, 0) for pk, status in members.items()}
    history = Interaction.objects.filter(member__coalition=coalition).exclude(status_after="")
    for member_id, status in history.values_list("member_id", "status_after"):
        if status in rank:
            best[member_id] = max(best.get(member_id, 0), rank[status])
    current = defaultdict(int)
    for status in members.values():
        current[status] += 1
    stages = [FunnelStage(status, sum(1 for r in best.values() if r >= i), current.get(status, 0))
              for i, status in enumerate(FUNNEL)]
    return stages, current.get(MemberStatus.DECLINED, 0)


def coalition_members(coalition: Coalition) -> QuerySet[CoalitionMember]:
    return (coalition.members.select_related("organisation")
            .annotate(last_interaction=Max("interactions__on"), n_interactions=Count("interactions"))
            .order_by("organisation__name"))
