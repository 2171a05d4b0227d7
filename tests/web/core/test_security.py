"""Security defaults (ASVS L2): CSP, no-store, sessions, MFA, login throttling, passwords, deploy checks."""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import string
import subprocess
import sys
import time
from pathlib import Path

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from tests.web.conftest import TEST_TOTP_SECRET, api_token_for, bearer, give_totp
from tests.web.factories import OrganisationFactory
from tremplin.web.accounts.models import User
from tremplin.web.accounts.services import membership_create

pytestmark = pytest.mark.django_db

LOGIN = "/compte/login/"
PASSWORD = "Correct-Horse-42!"  # tests/web/factories.py


def login(client, email, password=PASSWORD, ip="10.0.0.1"):
    return client.post(LOGIN, {"login": email, "password": password}, REMOTE_ADDR=ip)


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


def totp_code(secret=TEST_TOTP_SECRET) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time() // 30)))


# --- headers ---

@pytest.mark.parametrize("signed_in", [False, True])
def test_csp_header_forbids_inline_scripts(client, make_user, signed_in):
    if signed_in:
        client.force_login(make_user("innovator"))
    for url in (["/", LOGIN] if not signed_in else ["/tableau-de-bord/", "/organisations/", "/territoires/"]):
        response = client.get(url)
        assert response.status_code == 200, url
        csp = response["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
        assert directives["script-src"] == "'self'"
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
        html = response.content.decode()
        inline_scripts = [m for m in re.findall(r"<script\b[^>]*>", html) if "src=" not in m]
        assert not inline_scripts, f"{url}: inline <script> would be blocked by the CSP"
        assert not re.search(r"\son[a-z]+\s*=\s*[\"']", html), f"{url}: inline event handler attribute"
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_authenticated_pages_and_api_are_not_cached(client, make_user):
    user = make_user("innovator")
    anonymous = client.get("/")
    assert "no-store" not in anonymous.get("Cache-Control", "")
    client.force_login(user)
    for url in ["/tableau-de-bord/", "/organisations/", "/api/v1/organisations/"]:
        assert client.get(url)["Cache-Control"] == "no-store", url
    client.logout()
    response = client.get("/api/v1/organisations/", **bearer(api_token_for(user)))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


# --- sessions ---

def test_session_key_rotates_on_login(client, make_user):
    user = make_user("innovator")
    client.get(LOGIN)
    session = client.session
    session["before_login"] = True
    session.save()
    before = session.session_key
    response = login(client, user.email)
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(user.pk)
    assert client.session.session_key != before
    assert not Session.objects.filter(session_key=before).exists()


def test_inactivity_timeout(client, make_user):
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_MINUTES * 60 <= 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST  # sliding expiry
    client.force_login(make_user("innovator"))
    assert client.get("/tableau-de-bord/").status_code == 200
    stored = Session.objects.get(session_key=client.session.session_key)
    remaining = (stored.expire_date - timezone.now()).total_seconds()
    assert settings.SESSION_COOKIE_AGE - 60 < remaining <= settings.SESSION_COOKIE_AGE
    # Idle past the timeout: the server-side session has expired.
    Session.objects.filter(pk=stored.pk).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    response = client.get("/tableau-de-bord/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize(("age_hours", "still_in"), [(11.5, True), (12.5, False)])
def test_absolute_session_lifetime(client, make_user, age_hours, still_in):
    assert settings.SESSION_ABSOLUTE_HOURS == 12
    client.force_login(make_user("innovator"))
    session = client.session
    assert "tremplin_login_at" in session
    session["tremplin_login_at"] = time.time() - age_hours * 3600
    session.save()
    response = client.get("/tableau-de-bord/")
    assert (response.status_code == 200) is still_in
    if not still_in:
        assert response.status_code == 302 and response["Location"] == reverse("account_login")
        assert signed_in_user_id(client) is None
        assert client.get("/tableau-de-bord/").status_code == 302


# --- MFA ---

@pytest.fixture(params=["evaluator", "admin"])
def sensitive_user_without_totp(request, make_user):
    user = make_user()
    membership_create(user=user, organisation=OrganisationFactory(), role=request.param)
    assert not Authenticator.objects.filter(user=user).exists()
    return User.objects.get(pk=user.pk)


def test_sensitive_role_without_totp_is_sent_to_totp_activation(client, sensitive_user_without_totp):
    response = login(client, sensitive_user_without_totp.email)
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(sensitive_user_without_totp.pk)
    for url in ["/tableau-de-bord/", "/organisations/", "/audit/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp"), url
    assert client.get("/api/v1/organisations/").status_code == 403


@pytest.mark.django_db(transaction=True)  # allauth announces the new TOTP on commit: the session learns it then
def test_sensitive_role_can_complete_totp_activation(client, sensitive_user_without_totp):
    """The whole forced flow: activation page -> password re-authentication -> scan secret -> confirm code.
    The code that activated the TOTP proves the factor for this session."""
    user = sensitive_user_without_totp
    assert login(client, user.email).status_code == 302
    response = client.get(reverse("mfa_activate_totp"), follow=True)
    assert response.status_code == 200
    if response.redirect_chain and response.redirect_chain[-1][0].startswith(reverse("account_reauthenticate")):
        response = client.post(response.redirect_chain[-1][0], {"password": PASSWORD}, follow=True)
        assert response.status_code == 200
    assert response.request["PATH_INFO"] == reverse("mfa_activate_totp")
    secret = response.context["form"].secret
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert client.get("/tableau-de-bord/").status_code == 200
    assert client.get("/api/v1/organisations/").status_code == 200


def test_sensitive_role_without_totp_is_refused_by_token_api(client, sensitive_user_without_totp):
    # A token created before the role required a second factor (the service refuses one without it now).
    key = api_token_for(sensitive_user_without_totp, mfa_verified=True)
    response = client.get("/api/v1/organisations/", **bearer(key))
    assert response.status_code == 403
    give_totp(sensitive_user_without_totp)
    response = client.get("/api/v1/organisations/", **bearer(key))
    assert response.status_code == 200


def test_other_roles_do_not_need_totp(client, make_user):
    client.force_login(make_user("innovator"))
    assert client.get("/tableau-de-bord/").status_code == 200


def test_login_with_totp_requires_the_second_factor(client, make_user):
    user = make_user("evaluator")
    response = login(client, user.email)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert signed_in_user_id(client) is None
    assert client.get("/tableau-de-bord/").status_code == 302
    response = client.post(reverse("mfa_authenticate"), {"code": "000000" if totp_code() != "000000" else "111111"})
    assert response.status_code == 200 and signed_in_user_id(client) is None
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(user.pk)
    assert client.get("/tableau-de-bord/").status_code == 200


# --- login throttling (django-axes) ---

def _fail_until_locked(client, email, ip):
    statuses = [login(client, email, "wrong-password-123", ip=ip).status_code
                for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[-1] == 429
    return statuses


def test_lockout_after_failures_even_with_right_password(client, make_user):
    user = make_user("innovator")
    _fail_until_locked(client, user.email, ip="10.0.0.1")
    response = login(client, user.email, ip="10.0.0.1")
    assert response.status_code == 429
    assert signed_in_user_id(client) is None
    # Same e-mail in another case is the same account: still locked.
    assert login(client, user.email.upper(), ip="10.0.0.1").status_code == 429


def test_lockout_does_not_reach_other_ips_or_other_accounts(client, make_user):
    victim = make_user("innovator")
    other = make_user("innovator")
    _fail_until_locked(client, victim.email, ip="10.0.0.66")
    response = login(client, victim.email, ip="10.0.0.2")
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(victim.pk)
    client.logout()
    assert login(client, other.email, ip="10.0.0.66").status_code == 302


def test_forwarded_for_header_cannot_dodge_the_lockout(client, make_user):
    user = make_user("innovator")
    for i in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"login": user.email, "password": "wrong-password-123"}, REMOTE_ADDR="10.0.0.1",
                    HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD}, REMOTE_ADDR="10.0.0.1",
                           HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert response.status_code == 429


def test_login_works_again_after_cool_off(client, make_user):
    user = make_user("innovator")
    _fail_until_locked(client, user.email, ip="10.0.0.1")
    assert login(client, user.email).status_code == 429
    past = timezone.now() - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=5)
    assert AccessAttempt.objects.update(attempt_time=past) >= 1
    response = login(client, user.email)
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(user.pk)


