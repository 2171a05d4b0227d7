"""Accounts models and write services."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.web.factories import MembershipFactory, OrganisationFactory, TerritoryFactory, UserFactory
from tremplin.web.accounts.models import Membership, Organisation, Sector
from tremplin.web.accounts.services import membership_create, membership_delete, organisation_create

pytestmark = pytest.mark.django_db


def test_user_str_prefers_display_name_then_full_name_then_email():
    user = UserFactory(display_name="Alice", first_name="A", last_name="B", email="a@example.org")
    assert str(user) == "Alice"
    user.display_name = ""
    assert str(user) == "A B"
    user.first_name = user.last_name = ""
    assert str(user) == "a@example.org"


def test_roles_come_from_memberships_and_are_cached(django_assert_num_queries):
    user = UserFactory()
    MembershipFactory(user=user, role="innovator")
    MembershipFactory(user=user, role="reviewer")
    with django_assert_num_queries(1):
        assert user.roles == {"innovator", "reviewer"}
        assert user.has_role("reviewer", "admin")
        assert not user.has_role("admin", "evaluator")


def test_unsaved_user_has_no_roles(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert UserFactory.build().roles == frozenset()


def test_email_and_organisation_name_are_unique():
    UserFactory(email="same@example.org")
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(email="same@example.org")
    OrganisationFactory(name="Même nom")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrganisationFactory(name="Même nom")


def test_same_role_twice_in_one_organisation_is_refused_but_other_roles_are_allowed():
    membership = MembershipFactory(role="innovator")
    with pytest.raises(ValidationError):
        membership_create(user=membership.user, organisation=membership.organisation, role="innovator")
    membership_create(user=membership.user, organisation=membership.organisation, role="reviewer")
    assert Membership.objects.filter(user=membership.user).count() == 2


def test_territory_with_children_or_organisations_cannot_be_deleted():
    from django.db.models import ProtectedError

    parent = TerritoryFactory(level="region")
    TerritoryFactory(parent=parent)
    with pytest.raises(ProtectedError):
        parent.delete()
    territory = OrganisationFactory().territory
    with pytest.raises(ProtectedError):
        territory.delete()


def test_organisation_create_validates():
    organisation = organisation_create(name="CHU", sector=Sector.PUBLIC, kind="hospital")
    assert Organisation.objects.get(pk=organisation.pk).sector == "public"
    with pytest.raises(ValidationError) as excinfo:
        organisation_create(name="X", sector="royal", kind="hospital", website="not a url")
    assert {"sector", "website"} <= set(excinfo.value.message_dict)
    assert not Organisation.objects.filter(name="X").exists()


def test_admin_role_grants_and_revokes_django_admin_access():
    user = UserFactory()
    first = membership_create(user=user, organisation=OrganisationFactory(), role="admin")
    second = membership_create(user=user, organisation=OrganisationFactory(), role="admin")
    user.refresh_from_db()
    assert user.is_staff and user.is_superuser
    membership_delete(membership=first)
    user.refresh_from_db()
    assert user.is_superuser, "still admin through the second membership"
    membership_delete(membership=second)
    user.refresh_from_db()
    assert not user.is_staff and not user.is_superuser


def test_other_roles_do_not_grant_django_admin_access():
    user = UserFactory()
    membership_create(user=user, organisation=OrganisationFactory(), role="programme_manager",
                      is_organisation_admin=True)
    user.refresh_from_db()
    assert not user.is_staff and not user.is_superuser


def test_deleting_a_user_deletes_memberships_not_organisations():
    membership = MembershipFactory()
    organisation = membership.organisation
    membership.user.delete()
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert Organisation.objects.filter(pk=organisation.pk).exists()
