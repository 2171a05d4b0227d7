"""List pages and API lists run a number of queries that does not grow with the number of rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.web.conftest import api_token_for, bearer, login_mfa_verified
from tests.web.factories import MembershipFactory, OrganisationFactory, TerritoryFactory
from tremplin.web.accounts.models import Organisation

pytestmark = pytest.mark.django_db

SMALL, LARGE = 3, 50


def _orgs(n: int, user=None) -> None:
    for _ in range(n):
        organisation = OrganisationFactory(territory=TerritoryFactory(parent=None))
        MembershipFactory(organisation=organisation)
        if user is not None:
            MembershipFactory(organisation=organisation, user=user, role="network_member")


def _count(client, url, **extra) -> int:
    client.get(url, **extra)  # warm-up: session, content types, caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **extra)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def _assert_flat(client, url, grow, django_assert_max_num_queries, **extra):
    """Measure with few rows, add many rows, and require no more queries."""
    small = _count(client, url, **extra)
    grow()
    client.get(url, **extra)
    with django_assert_max_num_queries(small):
        response = client.get(url, **extra)
    assert response.status_code == 200
    return response


def test_organisation_list(client, make_user, django_assert_max_num_queries):
    client.force_login(make_user("innovator"))
    _orgs(SMALL)
    response = _assert_flat(client, "/organisations/", lambda: _orgs(LARGE), django_assert_max_num_queries)
    assert len(response.context["page"]) == min(50, Organisation.objects.count())


def test_territory_list(client, make_user, django_assert_max_num_queries):
    client.force_login(make_user("innovator"))

    def grow():
        parent = TerritoryFactory(level="region", parent=None)
        for _ in range(LARGE):
            OrganisationFactory(territory=TerritoryFactory(parent=parent))

    response = _assert_flat(client, "/territoires/", grow, django_assert_max_num_queries)
    assert len(response.context["rows"]) >= LARGE


def test_audit_log_page(client, make_user, django_assert_max_num_queries):
    login_mfa_verified(client, make_user("admin"))
    response = _assert_flat(client, "/audit/", lambda: _orgs(LARGE), django_assert_max_num_queries)
    assert len(response.context["page"]) == 50


def test_dashboard_for_admin_and_member(client, make_user, django_assert_max_num_queries):
    admin = make_user("admin")
    _orgs(1, user=admin)  # roles fixed before measuring: only the number of rows grows
    login_mfa_verified(client, admin)
    _assert_flat(client, "/tableau-de-bord/", lambda: _orgs(LARGE, user=admin), django_assert_max_num_queries)
    # The member has a role from the start: more memberships must not mean more queries.
    member = make_user("network_member")
    client.force_login(member)
    _assert_flat(client, "/tableau-de-bord/", lambda: _orgs(20, user=member), django_assert_max_num_queries)


@pytest.mark.parametrize("url", ["/api/v1/organisations/", "/api/v1/memberships/", "/api/v1/territories/"])
@pytest.mark.parametrize("role", ["admin", "network_member"])
def test_api_lists(client, make_user, django_assert_max_num_queries, url, role):
    user = make_user(role)
    auth = bearer(api_token_for(user))
    _orgs(SMALL, user=user)
    response = _assert_flat(client, url, lambda: _orgs(LARGE, user=user), django_assert_max_num_queries, **auth)
    assert response.json()["count"] > LARGE