def test_successful_login_resets_the_failure_count(client, make_user):
    user = make_user("innovator")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, user.email, "wrong-password-123").status_code == 200
    assert login(client, user.email).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, user.email, "wrong-password-123").status_code == 200
    assert login(client, user.email).status_code == 302


# --- passwords ---

@pytest.mark.parametrize(("password", "accepted"), [("telechargement", False), ("1234567890123", False),
                                                    ("court-1A", False), ("Grenoble-Velo-Matin-42", True)])
def test_signup_password_policy(client, password, accepted):
    response = client.post("/compte/signup/", {"email": "new@example.org", "password1": password,
                                               "password2": password})
    assert User.objects.filter(email="new@example.org").exists() is accepted
    if not accepted:
        assert response.status_code == 200
        assert response.context["form"].errors.get("password1")


def test_common_password_error_names_the_reason(client):
    response = client.post("/compte/signup/", {"email": "new@example.org", "password1": "telechargement",
                                               "password2": "telechargement"})
    assert any("courant" in e or "common" in e for e in response.context["form"].errors["password1"])


def test_passwords_are_hashed_in_production_with_a_slow_hasher():
    from django.contrib.auth.hashers import get_hashers

    assert "MD5" in type(get_hashers()[0]).__name__  # test settings only
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; import django; django.setup(); "
                               "print(settings.PASSWORD_HASHERS[0])"],
        env=_production_env(Path(settings.DATA_DIR)), capture_output=True, text=True, timeout=60,
        cwd=str(settings.REPO_DIR))
    assert result.returncode == 0, result.stderr
    assert "PBKDF2" in result.stdout or "Argon2" in result.stdout or "Scrypt" in result.stdout


