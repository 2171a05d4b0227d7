"""Fixtures of the portfolio tests: an experiment with dates and territories, personas around it."""

from __future__ import annotations

from datetime import date

import pytest

from tests.web.factories import ExperimentFactory, OrganisationFactory, TerritoryFactory
from tremplin.web.accounts.services import membership_create


@pytest.fixture
def experiment(db):
    exp = ExperimentFactory(start_date=date(2025, 1, 1), authorisation_end=date(2027, 1, 1),
                            legal_framework="article_51")
    exp.territories.set([TerritoryFactory()])
    return exp


@pytest.fixture
def territories(db):
    return [TerritoryFactory() for _ in range(8)]


@pytest.fixture
def personas(make_user, experiment):
    """manager, admin, decision maker, evaluator, a lead member, a partner member, an outsider (innovator)."""
    partner = OrganisationFactory()
    experiment.partners.add(partner)
    lead_member = make_user("network_member", organisation=experiment.lead_organisation)
    partner_member = make_user("innovator", organisation=partner)
    return {
        "manager": make_user("programme_manager"), "admin": make_user("admin"),
        "decider": make_user("decision_maker"), "evaluator": make_user("evaluator"),
        "lead_member": lead_member, "partner_member": partner_member,
        "outsider": make_user("innovator"), "member_elsewhere": make_user("network_member"),
    }


def join(user, organisation, role="network_member"):
    membership_create(user=user, organisation=organisation, role=role)
