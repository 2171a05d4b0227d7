"""Who sees and changes what, with personas around one experiment."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

PERMISSIONS = {
    # permission: personas allowed (object-level on the experiment)
    "portfolio.view_portfolio": {"manager", "admin", "decider", "evaluator", "lead_member", "partner_member",
                                 "outsider", "member_elsewhere"},
    "portfolio.view_experiment": {"manager", "admin", "decider", "evaluator", "lead_member", "partner_member"},
    "portfolio.update_progress": {"manager", "admin", "lead_member", "partner_member"},
    "portfolio.change_experiment": {"manager", "admin"},
    "portfolio.add_experiment": {"manager", "admin"},
    "portfolio.manage_gate_criteria": {"manager", "admin"},
}


@pytest.mark.parametrize("permission", sorted(PERMISSIONS))
def test_experiment_permissions_by_persona(personas, experiment, permission):
    allowed = {name for name, user in personas.items() if user.has_perm(permission, experiment)}
    assert allowed == PERMISSIONS[permission]


def test_details_are_for_readers_only(personas):
    allowed = {name for name, user in personas.items() if user.has_perm("portfolio.view_portfolio_details")}
    assert allowed == {"manager", "admin", "decider", "evaluator"}


def test_anonymous_gets_nothing(experiment):
    from django.contrib.auth.models import AnonymousUser

    assert not any(AnonymousUser().has_perm(p, experiment) for p in PERMISSIONS)


def test_milestone_objects_follow_their_experiment(personas, experiment):
    from datetime import date

    from tremplin.web.portfolio import services

    milestone = services.milestone_add(experiment=experiment, name="J1", due_date=date(2025, 1, 1))
    assert personas["partner_member"].has_perm("portfolio.update_progress", milestone)
    assert not personas["outsider"].has_perm("portfolio.update_progress", milestone)
