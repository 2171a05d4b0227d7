"""`manage.py demo_setup`: demo region, ~30 organisations of every sector, one user per role; idempotent."""

from __future__ import annotations

import io
import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.apps import apps
from django.core.management import CommandError, call_command
from django.test import override_settings

from tremplin.web.accounts.models import Membership, Organisation, Sector, Territory, User
from tremplin.web.core.access import ROLES
from tremplin.web.core.management.commands.demo_setup import DEMO_PASSWORD, DEMO_TOTP_SECRET, DEMO_USERS
from tremplin.web.core.management.commands.demo_totp import current_code

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {m._meta.label: m._base_manager.count() for m in apps.get_models() if m._meta.managed}


@pytest.fixture
def demo():
    out = io.StringIO()
    with override_settings(DEBUG=True):
        call_command("demo_setup", stdout=out)
    return out.getvalue()


def test_demo_setup_content(demo):
    assert "Demo data ready" in demo
    assert 25 <= Organisation.objects.count() <= 40
    assert set(Organisation.objects.values_list("sector", flat=True)) == set(Sector.values)
    assert Territory.objects.filter(level="country").count() >= 1
    assert not Organisation.objects.filter(territory__isnull=True).exists()
    demo_emails = [u[0] for u in DEMO_USERS]
    roles = set(Membership.objects.filter(user__email__in=demo_emails).values_list("role", flat=True))
    assert roles == set(ROLES)
    for email, _, role, organisation, org_admin in DEMO_USERS:
        user = User.objects.get(email=email)
        assert user.check_password(DEMO_PASSWORD)
        assert EmailAddress.objects.filter(user=user, email=email, verified=True, primary=True).exists()
        membership = Membership.objects.get(user=user, role=role)
        assert membership.organisation.name == organisation
        assert membership.is_organisation_admin is org_admin
        has_totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        assert has_totp is (role in {"admin", "evaluator"})
    assert User.objects.get(email="admin@demo.tremplin.org").is_superuser


def test_demo_setup_is_idempotent(demo):
    before = _counts()
    out = io.StringIO()
    with override_settings(DEBUG=True):
        call_command("demo_setup", stdout=out)
    assert _counts() == before
    assert "(0 objects created this run)" in out.getvalue()


@override_settings(DEBUG=False)
def test_demo_setup_refuses_without_debug_unless_forced():
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_setup", stdout=io.StringIO())
    assert Organisation.objects.count() == 0 and User.objects.count() == 0
    call_command("demo_setup", "--force", stdout=io.StringIO())
    assert Organisation.objects.count() > 0


def test_demo_admin_can_sign_in_with_the_printed_code(demo, client):
    from django.core.cache import cache

    cache.clear()
    response = client.post("/compte/login/", {"login": "admin@demo.tremplin.org", "password": DEMO_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/compte/2fa/authenticate/"
    response = client.post("/compte/2fa/authenticate/", {"code": current_code(DEMO_TOTP_SECRET, time.time())})
    assert response.status_code == 302
    assert client.get("/audit/").status_code == 200


def test_demo_totp_is_demo_only():
    with override_settings(DEBUG=False), pytest.raises(CommandError):
        call_command("demo_totp", stdout=io.StringIO())
    out = io.StringIO()
    with override_settings(DEBUG=True):
        call_command("demo_totp", stdout=out)
    now = time.time()
    assert out.getvalue().split()[0] in {current_code(at=now), current_code(at=now - 30)}
