"""Personal API tokens (issue 20 item 1): created and revoked on the account page, scoped, expiring, hashed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.web.conftest import api_token_for, bearer, login_mfa_verified
from tremplin.web.accounts.models import ApiToken, Organisation
from tremplin.web.accounts.services import API_TOKEN_DEFAULT_DAYS, api_token_create, api_token_hash
from tremplin.web.core.models import AuditLog

pytestmark = pytest.mark.django_db

ORGS = "/api/v1/organisations/"
PAGE = "/compte/jetons-api/"


def in_days(days: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def test_page_url():
    assert reverse("accounts:api-tokens") == PAGE


def test_create_use_revoke_and_the_key_is_never_stored_nor_logged(client, personas):
    client.force_login(personas.member)
    response = client.post(PAGE, {"name": "Script", "scope": "read_write", "expires_on": in_days(30)})
    assert response.status_code == 200
    first = response.context["new_key"]
    assert first.startswith("tpl_") and len(first) >= 40
    assert first in response.content.decode()  # shown once, on the creation response
    token = ApiToken.objects.get(user=personas.member)
    assert (token.name, token.scope, token.mfa_verified) == ("Script", "read_write", False)
    assert timezone.localtime(token.expires_at).date().isoformat() == in_days(30)
    assert token.key_hash == api_token_hash(first)
    assert first not in str(list(ApiToken.objects.values_list())), "only a hash of the key is stored"
    client.logout()
    assert client.get(ORGS, **bearer(first)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    client.force_login(personas.member)
    second = client.post(PAGE, {"name": "Autre", "scope": "read", "expires_on": in_days(5)}).context["new_key"]
    assert second != first and ApiToken.objects.filter(user=personas.member).count() == 2
    page = client.get(PAGE).content.decode()  # afterwards, only the prefixes
    assert second[:12] in page and first[:12] in page and second not in page and first not in page
    assert client.post(reverse("accounts:api-token-revoke", args=[token.pk])).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    client.logout()
    response = client.get(ORGS, **bearer(first))
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert client.get(ORGS, **bearer(second)).status_code == 200
    entries = AuditLog.objects.filter(model="accounts.apitoken")
    assert entries.filter(action="create").count() == 2
    assert entries.filter(action="create", actor=personas.member).count() == 2
    [revocation] = entries.filter(action="update")  # the revocation; uses are not audited
    assert revocation.object_pk == str(token.pk) and set(revocation.changes) == {"revoked_at"}
    logged = str(list(AuditLog.objects.values_list("object_pk", "object_repr", "changes")))
    assert first not in logged and second not in logged and token.key_hash not in logged


def test_form_defaults_to_90_days_and_refuses_more_than_a_year(client, personas):
    client.force_login(personas.member)
    form = client.get(PAGE).context["form"]
    assert form["expires_on"].initial.isoformat() == in_days(API_TOKEN_DEFAULT_DAYS) == in_days(90)
    assert form["scope"].initial == "read"
    for expires in (in_days(366), in_days(0), in_days(-3), "not a date"):
        response = client.post(PAGE, {"name": "x", "scope": "read", "expires_on": expires})
        assert response.status_code == 400, expires
        assert response.context["form"].errors["expires_on"]
    response = client.post(PAGE, {"name": "x", "scope": "admin", "expires_on": in_days(10)})
    assert response.status_code == 400 and response.context["form"].errors["scope"]
    assert not ApiToken.objects.exists()
    assert client.post(PAGE, {"name": "x", "scope": "read", "expires_on": in_days(365)}).status_code == 200
    with pytest.raises(ValidationError):  # the service checks on its own
        api_token_create(user=personas.member, name="y", scope="read", mfa_verified=False,
                         expires_on=timezone.localdate() + dt.timedelta(days=366))
    assert ApiToken.objects.count() == 1


def test_read_only_token_cannot_write(personas):
    client = APIClient()
    client.credentials(**bearer(api_token_for(personas.owner, scope="read")))
    assert client.get(ORGS).status_code == 200
    url = f"{ORGS}{personas.organisation.pk}/"
    assert client.get(url).status_code == 200
    for method in ("patch", "put", "delete"):
        response = getattr(client, method)(url, {"name": "Renamed"}, format="json")
        assert response.status_code == 403, method  # refused at authentication, before the method is looked up
        assert "lecture seule" in response.json()["detail"]
    response = client.post(ORGS, {"name": "New", "sector": "public", "kind": "clinic"}, format="json")
    assert response.status_code == 403
    assert Organisation.objects.get(pk=personas.organisation.pk).name == "CPTS des Pentes"
    assert not Organisation.objects.filter(name="New").exists()
    # the same owner, with a read-write token, can
    writer = APIClient()
    writer.credentials(**bearer(api_token_for(personas.owner, scope="read_write")))
    assert writer.patch(url, {"name": "Renamed"}, format="json").status_code == 200


@pytest.mark.parametrize("state", ["expired", "revoked", "inactive-user", "unknown", "malformed"])
def test_rejected_tokens_get_401(personas, state):
    key = api_token_for(personas.member)
    token = ApiToken.objects.get(user=personas.member)
    header = f"Bearer {key}"
    if state == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    elif state == "revoked":
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    elif state == "inactive-user":
        personas.member.is_active = False
        personas.member.save()
    elif state == "unknown":
        header = f"Bearer {key[:-2]}xx"
    else:
        header = f"Bearer {key} extra"
    response = APIClient().get(ORGS, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert "results" not in response.json()


def test_without_a_token_anonymous_still_gets_403():
    assert APIClient().get(ORGS).status_code == 403


def test_a_token_can_only_be_revoked_by_its_owner(client, personas):
    api_token_for(personas.member)
    token = ApiToken.objects.get(user=personas.member)
    url = reverse("accounts:api-token-revoke", args=[token.pk])
    for intruder in (personas.owner, personas.admin):
        login_mfa_verified(client, intruder)
        assert client.post(url).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    client.force_login(personas.member)
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_users_see_only_their_own_tokens(client, personas):
    api_token_for(personas.member)
    other = ApiToken.objects.get(user=personas.member)
    client.force_login(personas.owner)
    page = client.get(PAGE).content.decode()
    assert other.prefix not in page


def test_tokens_created_under_mfa_are_marked(client, personas):
    login_mfa_verified(client, personas.admin)
    client.post(PAGE, {"name": "Admin", "scope": "read", "expires_on": in_days(7)})
    assert ApiToken.objects.get(user=personas.admin).mfa_verified is True


def test_token_list_query_count(client, personas, django_assert_max_num_queries):
    for _ in range(3):
        api_token_for(personas.member)
    client.force_login(personas.member)
    client.get(PAGE)
    with django_assert_max_num_queries(12) as small:
        client.get(PAGE)
    for _ in range(30):
        api_token_for(personas.member)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(PAGE)
    assert len(response.context["tokens"]) == 33


def test_openapi_documents_the_bearer_tokens(client, personas):
    client.force_login(personas.member)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert "read-only" in scheme["description"]
    assert {"tokenAuth": []} in schema["paths"]["/api/v1/organisations/"]["get"]["security"]


def test_platform_admin_revokes_a_token_in_the_django_admin(client, personas):
    key = api_token_for(personas.member)
    token = ApiToken.objects.get(user=personas.member)
    login_mfa_verified(client, personas.admin)
    changelist = reverse("admin:accounts_apitoken_changelist")
    page = client.get(changelist)
    assert page.status_code == 200 and token.prefix in page.content.decode()
    detail = client.get(reverse("admin:accounts_apitoken_change", args=[token.pk])).content.decode()
    assert token.prefix in detail and token.key_hash not in detail
    assert client.get(reverse("admin:accounts_apitoken_add")).status_code == 403
    response = client.post(changelist, {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert APIClient().get(ORGS, **bearer(key)).status_code == 401


def test_an_address_that_keeps_sending_bad_tokens_is_throttled_then_let_back(personas, settings):
    """The attack: a script tries keys. After API_TOKEN_FAILURE_LIMIT rejections from one address, every bearer
    request from it gets 429 with Retry-After, a valid key included (or the answer would tell a good guess);
    another address is not affected; once the window has passed the valid key works again."""
    from django.core.cache import cache

    settings.API_TOKEN_FAILURE_LIMIT = 3
    key = api_token_for(personas.member)
    attacker = APIClient(REMOTE_ADDR="203.0.113.7")
    for attempt in range(3):
        assert attacker.get(ORGS, **bearer(f"tpl_guess{attempt}")).status_code == 401
    blocked = attacker.get(ORGS, **bearer(key))
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) == settings.API_TOKEN_FAILURE_WINDOW_SECONDS
    assert "results" not in blocked.json()
    assert APIClient(REMOTE_ADDR="198.51.100.2").get(ORGS, **bearer(key)).status_code == 200
    cache.delete("tremplin:api-token-failures:203.0.113.7")  # what the window's expiry does
    assert attacker.get(ORGS, **bearer(key)).status_code == 200


def test_requests_without_a_bearer_header_are_not_counted(personas, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 1
    client = APIClient(REMOTE_ADDR="203.0.113.8")
    for _ in range(3):
        assert client.get(ORGS).status_code == 403
    assert client.get(ORGS, **bearer(api_token_for(personas.member))).status_code == 200


def test_behind_the_proxy_one_client_guessing_does_not_block_the_others(personas, settings):
    """Behind nginx every request comes from 127.0.0.1: the throttle counts the address the proxy forwards, so
    one client trying keys does not lock every other token user out."""
    settings.BEHIND_PROXY = True
    settings.API_TOKEN_FAILURE_LIMIT = 2
    key = api_token_for(personas.member)
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    for attempt in range(2):
        assert APIClient(**proxy).get(ORGS, HTTP_X_FORWARDED_FOR="203.0.113.9",
                                      **bearer(f"tpl_guess{attempt}")).status_code == 401
    assert APIClient(**proxy).get(ORGS, HTTP_X_FORWARDED_FOR="203.0.113.9", **bearer(key)).status_code == 429
    # a forged first entry does not move the attacker to another counter: the proxy's (last) entry counts
    assert APIClient(**proxy).get(ORGS, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9",
                                  **bearer(key)).status_code == 429
    assert APIClient(**proxy).get(ORGS, HTTP_X_FORWARDED_FOR="198.51.100.1", **bearer(key)).status_code == 200
