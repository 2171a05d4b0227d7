"""The calls widget on the dashboard tells each role what to do next."""

from __future__ import annotations

import pytest

from tremplin.web.calls import services

pytestmark = pytest.mark.django_db


def test_reviewer_sees_pending_reviews(client, scenario):
    scenario.propose("Télésurveillance")
    scenario.propose("Pharmacie clinique")
    services.assignments_auto(call=scenario.call, by=scenario.manager)
    from tremplin.web.calls.models import Assignment

    reviewer = Assignment.objects.filter(proposal__call=scenario.call).first().reviewer
    pending = Assignment.objects.filter(reviewer=reviewer).count()
    client.force_login(reviewer)
    html = client.get("/tableau-de-bord/").content.decode()
    assert 'data-testid="panel-calls"' in html
    assert f"{pending} proposition" in html


def test_innovator_sees_open_calls_and_drafts(client, scenario):
    scenario.propose("Brouillon", submit=False)
    client.force_login(scenario.innovator)
    html = client.get("/tableau-de-bord/").content.decode()
    assert "1 appel ouvert aux propositions" in html
    assert "1 brouillon de proposition" in html


def test_manager_sees_calls_by_phase(client, scenario):
    client.force_login(scenario.manager)
    html = client.get("/tableau-de-bord/").content.decode()
    assert "Ouvert aux propositions 1" in html


def test_outsider_without_role_sees_no_calls_widget(client, make_user):
    client.force_login(make_user(None))
    assert 'data-testid="panel-calls"' not in client.get("/tableau-de-bord/").content.decode()
