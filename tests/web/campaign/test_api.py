"""The campaign API: totals, costs per result, goals and the comparison as exact decimals; KPI values pushed by the
runner with the import's checks (a refusal names the field); filters validated; the list's query count bounded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.test.utils import CaptureQueriesContext

from tests.web.campaign.conftest import make_campaign
from tests.web.conftest import api_token_for, bearer
from tremplin.web.campaign import services
from tremplin.web.campaign.models import KpiEntry

pytestmark = pytest.mark.django_db


def test_campaign_figures_in_the_api(client, current, personas):
    client.force_login(personas.decider)
    data = client.get(f"/api/v1/campaigns/{current.pk}/").json()
    assert data["totals"]["unique_reach"] == "360000.000000" and data["totals"]["as_of"] == "2025-06-01"
    assert Decimal(data["costs"]["per_reach"]) == Decimal("0.2")
    comparison = data["comparison"]
    assert comparison["previous"]["name"] == "MIS 2018" and comparison["comparable_costs"] is True
    costs = {c["name"]: c for c in comparison["costs"]}
    assert Decimal(costs["per_reach"]["previous"]) == Decimal("0.25") and costs["per_reach"]["better"] is True
    assert Decimal(costs["per_thousand_impressions"]["previous"]) == Decimal(75)
    previous = client.get(f"/api/v1/campaigns/{current.previous_id}/").json()
    assert previous["comparison"] is None and Decimal(previous["costs"]["per_interview"]) == Decimal(5000)


def test_the_runner_pushes_a_value_and_a_decrease_is_refused(client, current, personas):
    headers = bearer(api_token_for(personas.runner))
    response = client.post("/api/v1/campaign-kpis/", {"campaign": current.pk, "metric": "unique_reach",
                                                      "on": "2025-07-01", "value": "420000"},
                           content_type="application/json", **headers)
    assert response.status_code == 201, response.content
    assert response.json()["source"] == "api"
    assert KpiEntry.objects.get(campaign=current, metric="unique_reach", on=date(2025, 7, 1)).value == 420_000
    response = client.post("/api/v1/campaign-kpis/", {"campaign": current.pk, "metric": "unique_reach",
                                                      "on": "2025-08-01", "value": "1"},
                           content_type="application/json", **headers)
    assert response.status_code == 400 and "unique_reach" in response.json()
    assert not KpiEntry.objects.filter(on=date(2025, 8, 1)).exists()


def test_only_the_runner_pushes_values(client, current, personas):
    for user in (personas.other_manager, personas.decider):
        response = client.post("/api/v1/campaign-kpis/", {"campaign": current.pk, "metric": "unique_reach",
                                                          "on": "2025-07-01", "value": "420000"},
                               content_type="application/json", **bearer(api_token_for(user)))
        assert response.status_code == 403, user
    assert not KpiEntry.objects.filter(on=date(2025, 7, 1)).exists()


def test_the_campaign_filter_is_validated(client, current, previous, personas):
    client.force_login(personas.decider)
    values = client.get("/api/v1/campaign-kpis/", {"campaign": previous.pk}).json()["results"]
    assert {v["campaign"] for v in values} == {previous.pk} and len(values) == 6
    response = client.get("/api/v1/campaign-kpis/", {"campaign": "99999999999999999999999"})
    assert response.status_code == 400 and "campaign" in response.json()


def test_readers_only(client, current, personas):
    client.force_login(personas.reviewer)
    assert client.get("/api/v1/campaigns/").status_code == 403
    client.force_login(personas.decider)
    data = client.get("/api/v1/coalitions/").json()
    assert data["results"][0]["name"] == "Mouvement (test)"
    assert "contact_name" not in str(data)  # no personal data


def test_the_campaign_list_query_count_does_not_grow(client, coalition, previous, personas,
                                                     django_assert_max_num_queries):
    from django.db import connection

    client.force_login(personas.decider)
    client.get("/api/v1/campaigns/")
    with CaptureQueriesContext(connection) as ctx:
        client.get("/api/v1/campaigns/")
    for i in range(6):
        campaign = make_campaign(coalition, f"Campagne {i}", starts_on=date(2025, 1, 1 + i), previous=previous)
        services.goal_add(campaign=campaign, metric="unique_reach", target=Decimal(10), target_date=date(2025, 9, 1))
    with django_assert_max_num_queries(len(ctx.captured_queries)):
        assert client.get("/api/v1/campaigns/").json()["count"] == 7
