"""Audit log: entries for changes, logins and refused access; append-only in the ORM and the database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from tests.web.conftest import login_mfa_verified
from tests.web.factories import OrganisationFactory
from tremplin.web.accounts.models import Organisation
from tremplin.web.core.admin import AuditLogAdmin
from tremplin.web.core.models import AuditAction, AuditLog

pytestmark = pytest.mark.django_db

LOGIN = "/compte/login/"


def _entries(**filters):
    return list(AuditLog.objects.filter(**filters).order_by("id"))


def _assert_recent_utc(entry):
    assert entry.at.utcoffset() == dt.timedelta(0)
    assert abs((timezone.now() - entry.at).total_seconds()) < 60


def test_organisation_create_update_delete_are_audited_with_actor_and_fields(client, make_user):
    admin = make_user("admin")
    login_mfa_verified(client, admin)
    response = client.post(reverse("accounts:organisation-create"),
                           {"name": "Clinique Audit", "sector": "private_for_profit", "kind": "clinic"},
                           REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 302
    organisation = Organisation.objects.get(name="Clinique Audit")
    [created] = _entries(model="accounts.organisation", action=AuditAction.CREATE, object_pk=str(organisation.pk))
    assert created.actor == admin and created.actor_repr == admin.email
    assert created.changes["name"] == [None, "Clinique Audit"]
    assert created.changes["sector"] == [None, "private_for_profit"]
    assert created.ip_address == "192.0.2.7"
    assert created.path == reverse("accounts:organisation-create")
    _assert_recent_utc(created)

    response = client.post(reverse("accounts:organisation-edit", args=[organisation.pk]),
                           {"name": "Clinique Audit", "sector": "private_non_profit", "kind": "clinic",
                            "website": "https://audit.example.org"})
    assert response.status_code == 302
    [updated] = _entries(model="accounts.organisation", action=AuditAction.UPDATE, object_pk=str(organisation.pk))
    assert updated.actor == admin
    assert updated.changes == {"sector": ["private_for_profit", "private_non_profit"],
                               "website": ["", "https://audit.example.org"]}
    _assert_recent_utc(updated)

    # Saving without a change writes nothing.
    organisation.refresh_from_db()
    organisation.save()
    assert len(_entries(model="accounts.organisation", action=AuditAction.UPDATE)) == 1

    pk = organisation.pk
    organisation.delete()
    [deleted] = _entries(model="accounts.organisation", action=AuditAction.DELETE, object_pk=str(pk))
    assert deleted.changes["name"] == ["Clinique Audit", None]
    assert deleted.object_repr == "Clinique Audit"
    assert deleted.actor is None  # outside a request: no actor, but still recorded
    _assert_recent_utc(deleted)


def test_api_update_is_audited_with_the_token_user(make_user):
    from rest_framework.test import APIClient

    from tests.web.conftest import api_token_for

    admin = make_user("admin")
    organisation = OrganisationFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_for(admin)}")
    assert client.patch(f"/api/v1/organisations/{organisation.pk}/", {"kind": "clinic"}, format="json").status_code == 200
    [entry] = _entries(model="accounts.organisation", action=AuditAction.UPDATE)
    assert entry.changes == {"kind": ["hospital", "clinic"]}
    assert entry.actor == admin


def test_secrets_are_never_written_to_the_log(make_user):
    user = make_user("innovator")
    last = AuditLog.objects.order_by("id").last().pk
    user.set_password("Another-Secret-99")
    user.save()
    [entry] = _entries(model="accounts.user", action=AuditAction.UPDATE, object_pk=str(user.pk), pk__gt=last)
    assert entry.changes["password"] == ["***", "***"]
    assert "Another-Secret-99" not in str(AuditLog.objects.values_list("changes", flat=True))


def test_login_success_and_failure_through_the_login_form(client, make_user):
    user = make_user("innovator")
    response = client.post(LOGIN, {"login": user.email, "password": "not-the-password"}, REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 200
    [failure] = _entries(action=AuditAction.LOGIN_FAILURE)
    assert failure.actor is None
    assert failure.object_pk == str(user.pk) and failure.object_repr == user.email
    assert failure.ip_address == "192.0.2.1"
    _assert_recent_utc(failure)

    response = client.post(LOGIN, {"login": user.email, "password": "Correct-Horse-42!"}, REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 302
    [success] = _entries(action=AuditAction.LOGIN_SUCCESS)
    assert success.actor == user and success.object_pk == str(user.pk)
    assert success.ip_address == "192.0.2.1"
    _assert_recent_utc(success)

    client.post(reverse("account_logout"))
    assert _entries(action=AuditAction.LOGOUT, actor=user)


def test_login_failure_for_unknown_account_is_recorded_without_user(client):
    client.post(LOGIN, {"login": "ghost@example.org", "password": "whatever-123456"})
    [failure] = _entries(action=AuditAction.LOGIN_FAILURE)
    assert failure.object_pk == "" and failure.object_repr == "ghost@example.org"


def test_refused_access_is_audited(client, make_user):
    user = make_user("innovator")
    organisation = OrganisationFactory()
    client.force_login(user)
    url = reverse("accounts:organisation-edit", args=[organisation.pk])
    assert client.get(url).status_code == 403
    [entry] = _entries(action=AuditAction.ACCESS_DENIED)
    assert entry.actor == user
    assert entry.model == "accounts.organisation" and entry.object_pk == str(organisation.pk)
    assert "accounts.change_organisation" in entry.object_repr and url in entry.object_repr
    _assert_recent_utc(entry)


# --- append-only ---

def _entry() -> AuditLog:
    OrganisationFactory()
    return AuditLog.objects.order_by("id").last()


def test_entries_cannot_be_changed_or_deleted_through_the_orm():
    entry = _entry()
    entry.action = AuditAction.DELETE
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditLog.objects.filter(pk=entry.pk).update(action="delete")
    with pytest.raises(PermissionError):
        AuditLog.objects.filter(pk=entry.pk).delete()
    with pytest.raises(PermissionError):
        AuditLog.objects.all().delete()
    assert AuditLog.objects.get(pk=entry.pk).action == AuditAction.CREATE


def test_raw_sql_update_is_rejected_by_the_database():
    entry = _entry()
    table = connection.ops.quote_name(AuditLog._meta.db_table)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET action = %s WHERE id = %s", ["delete", entry.pk])
    assert AuditLog.objects.get(pk=entry.pk).action == AuditAction.CREATE


def test_raw_sql_delete_is_rejected_by_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite: DELETE is refused by the application (Django's test flush needs it)")
    entry = _entry()
    table = connection.ops.quote_name(AuditLog._meta.db_table)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [entry.pk])
    assert AuditLog.objects.filter(pk=entry.pk).exists()


# --- who can read it ---

@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("programme_manager", 403), ("evaluator", 403),
                                              ("innovator", 403)])
def test_audit_log_page_is_for_admins_only(client, make_user, role, status):
    OrganisationFactory(name="Visible dans le journal")
    login_mfa_verified(client, make_user(role))
    response = client.get(reverse("core:audit-log"))
    assert response.status_code == status
    if status == 200:
        assert "Visible dans le journal" in response.content.decode()


def test_audit_log_page_filters(client, make_user):
    admin = make_user("admin")
    OrganisationFactory(name="Filtrée")
    login_mfa_verified(client, admin)
    response = client.get(reverse("core:audit-log"), {"action": "create", "model": "organisation"})
    actions = {e.action for e in response.context["page"]}
    models = {e.model for e in response.context["page"]}
    assert actions == {"create"} and models == {"accounts.organisation"}
    response = client.get(reverse("core:audit-log"), {"action": "login_failure"})
    assert list(response.context["page"]) == []


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("core:audit-log"))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


def test_django_admin_offers_no_add_change_or_delete(client, make_user, rf):
    from django.contrib import admin as django_admin

    admin_user = make_user("admin")
    model_admin = AuditLogAdmin(AuditLog, django_admin.site)
    request = rf.get("/")
    request.user = admin_user
    entry = _entry()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    assert model_admin.has_view_permission(request, entry)

    login_mfa_verified(client, admin_user)
    assert client.get("/admin/core/auditlog/").status_code == 200
    assert client.get("/admin/core/auditlog/add/").status_code == 403
    change_url = f"/admin/core/auditlog/{entry.pk}/change/"
    page = client.get(change_url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(change_url, {"action": "delete"}).status_code == 403
    assert client.post(f"/admin/core/auditlog/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    response = client.post("/admin/core/auditlog/", {"action": "delete_selected", "_selected_action": [entry.pk]})
    assert response.status_code in {200, 302, 403}
    assert AuditLog.objects.filter(pk=entry.pk, action=AuditAction.CREATE).exists()
