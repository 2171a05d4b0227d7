"""Coalition and campaign fixtures: personas (the manager who runs the coalition, a manager of another organisation,
a decision maker, readers without access), a coalition, the 2018 campaign with the seed's published results and a
campaign in progress compared with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from tests.web.factories import OrganisationFactory
from tremplin.web.campaign import services
from tremplin.web.campaign.models import Campaign, Coalition

# The seed document (000_1415c431b48bb7ca.txt), "Des résultats concrets" of the 2018 campaign.
SEED_RESULTS = {"unique_visits": 2_440, "complete_views": 251_533, "unique_reach": 480_000,
                "impressions": 1_600_000, "press_interviews": 24, "budget": 120_000}


@dataclass
class Personas:
    lead: object  # the organisation leading the coalition
    runner: object  # programme manager of the lead organisation: runs the coalition and its campaigns
    other_manager: object  # programme manager elsewhere: reads, does not run
    decider: object
    reviewer: object
    member: object
    innovator: object


@pytest.fixture
def personas(make_user) -> Personas:
    lead = OrganisationFactory(name="CEPSEM (test)")
    return Personas(lead=lead, runner=make_user("programme_manager", organisation=lead),
                    other_manager=make_user("programme_manager"), decider=make_user("decision_maker"),
                    reviewer=make_user("reviewer"), member=make_user("network_member"),
                    innovator=make_user("innovator"))


@pytest.fixture
def coalition(personas) -> Coalition:
    return services.coalition_create(name="Mouvement (test)", lead_organisation=personas.lead, by=personas.runner)


def make_campaign(coalition, name, *, starts_on, by=None, **fields) -> Campaign:
    return services.campaign_create(coalition=coalition, name=name, starts_on=starts_on, by=by, **fields)


@pytest.fixture
def previous(coalition, personas) -> Campaign:
    """The 2018 campaign with its published results, dated at its end."""
    campaign = make_campaign(coalition, "MIS 2018", starts_on=date(2018, 3, 1), ends_on=date(2019, 3, 31),
                             currency="CAD", by=personas.runner)
    services.kpi_record(campaign=campaign, on=date(2019, 3, 31),
                        values={k: Decimal(v) for k, v in SEED_RESULTS.items()}, by=personas.runner)
    return campaign


@pytest.fixture
def current(coalition, previous, personas) -> Campaign:
    """A campaign in progress (1 Jan – 31 Dec 2025), compared with 2018, with two dates of totals."""
    campaign = make_campaign(coalition, "MIS 2.0", starts_on=date(2025, 1, 1), ends_on=date(2025, 12, 31),
                             currency="CAD", previous=previous, planned_budget=Decimal(150_000), by=personas.runner)
    services.kpi_record(campaign=campaign, on=date(2025, 3, 1), by=personas.runner, values={
        "unique_visits": Decimal(800), "complete_views": Decimal(60_000), "unique_reach": Decimal(100_000),
        "impressions": Decimal(400_000), "press_interviews": Decimal(5), "budget": Decimal(30_000)})
    services.kpi_record(campaign=campaign, on=date(2025, 6, 1), by=personas.runner, values={
        "unique_visits": Decimal(3_000), "complete_views": Decimal(150_000), "unique_reach": Decimal(360_000),
        "impressions": Decimal(1_200_000), "press_interviews": Decimal(18), "budget": Decimal(72_000)})
    return campaign
