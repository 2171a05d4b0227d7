"""API: proposals created and edited through the same services and permissions as the pages."""

from __future__ import annotations

import pytest

from tests.web.calls.conftest import set_phase
from tremplin.web.calls.models import Proposal

pytestmark = pytest.mark.django_db


def _payload(scenario, **extra):
    return {"call": scenario.call.pk, "organisation": scenario.applicant.pk, "title": "Par l'API", "summary": "s",
            "description": "d", "evidence_level": "pilot", "partners": [scenario.partner.pk],
            "budget_lines": [{"label": "Poste", "amount": "1000.00"}], **extra}


def test_innovator_creates_and_edits_a_draft(client, scenario):
    client.force_login(scenario.innovator)
    response = client.post("/api/v1/proposals/", _payload(scenario), content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "draft" and data["requested_amount"] == "1000.00"
    assert data["organisation"]["name"] == scenario.applicant.name
    response = client.patch(f"/api/v1/proposals/{data['id']}/", {"title": "Nouveau"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["title"] == "Nouveau"
    assert Proposal.objects.get(pk=data["id"]).partners.get() == scenario.partner


def test_api_enforces_budget_phase_and_permissions(client, scenario, make_user):
    client.force_login(scenario.innovator)
    too_much = _payload(scenario, budget_lines=[{"label": "Poste", "amount": "999999"}])
    response = client.post("/api/v1/proposals/", too_much, content_type="application/json")
    assert response.status_code == 400 and "budget" in response.json()
    proposal = scenario.propose(submit=False)
    client.force_login(make_user("innovator"))  # another organisation
    assert client.patch(f"/api/v1/proposals/{proposal.pk}/", {"title": "x"},
                        content_type="application/json").status_code == 404
    response = client.post("/api/v1/proposals/", _payload(scenario), content_type="application/json")
    assert response.status_code == 400  # not an innovator of that organisation
    client.force_login(scenario.reviewers[0])
    assert client.post("/api/v1/proposals/", _payload(scenario), content_type="application/json").status_code == 403
    set_phase(scenario.call, "review")
    client.force_login(scenario.innovator)
    assert client.post("/api/v1/proposals/", _payload(scenario), content_type="application/json").status_code == 403
    response = client.patch(f"/api/v1/proposals/{proposal.pk}/", {"title": "Trop tard"},
                            content_type="application/json")
    assert response.status_code == 400
    assert Proposal.objects.get(pk=proposal.pk).title != "Trop tard"


def test_draft_calls_are_hidden_from_the_api(client, scenario, make_user):
    set_phase(scenario.call, "draft")
    client.force_login(make_user("innovator"))
    assert client.get("/api/v1/calls/").json()["count"] == 0
    assert client.get(f"/api/v1/calls/{scenario.call.pk}/").status_code == 404
    client.force_login(scenario.manager)
    assert client.get(f"/api/v1/calls/{scenario.call.pk}/").json()["phase"] == "draft"
