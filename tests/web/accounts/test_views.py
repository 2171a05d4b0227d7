"""Accounts pages for each persona: organisation manager (owner), member, outsider, platform admin."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.web.conftest import login_mfa_verified
from tests.web.factories import UserFactory
from tremplin.web.accounts.models import Membership, Organisation, Territory
from tremplin.web.core.models import AuditAction, AuditLog

pytestmark = pytest.mark.django_db


def _edit_data(organisation, **changes):
    data = {"name": organisation.name, "sector": organisation.sector, "kind": organisation.kind,
            "territory": organisation.territory_id or "", "website": organisation.website}
    return {**data, **changes}


@pytest.mark.parametrize(("persona", "status"), [("owner", 200), ("admin", 200), ("member", 403), ("outsider", 403)])
def test_organisation_edit_get(client, personas, persona, status):
    login_mfa_verified(client, getattr(personas, persona))
    response = client.get(reverse("accounts:organisation-edit", args=[personas.organisation.pk]))
    assert response.status_code == status


@pytest.mark.parametrize(("persona", "changed"), [("owner", True), ("admin", True), ("member", False),
                                                   ("outsider", False)])
def test_organisation_edit_post(client, personas, persona, changed):
    login_mfa_verified(client, getattr(personas, persona))
    url = reverse("accounts:organisation-edit", args=[personas.organisation.pk])
    response = client.post(url, _edit_data(personas.organisation, name="Nouveau nom"))
    assert response.status_code == (302 if changed else 403)
    personas.organisation.refresh_from_db()
    assert (personas.organisation.name == "Nouveau nom") is changed


def test_organisation_edit_invalid_data_is_redisplayed_not_saved(client, personas):
    client.force_login(personas.owner)
    url = reverse("accounts:organisation-edit", args=[personas.organisation.pk])
    response = client.post(url, _edit_data(personas.organisation, sector="royal", website="javascript:alert(1)"))
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"sector", "website"}
    personas.organisation.refresh_from_db()
    assert personas.organisation.sector == "public"


@pytest.mark.parametrize(("persona", "sees_members"), [("owner", True), ("member", True), ("admin", True),
                                                        ("outsider", False)])
def test_organisation_detail_members_visibility(client, personas, persona, sees_members):
    login_mfa_verified(client, getattr(personas, persona))
    response = client.get(reverse("accounts:organisation-detail", args=[personas.organisation.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert personas.organisation.name in content
    assert (str(personas.member) in content) is sees_members
    assert (str(personas.owner) in content) is sees_members
    remove_url = reverse("accounts:membership-remove", args=[personas.organisation.pk,
                                                             personas.member_membership.pk])
    assert (remove_url in content) is (persona in {"owner", "admin"})


def test_organisation_detail_anonymous_redirected_and_unknown_is_404(client, personas):
    url = reverse("accounts:organisation-detail", args=[personas.organisation.pk])
    response = client.get(url)
    assert response.status_code == 302 and reverse("account_login") in response["Location"]
    client.force_login(personas.member)
    assert client.get(reverse("accounts:organisation-detail", args=[999_999])).status_code == 404


@pytest.mark.parametrize(("persona", "status"), [("owner", 302), ("admin", 302), ("member", 403), ("outsider", 403)])
def test_membership_add(client, personas, persona, status):
    newcomer = UserFactory(email="newcomer@example.org")
    login_mfa_verified(client, getattr(personas, persona))
    url = reverse("accounts:membership-add", args=[personas.organisation.pk])
    response = client.post(url, {"email": "NEWCOMER@example.org", "role": "network_member"})
    assert response.status_code == status
    exists = Membership.objects.filter(user=newcomer, organisation=personas.organisation).exists()
    assert exists is (status == 302)


def test_owner_cannot_grant_admin_role_but_admin_can(client, personas):
    newcomer = UserFactory()
    url = reverse("accounts:membership-add", args=[personas.organisation.pk])
    client.force_login(personas.owner)
    response = client.post(url, {"email": newcomer.email, "role": "admin"})
    assert response.status_code == 400 and "role" in response.context["form"].errors
    assert not newcomer.memberships.exists()
    login_mfa_verified(client, personas.admin)
    assert client.post(url, {"email": newcomer.email, "role": "admin"}).status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.is_superuser


def test_membership_add_unknown_email_and_duplicate_role_are_form_errors(client, personas):
    client.force_login(personas.owner)
    url = reverse("accounts:membership-add", args=[personas.organisation.pk])
    response = client.post(url, {"email": "nobody@example.org", "role": "innovator"})
    assert "email" in response.context["form"].errors
    response = client.post(url, {"email": personas.member.email, "role": "innovator"})
    assert "role" in response.context["form"].errors
    assert Membership.objects.filter(organisation=personas.organisation).count() == 2


@pytest.mark.parametrize(("persona", "status"), [("owner", 302), ("admin", 302), ("member", 403), ("outsider", 403)])
def test_membership_remove(client, personas, persona, status):
    membership = personas.member_membership
    login_mfa_verified(client, getattr(personas, persona))
    url = reverse("accounts:membership-remove", args=[personas.organisation.pk, membership.pk])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == status
    assert Membership.objects.filter(pk=membership.pk).exists() is (status != 302)


def test_membership_remove_of_another_organisation_is_404(client, personas, make_user):
    stranger = make_user("innovator")
    client.force_login(personas.owner)
    url = reverse("accounts:membership-remove", args=[personas.organisation.pk, stranger.memberships.get().pk])
    assert client.post(url).status_code == 404
    assert stranger.memberships.exists()


def test_owner_cannot_revoke_platform_admin_role(client, personas, make_user):
    platform_admin = make_user("admin", organisation=personas.organisation)
    membership = platform_admin.memberships.get(role="admin")
    client.force_login(personas.owner)
    url = reverse("accounts:membership-remove", args=[personas.organisation.pk, membership.pk])
    assert client.post(url).status_code == 403
    platform_admin.refresh_from_db()
    assert platform_admin.is_superuser
    assert AuditLog.objects.filter(action=AuditAction.ACCESS_DENIED, actor=personas.owner).exists()


@pytest.mark.parametrize(("persona", "status"), [("admin", 302), ("outsider", 302), ("owner", 403), ("member", 403)])
def test_organisation_create(client, personas, persona, status):
    login_mfa_verified(client, getattr(personas, persona))
    response = client.post(reverse("accounts:organisation-create"),
                           {"name": "Jeune pousse", "sector": "private_for_profit", "kind": "startup"})
    assert response.status_code == status
    assert Organisation.objects.filter(name="Jeune pousse").exists() is (status == 302)


def test_organisation_list_filters(client, personas):
    client.force_login(personas.member)
    response = client.get(reverse("accounts:organisation-list"), {"sector": "public", "q": "pentes"})
    names = [o.name for o in response.context["page"]]
    assert names == ["CPTS des Pentes"]
    response = client.get(reverse("accounts:organisation-list"), {"sector": "community"})
    assert list(response.context["page"]) == []
    response = client.get(reverse("accounts:organisation-list"), {"sector": "<bogus>"})
    assert response.status_code == 200 and len(response.context["page"]) >= 1


@pytest.mark.parametrize(("persona", "status"), [("admin", 200), ("owner", 403), ("member", 403), ("outsider", 403)])
def test_territory_import_page(client, personas, persona, status):
    login_mfa_verified(client, getattr(personas, persona))
    assert client.get(reverse("accounts:territory-import")).status_code == status


def test_territory_import_upload(client, personas):
    login_mfa_verified(client, personas.admin)
    url = reverse("accounts:territory-import")
    before = Territory.objects.count()
    bad = SimpleUploadedFile("t.csv", b"code,name,level,parent_code,population\nFR,France,planet,,1\n")
    response = client.post(url, {"file": bad})
    assert response.status_code == 400
    assert "ligne 2" in response.content.decode()
    assert Territory.objects.count() == before
    good = SimpleUploadedFile("t.csv", b"code,name,level,parent_code,population\nFR,France,country,,1\n")
    response = client.post(url, {"file": good})
    assert response.status_code == 302
    assert Territory.objects.filter(code="FR").exists()
    wrong_type = SimpleUploadedFile("t.exe", b"MZ")
    response = client.post(url, {"file": wrong_type})
    assert response.status_code == 200 and "file" in response.context["form"].errors


def test_territory_import_success_message_uses_plurals(client, make_user):
    login_mfa_verified(client, make_user("admin"))
    content = b"code,name,level,parent_code,population\nZZ,Zedland,country,,10\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post("/territoires/importer/", {"file": SimpleUploadedFile("t.csv", content, "text/csv")},
                           follow=True)
    html = response.content.decode()
    assert "1 territoire créé, 0 mis à jour." in html
