"""Object-level rules for calls and proposals, checked for each persona."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from tests.web.calls.conftest import set_phase
from tremplin.web.calls import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(scenario, make_user):
    proposal = scenario.propose()
    services.assignment_add(proposal=proposal, reviewer=scenario.reviewers[0])
    return scenario, proposal, {
        "applicant": scenario.innovator,  # owner: innovator of the proposal's organisation
        "colleague": make_user("network_member", organisation=scenario.applicant),  # member, not innovator
        "other_innovator": make_user("innovator"),  # outsider
        "assigned_reviewer": scenario.reviewers[0],
        "other_reviewer": scenario.outsider_reviewer,
        "manager": scenario.manager,
        "admin": make_user("admin"),
    }


@pytest.mark.parametrize(("perm", "allowed"), [
    ("calls.view_proposal", {"applicant", "colleague", "assigned_reviewer", "manager", "admin"}),
    ("calls.view_attachment", {"applicant", "colleague", "assigned_reviewer", "manager", "admin"}),
    ("calls.change_proposal", {"applicant", "admin"}),
    ("calls.review_proposal", {"assigned_reviewer", "admin"}),
    ("calls.write_reviewer_note", {"assigned_reviewer", "manager", "admin"}),
])
def test_proposal_rules(people, perm, allowed):
    _scenario, proposal, users = people
    granted = {name for name, user in users.items() if user.has_perm(perm, proposal)}
    assert granted == allowed
    assert not AnonymousUser().has_perm(perm, proposal)


@pytest.mark.parametrize(("perm", "allowed"), [
    ("calls.view_call", {"applicant", "colleague", "other_innovator", "assigned_reviewer", "other_reviewer",
                         "manager", "admin"}),
    ("calls.manage_call", {"manager", "admin"}),
    ("calls.add_proposal", {"applicant", "other_innovator", "admin"}),
    ("calls.declare_conflict", {"assigned_reviewer", "other_reviewer", "admin"}),
    ("calls.view_results", {"admin"}),  # nothing public before release (admins are superusers)
])
def test_call_rules_while_open(people, perm, allowed):
    scenario, _proposal, users = people
    assert {name for name, user in users.items() if user.has_perm(perm, scenario.call)} == allowed


def test_draft_calls_are_visible_to_managers_only(people):
    scenario, _proposal, users = people
    set_phase(scenario.call, "draft")
    assert {n for n, u in users.items() if u.has_perm("calls.view_call", scenario.call)} == {"manager", "admin"}
    assert {n for n, u in users.items() if u.has_perm("calls.add_proposal", scenario.call)} == {"admin"}


def test_no_new_proposal_once_closed(people):
    scenario, _proposal, users = people
    set_phase(scenario.call, "review")
    assert not users["applicant"].has_perm("calls.add_proposal", scenario.call)