# --- production configuration ---

def _production_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"TREMPLIN_TESTING", "DEBUG", "DATABASE_URL",
                                                            "SECURE_COOKIES", "SECURE_SSL_REDIRECT",
                                                            "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    env.update({
        "DJANGO_SETTINGS_MODULE": "tremplin.web.settings", "DEBUG": "0",
        "SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(64)),
        "ALLOWED_HOSTS": "tremplin.example.org", "TREMPLIN_DATA_DIR": str(data_dir),
    })
    return env


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=_production_env(tmp_path), capture_output=True, text=True, timeout=120, cwd=str(settings.REPO_DIR))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key(tmp_path):
    env = _production_env(tmp_path)
    del env["SECRET_KEY"]
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True,
                            timeout=120, cwd=str(settings.REPO_DIR))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@override_settings(DEBUG=False)
def test_unknown_host_is_rejected(client):
    assert client.get("/", HTTP_HOST="evil.example.com").status_code == 400


def test_axes_key_is_the_account_email_whatever_the_login_form(make_user):
    from tremplin.web.core.security import axes_username

    user = make_user("innovator", email="Mixed.Case@Example.org")
    assert axes_username(None, {"email": "Mixed.Case@Example.org "}) == "mixed.case@example.org"
    # on success axes passes the Django username; the admin login form posts it too
    assert axes_username(None, {"username": user.username}) == "mixed.case@example.org"
    assert axes_username(None, {"username": "ghost"}) == "ghost"


def test_totp_secret_is_encrypted_at_rest(make_user):
    from allauth.mfa.models import Authenticator

    from tests.web.conftest import TEST_TOTP_SECRET

    user = make_user("evaluator")
    stored = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP).data["secret"]
    assert TEST_TOTP_SECRET not in stored
    from tremplin.web.core.security import MfaAdapter

    assert MfaAdapter().decrypt(stored) == TEST_TOTP_SECRET


def test_users_whose_role_requires_mfa_cannot_remove_their_totp(make_user):
    from allauth.mfa.models import Authenticator

    from tests.web.conftest import give_totp
    from tremplin.web.core.security import MfaAdapter

    evaluator = make_user("evaluator")
    member = make_user("network_member")
    give_totp(member)
    adapter = MfaAdapter()
    assert not adapter.can_delete_authenticator(Authenticator.objects.get(user=evaluator))
    assert adapter.can_delete_authenticator(Authenticator.objects.get(user=member))
