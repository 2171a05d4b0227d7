"""Fixtures for web tests: users per role (with MFA where required), personas, the matrix world."""

from __future__ import annotations

import pytest

from tests.web.factories import MembershipFactory, OrganisationFactory, TerritoryFactory, UserFactory
from tremplin.web.accounts.services import membership_create

TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def give_totp(user) -> None:
    from allauth.mfa.totp.internal.auth import TOTP

    TOTP.activate(user, TEST_TOTP_SECRET)


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
