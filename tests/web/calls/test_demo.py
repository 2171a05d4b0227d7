"""`manage.py demo_calls`: a realistic released call, a call in review, an open call; idempotent."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tremplin.web.accounts.models import Sector, User
from tremplin.web.calls import selectors
from tremplin.web.calls.models import Assignment, Call, Decision, Proposal, Review

pytestmark = pytest.mark.django_db


def _run(*commands) -> str:
    out = io.StringIO()
    with override_settings(DEBUG=True):
        for command in commands:
            call_command(command, stdout=out)
    return out.getvalue()


def _counts():
    return {m.__name__: m.objects.count() for m in (Call, Proposal, Assignment, Review, Decision, User)}


def test_demo_calls_content_and_idempotence():
    _run("demo_setup", "demo_calls")  # demo_setup runs demo_problems and demo_calls too: this checks idempotence
    released = Call.objects.get(decisions_released_at__isnull=False)
    assert released.phase == "results" and released.problems.count() == 3
    proposals = Proposal.objects.filter(call=released)
    assert proposals.count() >= 12
    assert set(proposals.values_list("organisation__sector", flat=True)) == set(Sector.values)
    assert not proposals.filter(decision__isnull=True).exists()
    assert proposals.filter(selected_at__isnull=False).exists()
    rows = selectors.call_ranking(call=released)
    assert all(r.aggregate.n_reviews == 3 for r in rows)
    assert any(r.aggregate.disagreement for r in rows)
    selected = sum(r.proposal.requested_amount for r in rows if r.decision.outcome == "selected")
    assert selected <= released.budget_envelope
    # Reviewers are never assigned to their own organisation's proposals.
    for a in Assignment.objects.select_related("proposal"):
        assert not a.reviewer.memberships.filter(organisation_id=a.proposal.organisation_id).exists()
    # The demo reviewer and innovator have something to do.
    reviewer = User.objects.get(email="reviewer@demo.tremplin.org")
    assert [i for i in selectors.review_queue(user=reviewer) if not i.done and i.assignment.proposal.call.phase
            == "review"]
    innovator = User.objects.get(email="innovator@demo.tremplin.org")
    mine = selectors.my_proposals(user=innovator)
    assert mine.filter(status="draft", call__review_starts_at__gt=released.results_at).exists()
    assert mine.filter(call=released, decision__isnull=False).exists()
    before = _counts()
    _run("demo_calls")
    assert _counts() == before


def test_demo_calls_requires_the_base_demo():
    with pytest.raises(CommandError, match="demo_setup"):
        _run("demo_calls")
    assert not Call.objects.exists()


def test_demo_calls_creates_its_problems_when_the_problems_demo_is_absent():
    from tremplin.web.calls.management.commands.demo_calls import PROBLEMS, Command
    from tremplin.web.problems.models import Problem

    _run("demo_setup")
    title = PROBLEMS["heart"][0]
    Problem.objects.filter(title=title).update(title="Renommée")
    command = Command()
    problem = command._problem("heart")
    assert problem.title == title and problem.territories.get().code == PROBLEMS["heart"][3]
