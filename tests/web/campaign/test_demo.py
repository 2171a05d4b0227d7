"""`manage.py demo_setup` loads the coalition and campaigns of the seed document (000_1415c431b48bb7ca.txt): the
organisations it lists as approached, the 2018 campaign's published results, MIS 2.0 in progress; idempotent."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from tremplin.web.campaign import selectors
from tremplin.web.campaign.models import Action, Campaign, Coalition, CoalitionMember, Goal, Interaction, KpiEntry

pytestmark = pytest.mark.django_db

# The seed's "À ce jour, nous avons approché les organisations suivantes" (Numana and Hospitalis share a line).
SEED_APPROACHED = 16


def _run(*commands) -> None:
    with override_settings(DEBUG=True):
        for command in commands:
            call_command(command, stdout=io.StringIO())


def _counts():
    return {m.__name__: m.objects.count() for m in (Coalition, CoalitionMember, Interaction, Campaign, Goal, Action,
                                                    KpiEntry)}


def test_demo_campaign_content_and_idempotence():
    _run("demo_setup")
    coalition = Coalition.objects.get(name="Mouvement innovation santé")
    assert coalition.lead_organisation.name == "CEPSEM"
    approached = coalition.members.filter(interactions__status_after="approached").distinct()
    assert approached.count() == SEED_APPROACHED
    assert {"Numana", "Hospitalis", "ACCAP", "Medtronic Canada", "Montréal International"} <= set(
        approached.values_list("organisation__name", flat=True))
    previous = Campaign.objects.get(name="Mouvement innovation santé (2018)")
    figures = selectors.campaign_figures(previous)
    assert {m: figures.totals.get(m) for m in ("unique_visits", "complete_views", "unique_reach", "impressions",
                                              "press_interviews", "budget")} == {
        "unique_visits": 2_440, "complete_views": 251_533, "unique_reach": 480_000, "impressions": 1_600_000,
        "press_interviews": 24, "budget": 120_000}
    assert figures.costs["per_reach"] == Decimal("0.25") and previous.currency == "CAD"
    current = Campaign.objects.get(name="Mouvement innovation santé 2.0")
    assert current.previous == previous and current.starts_on <= timezone.localdate() <= current.ends_on
    figures = selectors.campaign_figures(current)
    assert figures.results and figures.goals and figures.totals.budget_source == "kpi"
    assert {g.progress.status for g in figures.goals} <= {"on_track", "behind", "achieved"}
    stages, declined = selectors.coalition_funnel(coalition)
    assert [s.reached for s in stages] == sorted((s.reached for s in stages), reverse=True) and declined >= 1
    before = _counts()
    _run("demo_campaign")
    assert _counts() == before
