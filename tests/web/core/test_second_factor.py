"""Issue 12 item 1: the second factor cannot be skipped, whatever the login entry point.

Each test replays an attack that worked on `main` before the fix (commit 9ca3c39): the Django admin's own login
form signed people in with a password alone, and MfaRequiredMiddleware only checked that a TOTP was
*configured*, not that it had been *used in this session*.
"""

from __future__ import annotations

import time

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.urls import reverse
from rest_framework.test import APIClient

from tests.web.conftest import TEST_TOTP_SECRET, api_token_for, bearer, give_totp, login_mfa_verified
from tests.web.factories import OrganisationFactory
from tremplin.web.accounts.models import ApiToken
from tremplin.web.accounts.services import membership_create
from tremplin.web.core.models import AuditAction, AuditLog
from tremplin.web.core.security import MFA_VERIFIED_SESSION_KEY
from tremplin.web.evaluations.models import Dataset

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-42!"  # tests/web/factories.py


def totp_code() -> str:
    return format_hotp_value(hotp_value(TEST_TOTP_SECRET, int(time.time() // 30)))


@pytest.fixture
def admin(make_user):
    return make_user("admin", email="admin@example.org")


@pytest.fixture
def dataset(db):
    return Dataset.objects.create(name="Données de santé", source="path", source_path="/nowhere")


def care_data_urls(dataset) -> list[str]:
    return [f"/evaluations/donnees/{dataset.pk}/", "/evaluations/donnees/", "/audit/", "/admin/",
            "/admin/accounts/user/"]


def assert_refused(client, dataset) -> None:
    """Pages: sent away (login or second-factor prompt), never served; API: 403."""
    for url in care_data_urls(dataset):
        response = client.get(url)
        assert response.status_code == 302, (url, response.status_code)
        target = response["Location"].split("?")[0]
        assert target in {reverse("account_login"), reverse("mfa_reauthenticate"), "/admin/login/"}, (url, target)
    for url in ["/api/v1/evaluation-datasets/", f"/api/v1/evaluation-datasets/{dataset.pk}/",
                "/api/v1/evaluation-datasets/?format=api"]:
        response = client.get(url)
        assert response.status_code in {403, 404}, (url, response.status_code)
        assert b"nowhere" not in response.content and "Données de santé".encode() not in response.content


def assert_allowed(client, dataset) -> None:
    for url in care_data_urls(dataset):
        assert client.get(url).status_code == 200, url
    response = client.get("/api/v1/evaluation-datasets/")
    assert response.status_code == 200 and response.json()["count"] == 1


# --- the Django admin's login form ---

def test_admin_login_form_does_not_sign_in_with_a_password(client, admin, dataset):
    """The exact attack: anonymous POST /admin/login/?next=/admin/ with the admin's e-mail and password."""
    response = client.post("/admin/login/?next=/admin/", {"username": admin.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next=/admin/"
    assert "_auth_user_id" not in client.session
    assert_refused(client, dataset)
    # the same with the Django username, and with a GET
    client.post("/admin/login/", {"username": admin.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/login/?next=/admin/")["Location"] == f"{reverse('account_login')}?next=/admin/"


def test_admin_login_goes_through_allauth_and_its_second_factor(client, admin, dataset):
    login_url = client.get("/admin/")["Location"]
    assert login_url.startswith("/admin/login/")
    allauth_url = client.get(login_url)["Location"]
    assert allauth_url == f"{reverse('account_login')}?next=/admin/"
    response = client.post(allauth_url, {"login": admin.email, "password": PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    assert_refused(client, dataset)
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.session[MFA_VERIFIED_SESSION_KEY] == str(admin.pk)
    assert_allowed(client, dataset)


def test_admin_login_never_redirects_off_site(client, admin):
    response = client.get("/admin/login/?next=https://evil.example.com/")
    assert response["Location"] == f"{reverse('account_login')}?next=/admin/"


def test_signed_in_user_without_admin_access_is_refused_not_looped(client, make_user):
    client.force_login(make_user("innovator"))
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    assert client.get("/admin/login/?next=/admin/").status_code == 403


# --- allauth's login ---

def test_allauth_password_alone_does_not_sign_in_a_user_with_totp(client, admin, dataset):
    response = client.post(reverse("account_login"), {"login": admin.email, "password": PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    assert_refused(client, dataset)


def test_session_opened_before_the_totp_existed_is_not_verified(client, make_user, dataset):
    """An account with the evaluator role and no TOTP yet signs in with its password (a stolen one, say); its
    owner then sets up a TOTP from another browser. On main, the first session then passed the check because
    a TOTP was now configured; it must prove the second factor itself."""
    user = make_user()
    membership_create(user=user, organisation=OrganisationFactory(), role="evaluator")
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)
    assert client.get(f"/evaluations/donnees/{dataset.pk}/")["Location"] == reverse("mfa_activate_totp")
    give_totp(user)  # from the owner's own session
    assert_refused(client, dataset)
    response = client.get(f"/evaluations/donnees/{dataset.pk}/")
    assert response["Location"] == f"{reverse('mfa_reauthenticate')}?next=%2Fevaluations%2Fdonnees%2F{dataset.pk}%2F"
    # the pages that would hand out a second factor stay closed to that session
    for name in ("mfa_view_recovery_codes", "mfa_generate_recovery_codes", "mfa_index", "account_reauthenticate"):
        assert client.get(reverse(name))["Location"].startswith(reverse("mfa_reauthenticate")), name
    # proving the factor opens the pages, and sends the user back where they were going
    response = client.post(f"{reverse('mfa_reauthenticate')}?next=/evaluations/donnees/{dataset.pk}/",
                           {"code": totp_code()})
    assert response.status_code == 302 and response["Location"] == f"/evaluations/donnees/{dataset.pk}/"
    assert client.get(f"/evaluations/donnees/{dataset.pk}/").status_code == 200


def test_force_login_is_a_password_only_session(client, admin, dataset):
    """Tests must not pass the check silently: force_login does not prove a second factor."""
    client.force_login(admin)
    assert_refused(client, dataset)
    client.logout()
    login_mfa_verified(client, admin)
    assert_allowed(client, dataset)


def test_verification_belongs_to_the_user_who_proved_it(client, admin, make_user, dataset):
    other_admin = make_user("admin")
    login_mfa_verified(client, admin)
    session = client.session
    session[MFA_VERIFIED_SESSION_KEY] = str(other_admin.pk)
    session.save()
    assert_refused(client, dataset)


def test_roles_without_mfa_are_not_asked(client, make_user):
    client.force_login(make_user("innovator"))
    assert client.get("/tableau-de-bord/").status_code == 200


# --- API tokens ---

def test_token_cannot_be_created_from_a_password_only_session(client, admin, dataset):
    """On main: POST /compte/jeton-api/ action=create from a password-only admin session gave a token that read
    care data."""
    client.force_login(admin)
    response = client.post(reverse("accounts:api-tokens"), {"name": "x", "scope": "read", "expires_on": "2099-01-01"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_reauthenticate"))
    assert not ApiToken.objects.exists()
    # the service refuses on its own too
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        api_token_for(admin, mfa_verified=False)
    assert not ApiToken.objects.exists()


def test_token_created_after_the_second_factor_reads_care_data(client, admin, dataset):
    import datetime as dt

    from django.utils import timezone

    login_mfa_verified(client, admin)
    expires = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    response = client.post(reverse("accounts:api-tokens"), {"name": "x", "scope": "read", "expires_on": expires})
    assert response.status_code == 200
    key = response.context["new_key"]
    assert ApiToken.objects.get().mfa_verified is True
    response = APIClient().get("/api/v1/evaluation-datasets/", **bearer(key))
    assert response.status_code == 200 and response.json()["count"] == 1


def test_token_created_without_mfa_never_reaches_care_data(make_user, dataset):
    """A user without an MFA role creates a token from a password-only session; later they are made evaluator
    (or they launched a run before losing the role): that token still reads no care data."""
    from tremplin.web.evaluations.models import Run
    from tremplin.web.portfolio.models import EvaluationPlan, Experiment

    user = make_user("network_member")
    key = api_token_for(user, mfa_verified=False)
    experiment = Experiment.objects.create(title="E", lead_organisation=OrganisationFactory(), summary="S")
    plan = EvaluationPlan.objects.create(experiment=experiment, primary_outcome="avoidable_hospitalisations",
                                         design="staggered", baseline_mean=1.0, baseline_sd=1.0,
                                         expand_criteria="a", stop_criteria="b")
    run = Run.objects.create(plan=plan, dataset=dataset, dataset_fingerprint="0" * 64, estimator="cs",
                             engine_version="0", created_by=user)
    client = APIClient()
    assert client.get("/api/v1/organisations/", **bearer(key)).status_code == 200
    # they launched this run: the rules let them read it, but not with this token
    assert client.get(f"/api/v1/evaluation-runs/{run.pk}/", **bearer(key)).status_code == 403
    assert client.get("/api/v1/evaluation-runs/", **bearer(key)).status_code == 403
    verified = api_token_for(user, mfa_verified=True)
    assert client.get(f"/api/v1/evaluation-runs/{run.pk}/", **bearer(verified)).status_code == 200
    denied = AuditLog.objects.filter(action=AuditAction.ACCESS_DENIED, object_repr__contains="care_data_token")
    assert denied.count() == 2
    # made evaluator: the unverified token is refused everywhere, the care data included
    membership_create(user=user, organisation=OrganisationFactory(), role="evaluator")
    give_totp(user)
    for url in ["/api/v1/organisations/", "/api/v1/evaluation-datasets/", f"/api/v1/evaluation-runs/{run.pk}/"]:
        response = client.get(url, **bearer(key))
        assert response.status_code == 403, url
        assert "Données de santé" not in response.content.decode()
    assert client.get("/api/v1/evaluation-datasets/", **bearer(verified)).status_code == 200


# --- the browsable API ---

@pytest.mark.parametrize("debug", [False, True])
def test_browsable_api_does_not_serve_a_password_only_session(client, admin, dataset, debug, settings):
    settings.API_BROWSABLE = debug
    client.force_login(admin)
    for url in ["/api/v1/evaluation-datasets/?format=api", "/api/v1/?format=api", "/api/v1/evaluation-datasets/"]:
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 403, url
        assert "Données de santé".encode() not in response.content
    # and it offers no login form of its own (DRF's rest_framework.urls are not installed)
    from django.urls import NoReverseMatch

    with pytest.raises(NoReverseMatch):
        reverse("rest_framework:login")
