"""A call scenario: an applicant organisation and its innovator, a partner, a manager, a panel of reviewers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.web.factories import OrganisationFactory, make_call
from tremplin.web.accounts.models import Organisation, User
from tremplin.web.calls import services
from tremplin.web.calls.models import Call, Proposal

APPLICANT_NAME = "Kelvin Télésurveillance Applicante"
PARTNER_NAME = "Coopérative Partenaire Secrète"
INNOVATOR_NAME = "Ines Candidate-Unique"
ATTACHMENT_NAME = "dossier-kelvin-confidentiel.pdf"


def set_phase(call: Call, phase: str) -> Call:
    """Move the call's dates so that it is in `phase` now (time frozen by dates relative to now)."""
    from tests.web.factories import _call_dates

    for name, value in _call_dates(phase).items():
        setattr(call, name, value)
    call.save()
    return call


@dataclass
class Scenario:
    call: Call
    applicant: Organisation
    partner: Organisation
    innovator: User
    manager: User
    reviewers: list[User]
    outsider_reviewer: User
    proposals: list[Proposal] = field(default_factory=list)

    def propose(self, title="Télésurveillance de l'insuffisance cardiaque", amount=150_000, submit=True):
        proposal = services.proposal_create(
            call=self.call, user=self.innovator, organisation=self.applicant, title=title,
            summary="Suivi à domicile", description="Des capteurs et une infirmière de coordination.",
            evidence_level="pilot", partners=[self.partner],
            budget_lines=[{"label": "Capteurs", "amount": amount - 50_000}, {"label": "Coordination", "amount": 50_000}])
        if submit:
            services.proposal_submit(proposal=proposal, user=self.innovator)
        self.proposals.append(proposal)
        return proposal


@pytest.fixture
def scenario(make_user) -> Scenario:
    applicant = OrganisationFactory(name=APPLICANT_NAME, sector="private_for_profit", kind="startup")
    partner = OrganisationFactory(name=PARTNER_NAME, sector="social_economy", kind="nursing_home")
    innovator = make_user("innovator", organisation=applicant, display_name=INNOVATOR_NAME, org_admin=True)
    manager = make_user("programme_manager")
    reviewers = [make_user("reviewer") for _ in range(4)]
    outsider_reviewer = make_user("reviewer")
    call = make_call("open", created_by=manager, reviewers_per_proposal=2)
    return Scenario(call, applicant, partner, innovator, manager, reviewers, outsider_reviewer)


@pytest.fixture
def reviewed(scenario) -> Scenario:
    """Two submitted proposals, assigned automatically, every review submitted; the call in deliberation."""
    p1 = scenario.propose("Télésurveillance", 150_000)
    p2 = scenario.propose("Pharmacie clinique", 100_000)
    services.assignments_auto(call=scenario.call, by=scenario.manager)
    set_phase(scenario.call, "review")
    criteria = list(scenario.call.criteria.all())
    for proposal, base in ((p1, 3), (p2, 1)):
        for a in proposal.assignments.select_related("reviewer"):
            services.review_save(proposal=proposal, reviewer=a.reviewer,
                                 scores={c.pk: (base, "ok") for c in criteria}, comment="Avis", submit=True)
    set_phase(scenario.call, "deliberation")
    return scenario


def later(days: int = 1):
    return timezone.now() + timedelta(days=days)
