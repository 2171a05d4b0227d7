"""Rules with personas: reporting organisation member, member of another organisation, outsider, manager."""

from __future__ import annotations

import pytest

from tremplin.web.problems import services

pytestmark = pytest.mark.django_db

CASES = {
    # permission: (reporter, colleague, other_member, outsider, manager, admin)
    "problems.view_problem": (True, True, True, True, True, True),
    "problems.change_problem": (True, True, False, False, True, True),
    "problems.endorse_problem": (False, False, True, False, True, True),
    "problems.manage_problem": (False, False, False, False, True, True),
    "problems.merge_problem": (False, False, False, False, True, True),
    "problems.change_weights": (False, False, False, False, True, True),
    "problems.manage_consultation": (False, False, False, False, True, True),
}
NAMES = ("reporter", "colleague", "other_member", "outsider", "manager", "admin")


@pytest.mark.parametrize("permission", CASES)
def test_object_rules(personas, permission):
    got = tuple(getattr(personas, name).has_perm(permission, personas.problem) for name in NAMES)
    assert dict(zip(NAMES, got, strict=True)) == dict(zip(NAMES, CASES[permission], strict=True))


def test_add_problem_needs_a_membership(personas):
    assert personas.reporter.has_perm("problems.add_problem")
    assert personas.manager.has_perm("problems.add_problem")
    assert not personas.outsider.has_perm("problems.add_problem")


def test_reporters_cannot_edit_once_in_a_call_but_managers_can(personas):
    services.problem_mark_in_call(problem=personas.problem, call="Appel")
    assert not personas.reporter.has_perm("problems.change_problem", personas.problem)
    assert personas.manager.has_perm("problems.change_problem", personas.problem)


def test_closed_problem_cannot_be_endorsed(personas):
    services.problem_change_status(problem=personas.problem, status="declined", reason="Hors champ")
    assert not personas.other_member.has_perm("problems.endorse_problem", personas.problem)


def test_anonymous_reads_consultations_only(personas):
    from django.contrib.auth.models import AnonymousUser

    anonymous = AnonymousUser()
    assert anonymous.has_perm("problems.view_consultation")
    assert not anonymous.has_perm("problems.respond_consultation")
    assert not anonymous.has_perm("problems.view_problem", personas.problem)
    assert personas.outsider.has_perm("problems.respond_consultation")
