"""Personas around one organisation: its manager (owner), a plain member, an outsider, a platform admin."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.web.factories import OrganisationFactory
from tremplin.web.accounts.models import Membership, Organisation, User


@dataclass
class Personas:
    organisation: Organisation
    owner: User
    member: User
    outsider: User
    admin: User

    @property
    def member_membership(self) -> Membership:
        return Membership.objects.get(user=self.member, organisation=self.organisation)


@pytest.fixture
def personas(make_user) -> Personas:
    organisation = OrganisationFactory(name="CPTS des Pentes")
    return Personas(
        organisation=organisation,
        owner=make_user("network_member", organisation=organisation, org_admin=True, email="owner@example.org"),
        member=make_user("innovator", organisation=organisation, email="member@example.org"),
        outsider=make_user("programme_manager", email="outsider@example.org"),
        admin=make_user("admin", email="admin@example.org"),
    )
