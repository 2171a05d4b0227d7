"""The coalition: organisations approached → engaged → members (or declined), their contact, commitments and
governance role, the history of interactions, and the funnel computed from that history."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from tests.web.factories import OrganisationFactory
from tremplin.web.campaign import selectors, services
from tremplin.web.campaign.models import Interaction

pytestmark = pytest.mark.django_db


def _add(coalition, by, status="approached", on=date(2025, 1, 10)):
    return services.member_add(coalition=coalition, organisation=OrganisationFactory(), by=by, status=status, on=on,
                               kind="meeting", summary="Premier contact.")


def test_the_funnel_counts_every_stage_an_organisation_reached(coalition, personas):
    by = personas.runner
    members = [_add(coalition, by) for _ in range(6)]
    # 0 and 1 engage; 1 then becomes a member; 2 engages then declines; 3 declines straight away; 4, 5 wait.
    services.interaction_add(member=members[0], by=by, on=date(2025, 2, 1), kind="call", summary="Oui.",
                             status="engaged")
    services.interaction_add(member=members[1], by=by, on=date(2025, 2, 1), kind="call", summary="Oui.",
                             status="engaged")
    services.interaction_add(member=members[1], by=by, on=date(2025, 3, 1), kind="letter", summary="Signé.",
                             status="member")
    services.interaction_add(member=members[2], by=by, on=date(2025, 2, 1), kind="call", summary="Peut-être.",
                             status="engaged")
    services.interaction_add(member=members[2], by=by, on=date(2025, 3, 1), kind="email", summary="Non.",
                             status="declined")
    services.interaction_add(member=members[3], by=by, on=date(2025, 2, 1), kind="email", summary="Non.",
                             status="declined")
    stages, declined = selectors.coalition_funnel(coalition)
    # By hand: approached 6 (everyone), engaged 3 (0, 1, 2 — 2 engaged before declining), member 1.
    assert [(s.status, s.reached, s.current) for s in stages] == [
        ("approached", 6, 2), ("engaged", 3, 1), ("member", 1, 1)]
    assert declined == 2


def test_a_status_change_is_kept_in_the_history(coalition, personas):
    member = _add(coalition, personas.runner)
    services.interaction_add(member=member, by=personas.runner, on=date(2025, 2, 1), kind="meeting",
                             summary="Rencontre avec la direction.", status="engaged")
    services.interaction_add(member=member, by=personas.runner, on=date(2025, 2, 15), kind="call",
                             summary="Suivi, rien de neuf.", status="engaged")  # same status: no change recorded
    member.refresh_from_db()
    assert (member.status, member.status_changed_on) == ("engaged", date(2025, 2, 1))
    history = list(member.interactions.values_list("on", "status_before", "status_after"))
    assert history == [(date(2025, 2, 15), "", ""), (date(2025, 2, 1), "approached", "engaged"),
                       (date(2025, 1, 10), "", "approached")]


def test_a_change_cannot_be_dated_before_the_last_one(coalition, personas):
    member = _add(coalition, personas.runner)
    services.interaction_add(member=member, by=personas.runner, on=date(2025, 3, 1), kind="call", summary="Oui.",
                             status="engaged")
    with pytest.raises(ValidationError) as caught:
        services.interaction_add(member=member, by=personas.runner, on=date(2025, 2, 1), kind="call",
                                 summary="Non.", status="declined")
    assert "on" in caught.value.message_dict
    with pytest.raises(ValidationError):
        services.interaction_add(member=member, by=personas.runner, on=date(2999, 1, 1), kind="call", summary="?")
    with pytest.raises(ValidationError):
        services.interaction_add(member=member, by=personas.runner, on=date(2025, 3, 2), kind="call", summary="  ")
    assert Interaction.objects.filter(member=member).count() == 2


def test_only_members_hold_a_governance_role(coalition, personas):
    member = _add(coalition, personas.runner)
    with pytest.raises(ValidationError) as caught:
        services.member_update(member=member, governance_role="spokesperson")
    assert "governance_role" in caught.value.message_dict
    services.interaction_add(member=member, by=personas.runner, on=date(2025, 2, 1), kind="letter",
                             summary="Entente.", status="member")
    services.member_update(member=member, governance_role="spokesperson", contact_name="Claire Roy",
                           commitments="Porte-parole.")
    member.refresh_from_db()
    assert (member.governance_role, member.contact_name) == ("spokesperson", "Claire Roy")
    # Leaving the coalition drops the role.
    services.interaction_add(member=member, by=personas.runner, on=date(2025, 4, 1), kind="email",
                             summary="Se retire.", status="declined")
    member.refresh_from_db()
    assert member.governance_role == "none"


def test_an_organisation_is_in_a_coalition_once(coalition, personas):
    organisation = OrganisationFactory()
    services.member_add(coalition=coalition, organisation=organisation, by=personas.runner, on=date(2025, 1, 1))
    with pytest.raises(ValidationError):
        services.member_add(coalition=coalition, organisation=organisation, by=personas.runner, on=date(2025, 1, 1))
    assert coalition.members.count() == 1
