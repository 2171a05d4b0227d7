"""KPI ratios, progress to goal, projection and comparison, against values computed by hand from the seed
document's figures (MIS 2018: 2,440 unique visits, 251,533 complete video views, 480,000 unique people,
1,600,000 impressions, 24 press interviews, $120,000) and from the campaign in progress of the fixtures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tremplin.web.campaign import metrics, selectors, services

pytestmark = pytest.mark.django_db

# By hand: 120,000 / 480,000 = 0.25; 120,000 / 251,533 = 0.4770745…; 120,000 / 24 = 5,000;
# 120,000 / 2,440 = 49.1803…; 1,000 × 120,000 / 1,600,000 = 75.
SEED_COSTS = {"per_reach": 0.25, "per_complete_view": 0.4770745786835127, "per_interview": 5000.0,
              "per_visit": 49.18032786885246, "per_thousand_impressions": 75.0}
# The campaign in progress on 1 June 2025: 72,000 spent, 360,000 people, 150,000 views, 18 interviews, 3,000 visits,
# 1,200,000 impressions → 0.20, 0.48, 4,000, 24, 60.
CURRENT_COSTS = {"per_reach": 0.20, "per_complete_view": 0.48, "per_interview": 4000.0, "per_visit": 24.0,
                 "per_thousand_impressions": 60.0}


def test_costs_per_result_of_the_seed_campaign(previous):
    figures = selectors.campaign_figures(previous)
    assert figures.totals.budget == Decimal(120_000) and figures.totals.budget_source == "kpi"
    assert figures.totals.as_of == date(2019, 3, 31)
    assert figures.costs["per_reach"] == Decimal("0.25")  # exact, in Decimal
    assert {k: float(v) for k, v in figures.costs.items()} == pytest.approx(SEED_COSTS, rel=1e-12)


def test_costs_use_the_latest_totals(current):
    figures = selectors.campaign_figures(current)
    assert figures.totals.as_of == date(2025, 6, 1)
    assert figures.totals.get("unique_reach") == Decimal(360_000)
    assert {k: float(v) for k, v in figures.costs.items()} == pytest.approx(CURRENT_COSTS, rel=1e-12)


def test_comparison_with_the_previous_campaign(current):
    figures = selectors.campaign_figures(current)
    results = {c.name: c for c in figures.results}
    costs = {c.name: c for c in figures.cost_comparison}
    # Results: more is better. 3,000 / 2,440 - 1 = +22.95 %; 150,000 / 251,533 - 1 = -40.37 %.
    assert float(results["unique_visits"].change) == pytest.approx(0.22950819672131148)
    assert results["unique_visits"].better is True
    assert float(results["complete_views"].change) == pytest.approx(-0.4036567766456091)
    assert results["complete_views"].better is False
    assert results["budget"].previous == Decimal(120_000) and results["budget"].better is None
    # Costs: lower is better. 0.20 against 0.25 = -20 %; 0.48 against 0.4770… = +0.6132 %.
    assert costs["per_reach"].previous == Decimal("0.25") and float(costs["per_reach"].change) == pytest.approx(-0.2)
    assert costs["per_reach"].better is True
    assert float(costs["per_complete_view"].change) == pytest.approx(0.006132)
    assert costs["per_complete_view"].better is False
    # Halfway through, totals are compared as the share of 2018's final result reached (360,000 / 480,000 = 75 %)
    # and by the projection at the end: 360,000 × 364 / 151 = 867,814.6 against 480,000 (+80.79 %);
    # 150,000 × 364 / 151 = 361,589.4 views against 251,533 (+43.75 %).
    assert results["unique_reach"].share == Decimal("0.75")
    projected = {c.name: c for c in figures.projected}
    assert float(projected["unique_reach"].change) == pytest.approx(0.8079470198675497)
    assert float(projected["complete_views"].change) == pytest.approx(0.4375426046423727)
    assert projected["unique_reach"].better is True and projected["complete_views"].better is True
    assert projected["budget"].better is None


def test_costs_in_different_currencies_are_not_compared(current, previous):
    services.campaign_update(campaign=previous, currency="EUR")
    current.refresh_from_db()
    figures = selectors.campaign_figures(current)
    assert figures.comparable_costs is False
    assert all(c.previous is None and c.better is None for c in figures.cost_comparison)
    results = {c.name: c for c in figures.results}
    assert results["budget"].previous is None  # money is not compared either…
    assert results["unique_reach"].previous == Decimal(480_000)  # …counts are


def test_progress_to_goal_against_the_time_elapsed(current):
    services.goal_add(campaign=current, metric="unique_reach", target=Decimal(600_000), target_date=date(2025, 12, 31))
    services.goal_add(campaign=current, metric="press_interviews", target=Decimal(40), target_date=date(2025, 12, 31))
    services.goal_add(campaign=current, metric="unique_visits", target=Decimal(2_500), target_date=date(2025, 12, 31))
    services.goal_add(campaign=current, metric="complete_views", target=Decimal(200_000), target_date=date(2025, 5, 1))
    # 2 July 2025: 182 of the 364 days from 1 January to 31 December have passed, expected progress 50 %.
    goals = {g.goal.metric: g.progress for g in selectors.campaign_figures(current, today=date(2025, 7, 2)).goals}
    assert goals["unique_reach"].expected == Decimal("0.5")
    assert goals["unique_reach"].fraction == Decimal("0.6") and goals["unique_reach"].status == "on_track"
    assert goals["press_interviews"].fraction == Decimal("0.45") and goals["press_interviews"].status == "behind"
    assert goals["unique_visits"].fraction == Decimal("1.2") and goals["unique_visits"].status == "achieved"
    assert goals["complete_views"].fraction == Decimal("0.75") and goals["complete_views"].status == "missed"
    assert goals["complete_views"].expected == Decimal(1)


def test_linear_projection_at_the_end(current):
    figures = selectors.campaign_figures(current)
    # 360,000 people in the 151 days to 1 June, over 364 days: 360,000 × 364 / 151 = 867,814.57.
    assert float(figures.projections["unique_reach"]) == pytest.approx(867_814.5695364239)
    assert figures.budget_used == Decimal("0.48")  # 72,000 of the 150,000 planned


def test_budget_falls_back_on_the_actions_costs(coalition):
    campaign = services.campaign_create(coalition=coalition, name="Sans budget saisi", starts_on=date(2025, 1, 1))
    services.action_add(campaign=campaign, name="Vidéo", channel="video", starts_on=date(2025, 1, 5),
                        cost=Decimal("1500.50"))
    services.action_add(campaign=campaign, name="Presse", channel="press", starts_on=date(2025, 2, 1),
                        cost=Decimal("499.50"))
    services.kpi_record(campaign=campaign, on=date(2025, 3, 1), values={"unique_reach": Decimal(8_000)})
    figures = selectors.campaign_figures(campaign)
    assert (figures.totals.budget, figures.totals.budget_source) == (Decimal(2_000), "actions")
    assert figures.costs["per_reach"] == Decimal("0.25")
    assert figures.costs["per_interview"] is None  # no interviews: undefined, not zero nor infinite


@pytest.mark.parametrize("numerator,denominator,expected", [
    (Decimal(120_000), Decimal(480_000), Decimal("0.25")), (Decimal(1), Decimal(0), None), (None, Decimal(3), None),
    (Decimal(3), None, None)])
def test_ratio(numerator, denominator, expected):
    assert metrics.ratio(numerator, denominator) == expected


def test_goal_before_the_start_is_refused(current):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="début"):
        services.goal_add(campaign=current, metric="unique_reach", target=Decimal(1), target_date=date(2024, 1, 1))
    assert not current.goals.exists()
