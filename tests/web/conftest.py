"""Fixtures for web tests: users per role (with MFA where required), personas, the matrix world."""

from __future__ import annotations

import pytest

from tests.web.factories import MembershipFactory, OrganisationFactory, TerritoryFactory, UserFactory
from tremplin.web.accounts.services import membership_create

TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def give_totp(user) -> None:
    from allauth.mfa.totp.internal.auth import TOTP

    TOTP.activate(user, TEST_TOTP_SECRET)


def login_mfa_verified(client, user) -> None:
    """`client.force_login(user)` for a session in which the user proved their second factor.

    force_login alone gives a password-only session: users whose role requires MFA are then refused
    (MfaRequiredMiddleware). This marks the session the way allauth's TOTP prompt does.
    """
    from tremplin.web.core.security import MFA_VERIFIED_SESSION_KEY

    client.force_login(user)
    session = client.session
    session[MFA_VERIFIED_SESSION_KEY] = str(user.pk)
    session.save()


def api_token_for(user, *, scope: str = "read_write", mfa_verified: bool = True, days: int = 30) -> str:
    """Create a personal API token for `user` through the service and return its key."""
    import datetime as dt

    from django.utils import timezone

    from tremplin.web.accounts.services import api_token_create

    _token, key = api_token_create(user=user, name="tests", scope=scope, mfa_verified=mfa_verified,
                                   expires_on=timezone.localdate() + dt.timedelta(days=days))
    return key


def bearer(key: str) -> dict[str, str]:
    """Request headers (test-client keyword arguments) carrying an API token."""
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.fixture
def make_user(db):
    """Create a user with a role in an organisation (MFA set up for roles that require it)."""

    def make(role: str | None = None, *, organisation=None, org_admin: bool = False, **kwargs):
        user = UserFactory(**kwargs)
        from allauth.account.models import EmailAddress

        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        if role is not None:
            membership_create(user=user, organisation=organisation or OrganisationFactory(), role=role,
                              is_organisation_admin=org_admin)
            user.refresh_from_db()
            if role in {"admin", "evaluator"}:
                give_totp(user)
        return user

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user("admin")


@pytest.fixture
def territory(db):
    return TerritoryFactory()


@pytest.fixture
def organisation(db):
    return OrganisationFactory()


@pytest.fixture
def membership(db):
    return MembershipFactory()
