"""Personas around one reported problem: a member of the reporting organisation, a member of another
organisation, an outsider (no organisation), a programme manager and a platform admin."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.web.factories import OrganisationFactory, TerritoryFactory
from tremplin.web.accounts.models import Organisation, User
from tremplin.web.problems import services
from tremplin.web.problems.models import Problem


@dataclass
class Personas:
    reporting_org: Organisation
    other_org: Organisation
    reporter: User
    colleague: User
    other_member: User
    outsider: User
    manager: User
    admin: User
    problem: Problem


@pytest.fixture
def personas(make_user) -> Personas:
    reporting_org = OrganisationFactory(name="CPTS des Pentes")
    other_org = OrganisationFactory(name="Centre hospitalier de Vienne")
    reporter = make_user("network_member", organisation=reporting_org, email="reporter@example.org")
    problem = services.problem_create(
        user=reporter, organisation=reporting_org, title="Hospitalisations évitables des insuffisants cardiaques",
        description="Des patients insuffisants cardiaques sont réhospitalisés faute de suivi après la sortie.",
        domain="chronic_disease", territories=[TerritoryFactory()], affected_population=12_000,
        burden_cost_eur=2_500_000)
    return Personas(
        reporting_org=reporting_org, other_org=other_org, reporter=reporter,
        colleague=make_user("innovator", organisation=reporting_org, email="colleague@example.org"),
        other_member=make_user("network_member", organisation=other_org, email="other@example.org"),
        outsider=make_user(None, email="outsider@example.org"),
        manager=make_user("programme_manager", email="manager@example.org"),
        admin=make_user("admin", email="admin@example.org"),
        problem=problem,
    )
