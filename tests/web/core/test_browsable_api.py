"""Issue 12 item 10: the browsable API (?format=api) must not list users' e-mails (or any related objects).

Decision: in production (DEBUG off, hence API_BROWSABLE off) the API renders JSON only, so `?format=api` is a
404; under DEBUG the browsable API stays, as a read-only viewer without its HTML, raw-data and filter forms
(core.api.ContentNegotiation and FormlessBrowsableAPIRenderer). Both configurations are tested here.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from tests.web.conftest import login_mfa_verified

pytestmark = pytest.mark.django_db

MEMBERSHIPS = "/api/v1/memberships/"


@pytest.fixture
def bystanders(make_user):
    return [make_user("network_member", email=f"bystander{i}@example.org") for i in range(3)]


def test_production_settings_serve_json_only(client, make_user):
    assert django_settings.API_BROWSABLE is False  # = DEBUG
    client.force_login(make_user("innovator"))
    assert client.get(MEMBERSHIPS, {"format": "api"}).status_code == 404
    response = client.get(MEMBERSHIPS, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"


@pytest.mark.parametrize("browsable", [False, True])
@pytest.mark.parametrize("persona", ["innovator", "network_member", "admin"])
def test_membership_page_lists_no_other_users_emails(client, make_user, bystanders, settings, browsable, persona):
    """The attack: GET /api/v1/memberships/?format=api as any signed-in user showed every user's e-mail in the
    create form's `user_email` choices."""
    settings.API_BROWSABLE = browsable
    user = make_user(persona)
    login_mfa_verified(client, user)
    response = client.get(MEMBERSHIPS, {"format": "api"}, HTTP_ACCEPT="text/html")
    assert response.status_code == (200 if browsable else 404)
    page = response.content.decode()
    if persona != "admin":  # platform admins see every membership in the list itself, by design
        for bystander in bystanders:
            assert bystander.email not in page
    if browsable:
        assert user.email in page  # their own membership is listed: the page did render the data
        # no create form (its user_email <select> listed every user), no raw-data form, no filter form
        assert "<select" not in page and "<option" not in page and "<textarea" not in page
        assert 'method="POST"' not in page and 'name="_content"' not in page
    for bystander in bystanders:
        assert f'<option value="{bystander.email}"' not in page


def test_options_metadata_lists_no_user_choices(client, make_user, bystanders):
    client.force_login(make_user("innovator"))
    response = client.options(MEMBERSHIPS)
    assert response.status_code == 403  # no "metadata" action in the permission map
    assert not any(b.email in response.content.decode() for b in bystanders)
