"""REST API for organisations, territories and memberships: same object-level rules as the pages."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.web.conftest import api_token_for
from tests.web.factories import MembershipFactory, OrganisationFactory, TerritoryFactory, UserFactory
from tremplin.web.accounts.models import Membership, Organisation, Territory
from tremplin.web.core.models import AuditAction, AuditLog

pytestmark = pytest.mark.django_db

ORGS = "/api/v1/organisations/"
TERRITORIES = "/api/v1/territories/"
MEMBERSHIPS = "/api/v1/memberships/"


def api_as(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_for(user)}")
    return client


@pytest.mark.parametrize("url", [ORGS, TERRITORIES, MEMBERSHIPS, "/api/v1/"])
def test_anonymous_is_refused(url):
    response = APIClient().get(url)
    assert response.status_code == 403
    assert "results" not in response.json()


def test_token_authentication(personas):
    response = api_as(personas.member).get(ORGS)
    assert response.status_code == 200
    assert personas.organisation.name in [o["name"] for o in response.json()["results"]]
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer tpl_" + "0" * 43)
    assert bad.get(ORGS).status_code == 401


def test_session_authentication_needs_csrf_for_writes(personas):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(personas.owner)
    assert client.get(ORGS).status_code == 200
    response = client.patch(f"{ORGS}{personas.organisation.pk}/", {"name": "CSRF"}, format="json")
    assert response.status_code == 403
    personas.organisation.refresh_from_db()
    assert personas.organisation.name == "CPTS des Pentes"


# --- organisations ---

@pytest.mark.parametrize("persona", ["owner", "member", "outsider", "admin"])
def test_organisation_list_and_retrieve_for_every_signed_in_persona(personas, persona):
    client = api_as(getattr(personas, persona))
    body = client.get(ORGS, {"page_size": 100}).json()
    assert body["count"] == Organisation.objects.count()
    detail = client.get(f"{ORGS}{personas.organisation.pk}/").json()
    assert detail["name"] == "CPTS des Pentes"
    assert set(detail) == {"id", "name", "sector", "kind", "territory_code", "website"}


@pytest.mark.parametrize(("persona", "status"), [("admin", 201), ("outsider", 201), ("owner", 403), ("member", 403)])
def test_organisation_create(personas, persona, status):
    territory = TerritoryFactory(code="FR-69")
    response = api_as(getattr(personas, persona)).post(
        ORGS, {"name": "Clinique API", "sector": "private_for_profit", "kind": "clinic", "territory_code": "FR-69"},
        format="json")
    assert response.status_code == status, response.content
    created = Organisation.objects.filter(name="Clinique API").first()
    assert (created is not None) is (status == 201)
    if created:
        assert created.territory == territory and response.json()["id"] == created.pk


def test_organisation_create_rejects_invalid_data(personas):
    response = api_as(personas.admin).post(
        ORGS, {"name": "CPTS des Pentes", "sector": "royal", "kind": "clinic", "website": "ftp://x"}, format="json")
    assert response.status_code == 400
    assert {"name", "sector", "website"} <= set(response.json())


@pytest.mark.parametrize(("persona", "status"), [("owner", 200), ("admin", 200), ("member", 403), ("outsider", 403)])
def test_organisation_update(personas, persona, status):
    client = api_as(getattr(personas, persona))
    url = f"{ORGS}{personas.organisation.pk}/"
    assert client.patch(url, {"website": "https://cpts.example.org"}, format="json").status_code == status
    full = {"name": "CPTS renommée", "sector": "community", "kind": "cpts"}
    assert client.put(url, full, format="json").status_code == status
    personas.organisation.refresh_from_db()
    assert (personas.organisation.name == "CPTS renommée") is (status == 200)
    assert (personas.organisation.website == "https://cpts.example.org") is (status == 200)
    if status == 403:
        assert AuditLog.objects.filter(action=AuditAction.ACCESS_DENIED, actor=getattr(personas, persona),
                                       object_pk=str(personas.organisation.pk)).exists()


@pytest.mark.parametrize("persona", ["owner", "member", "outsider", "admin"])
def test_organisation_destroy_is_not_offered(personas, persona):
    response = api_as(getattr(personas, persona)).delete(f"{ORGS}{personas.organisation.pk}/")
    assert response.status_code in {403, 405}
    assert Organisation.objects.filter(pk=personas.organisation.pk).exists()


# --- territories ---

@pytest.mark.parametrize("persona", ["owner", "member", "outsider", "admin"])
def test_territory_read_for_everyone(personas, persona):
    territory = personas.organisation.territory
    client = api_as(getattr(personas, persona))
    assert territory.code in [t["code"] for t in client.get(TERRITORIES).json()["results"]]
    assert client.get(f"{TERRITORIES}{territory.pk}/").json()["code"] == territory.code


@pytest.mark.parametrize(("persona", "allowed"), [("admin", True), ("owner", False), ("member", False),
                                                   ("outsider", False)])
def test_territory_writes_are_admin_only(personas, persona, allowed):
    client = api_as(getattr(personas, persona))
    response = client.post(TERRITORIES, {"code": "FR", "name": "France", "level": "country"}, format="json")
    assert response.status_code == (201 if allowed else 403)
    assert Territory.objects.filter(code="FR").exists() is allowed
    spare = TerritoryFactory(name="Avant")
    response = client.patch(f"{TERRITORIES}{spare.pk}/", {"name": "Après"}, format="json")
    assert response.status_code == (200 if allowed else 403)
    spare.refresh_from_db()
    assert (spare.name == "Après") is allowed
    response = client.delete(f"{TERRITORIES}{spare.pk}/")
    assert response.status_code == (204 if allowed else 403)
    assert Territory.objects.filter(pk=spare.pk).exists() is not allowed


def test_territory_in_use_cannot_be_deleted_and_gives_a_clear_error(personas):
    territory = personas.organisation.territory
    response = api_as(personas.admin).delete(f"{TERRITORIES}{territory.pk}/")
    assert response.status_code == 400
    assert Territory.objects.filter(pk=territory.pk).exists()


def test_territory_api_enforces_the_hierarchy(personas):
    client = api_as(personas.admin)
    country = TerritoryFactory(code="FR", level="country")
    region = TerritoryFactory(code="FR-ARA", level="region", parent=country)
    response = client.post(TERRITORIES, {"code": "X", "name": "X", "level": "country", "parent_code": "FR-ARA"},
                           format="json")
    assert response.status_code == 400 and "parent_code" in response.json()
    response = client.patch(f"{TERRITORIES}{region.pk}/", {"parent_code": "FR-ARA"}, format="json")
    assert response.status_code == 400
    response = client.patch(f"{TERRITORIES}{country.pk}/", {"parent_code": "FR-ARA"}, format="json")
    assert response.status_code == 400
    country.refresh_from_db()
    assert country.parent is None
    response = client.post(TERRITORIES, {"code": "FR-69", "name": "Rhône", "level": "department",
                                         "parent_code": "FR-ARA", "population": -1}, format="json")
    assert response.status_code == 400 and "population" in response.json()


# --- memberships ---

def _membership_ids(client) -> set[int]:
    return {m["id"] for m in client.get(MEMBERSHIPS, {"page_size": 200}).json()["results"]}


def test_membership_list_is_filtered_to_the_users_organisations(personas):
    org_memberships = set(Membership.objects.filter(organisation=personas.organisation).values_list("pk", flat=True))
    outsider_memberships = set(personas.outsider.memberships.values_list("pk", flat=True))
    assert _membership_ids(api_as(personas.owner)) == org_memberships
    assert _membership_ids(api_as(personas.member)) == org_memberships
    assert _membership_ids(api_as(personas.outsider)) == outsider_memberships
    assert _membership_ids(api_as(personas.admin)) == set(Membership.objects.values_list("pk", flat=True))


@pytest.mark.parametrize(("persona", "status"), [("owner", 200), ("member", 200), ("admin", 200), ("outsider", 404)])
def test_membership_retrieve(personas, persona, status):
    membership = personas.member_membership
    response = api_as(getattr(personas, persona)).get(f"{MEMBERSHIPS}{membership.pk}/")
    assert response.status_code == status
    if status == 200:
        assert response.json()["user_email"] == personas.member.email


@pytest.mark.parametrize(("persona", "status"), [("owner", 201), ("admin", 201), ("member", 400), ("outsider", 400)])
def test_membership_create(personas, persona, status):
    newcomer = UserFactory()
    response = api_as(getattr(personas, persona)).post(
        MEMBERSHIPS, {"user_email": newcomer.email, "organisation": personas.organisation.pk, "role": "innovator"},
        format="json")
    assert response.status_code == status, response.content
    assert newcomer.memberships.exists() is (status == 201)


def test_membership_create_admin_role_only_by_platform_admin(personas):
    newcomer = UserFactory()
    payload = {"user_email": newcomer.email, "organisation": personas.organisation.pk, "role": "admin"}
    response = api_as(personas.owner).post(MEMBERSHIPS, payload, format="json")
    assert response.status_code == 400 and "role" in response.json()
    assert api_as(personas.admin).post(MEMBERSHIPS, payload, format="json").status_code == 201
    newcomer.refresh_from_db()
    assert newcomer.is_superuser


def test_membership_create_duplicate_is_400_not_500(personas):
    payload = {"user_email": personas.member.email, "organisation": personas.organisation.pk, "role": "innovator"}
    response = api_as(personas.owner).post(MEMBERSHIPS, payload, format="json")
    assert response.status_code == 400
    assert Membership.objects.filter(user=personas.member).count() == 1


@pytest.mark.parametrize(("persona", "status"), [("owner", 204), ("admin", 204), ("member", 403), ("outsider", 404)])
def test_membership_destroy(personas, persona, status):
    membership = personas.member_membership
    response = api_as(getattr(personas, persona)).delete(f"{MEMBERSHIPS}{membership.pk}/")
    assert response.status_code == status
    assert Membership.objects.filter(pk=membership.pk).exists() is (status != 204)


def test_membership_cannot_be_updated(personas):
    membership = personas.member_membership
    response = api_as(personas.owner).patch(f"{MEMBERSHIPS}{membership.pk}/", {"role": "admin"}, format="json")
    assert response.status_code in {403, 405}
    membership.refresh_from_db()
    assert membership.role == "innovator"


def test_owner_cannot_revoke_platform_admin_role_through_api(personas, make_user):
    platform_admin = make_user("admin", organisation=personas.organisation)
    membership = platform_admin.memberships.get(role="admin")
    assert api_as(personas.owner).delete(f"{MEMBERSHIPS}{membership.pk}/").status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_membership_of_unrelated_organisation_invisible(personas):
    foreign = MembershipFactory(organisation=OrganisationFactory())
    assert api_as(personas.owner).get(f"{MEMBERSHIPS}{foreign.pk}/").status_code == 404
