"""Object-level rules for accounts, checked for each persona."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from tests.web.factories import MembershipFactory, OrganisationFactory

pytestmark = pytest.mark.django_db

PERSONAS = ("owner", "member", "outsider", "admin")


@pytest.mark.parametrize(
    ("perm", "allowed"),
    [
        ("accounts.view_organisation", {"owner", "member", "outsider", "admin"}),
        ("accounts.change_organisation", {"owner", "admin"}),
        ("accounts.manage_memberships", {"owner", "admin"}),
        ("accounts.view_membership_list", {"owner", "member", "admin"}),
    ],
)
def test_organisation_object_rules(personas, perm, allowed):
    granted = {p for p in PERSONAS if getattr(personas, p).has_perm(perm, personas.organisation)}
    assert granted == allowed
    assert not AnonymousUser().has_perm(perm, personas.organisation)


def test_managing_one_organisation_gives_nothing_on_another(personas):
    other = OrganisationFactory()
    assert not personas.owner.has_perm("accounts.change_organisation", other)
    assert not personas.owner.has_perm("accounts.manage_memberships", other)
    assert not personas.owner.has_perm("accounts.view_membership_list", other)


@pytest.mark.parametrize(
    ("perm", "allowed"),
    [
        ("accounts.view_membership_list_item", {"owner", "member", "admin"}),
        ("accounts.manage_membership_item", {"owner", "admin"}),
    ],
)
def test_membership_item_rules(personas, perm, allowed):
    membership = personas.member_membership
    granted = {p for p in PERSONAS if getattr(personas, p).has_perm(perm, membership)}
    assert granted == allowed


def test_only_platform_admins_can_remove_an_admin_role_membership(personas, make_user):
    platform_admin = make_user("admin", organisation=personas.organisation)
    admin_membership = platform_admin.memberships.get(role="admin")
    assert not personas.owner.has_perm("accounts.manage_membership_item", admin_membership)
    assert personas.admin.has_perm("accounts.manage_membership_item", admin_membership)


@pytest.mark.parametrize(
    ("perm", "allowed"),
    [
        ("accounts.add_organisation", {"outsider", "admin"}),  # the outsider is a programme manager
        ("accounts.import_territories", {"admin"}),
        ("accounts.change_territory", {"admin"}),
        ("accounts.view_territory_list", {"owner", "member", "outsider", "admin"}),
        ("core.view_auditlog", {"admin"}),
    ],
)
def test_global_rules(personas, perm, allowed):
    assert {p for p in PERSONAS if getattr(personas, p).has_perm(perm)} == allowed
    assert not AnonymousUser().has_perm(perm)


def test_view_membership_is_own_membership_only(personas):
    own = personas.member_membership
    other = MembershipFactory()
    assert personas.member.has_perm("accounts.view_membership", own)
    assert not personas.member.has_perm("accounts.view_membership", other)
    assert personas.admin.has_perm("accounts.view_membership", other)


def test_superuser_without_admin_membership_is_platform_admin(make_user):
    user = make_user()
    user.is_superuser = True
    user.save()
    assert user.has_perm("accounts.change_organisation", OrganisationFactory())
