"""Conflicts of interest (issue 12, items 4 and 5).

- Declaring a conflict with an organisation must not tell a blind reviewer which proposal is that
  organisation's: every page the reviewer reaches is byte-for-byte the same before and after (and after the
  manager accepts it); the manager sees the conflict, the assignments it covers, and decides.
- Once reviews are final, a conflict is a request: nothing is deleted, the ranking and the exports do not move
  (after the release not even when the manager is asked to accept); notes are refused after the release;
  reviewers never see the title of a proposal they are not assigned, not even on the conflicts page.
"""

from __future__ import annotations

import re
from statistics import mean

import pytest
from django.urls import reverse

from tests.web.calls.conftest import set_phase
from tests.web.factories import OrganisationFactory
from tremplin.web.calls import scoring, selectors, services
from tremplin.web.calls.models import Assignment, Conflict, Proposal, Review, ReviewerNote

pytestmark = pytest.mark.django_db


def _propose(call, organisation, innovator, title) -> Proposal:
    proposal = services.proposal_create(call=call, user=innovator, organisation=organisation, title=title,
                                        summary="Résumé", description="Description",
                                        budget_lines=[{"label": "Poste", "amount": 10_000}])
    return services.proposal_submit(proposal=proposal, user=innovator)


def _review(proposal, reviewer, score, submit=True):
    return services.review_save(proposal=proposal, reviewer=reviewer, submit=submit, comment=f"Avis {score}",
                                scores={c.pk: (score, "") for c in proposal.call.criteria.all()})


# Scores (0-4, the same on every criterion, so the weighted score is that number), by proposal and reviewer.
SCORES = {"A": [4, 2, 3], "B": [1, 3, 2], "C": [2, 2, 4]}


@pytest.fixture
def panel(scenario, make_user):
    """A blind call in review: proposals A (the applicant's, with its partner), B and C (another organisation's);
    reviewers 0-2 each review all three with SCORES, except that reviewer 0 has only a draft on C."""
    other = OrganisationFactory(name="Autre candidat", sector="public")
    other_innovator = make_user("innovator", organisation=other)
    call = scenario.call
    a = scenario.propose("Proposition A")
    b = _propose(call, other, other_innovator, "Proposition B")
    c = _propose(call, other, other_innovator, "Proposition C")
    reviewers = scenario.reviewers[:3]
    for proposal in (a, b, c):
        for reviewer in reviewers:
            services.assignment_add(proposal=proposal, reviewer=reviewer, by=scenario.manager)
    set_phase(call, "review")
    for name, proposal in (("A", a), ("B", b), ("C", c)):
        for reviewer, score in zip(reviewers, SCORES[name], strict=True):
            _review(proposal, reviewer, score, submit=not (name == "C" and reviewer == reviewers[0]))
    scenario.proposals = [a, b, c]
    scenario.other = other
    return scenario


_NOISE = [
    (re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"'), 'name="csrfmiddlewaretoken" value=""'),
    (re.compile(r'"X-CSRFToken": "[^"]*"'), '"X-CSRFToken": ""'),
    (re.compile(r'nonce="[^"]*"'), 'nonce=""'),
]
_DECLARED = re.compile(r'<ul data-testid="declared-conflicts">.*?</ul>', re.S)


def _normalise(text: str) -> str:
    for pattern, replacement in _NOISE:
        text = pattern.sub(replacement, text)
    return text


def reviewer_view(client, reviewer, call, proposals) -> dict[str, str]:
    """Every page and API answer the reviewer reaches about the call (CSRF tokens blanked). The conflicts page
    is compared without the list of the reviewer's own declarations, which shows what they declared."""
    client.force_login(reviewer)
    urls = [reverse("core:dashboard"), reverse("calls:call-list"),
            reverse("calls:call-detail", args=[call.pk]), reverse("calls:review-queue"),
            *[reverse(name, args=[p.pk]) for p in proposals for name in ("calls:review-edit", "calls:proposal-detail")],
            "/api/v1/calls/", f"/api/v1/calls/{call.pk}/", "/api/v1/proposals/", f"/api/v1/proposals/?call={call.pk}",
            *[f"/api/v1/proposals/{p.pk}/" for p in proposals]]
    pages = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        pages[url] = _normalise(response.content.decode())
    conflicts = client.get(reverse("calls:call-conflicts", args=[call.pk]))
    assert conflicts.status_code == 200
    pages["conflicts"] = _DECLARED.sub("", _normalise(conflicts.content.decode()))
    return pages


def _assert_same(before: dict[str, str], after: dict[str, str]) -> None:
    assert before.keys() == after.keys()
    changed = [url for url in before if before[url] != after[url]]
    if changed:
        import difflib

        diff = "\n".join(difflib.unified_diff(before[changed[0]].splitlines(), after[changed[0]].splitlines(),
                                              lineterm="", n=1))
        pytest.fail(f"pages the reviewer sees changed: {changed}\n{diff[:3000]}")


def _declare_organisation(client, call, organisation):
    response = client.post(reverse("calls:call-conflicts", args=[call.pk]),
                           {"organisation": organisation.pk, "reason": "ancien employeur"}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


# --- item 4: an organisation conflict does not reveal the applicant -------------------------------------------


def test_declaring_an_organisation_conflict_changes_nothing_the_reviewer_sees(client, panel):
    call, (a, b, c) = panel.call, panel.proposals
    reviewer = panel.reviewers[0]
    unrelated = OrganisationFactory(name="Sans proposition")
    pages = reviewer_view(client, reviewer, call, [a, b, c])
    assert reviewer_view(client, reviewer, call, [a, b, c]) == pages  # the comparison is stable
    # The applicant's organisation (A is its proposal) and an organisation with nothing in the reviewer's queue.
    said_applicant = _declare_organisation(client, call, panel.applicant)
    _assert_same(pages, reviewer_view(client, reviewer, call, [a, b, c]))
    said_unrelated = _declare_organisation(client, call, unrelated)
    _assert_same(pages, reviewer_view(client, reviewer, call, [a, b, c]))
    assert said_applicant == said_unrelated  # not even the confirmation differs
    # Nothing was deleted: A is still assigned, its review still counts.
    assert Assignment.objects.filter(proposal=a, reviewer=reviewer).exists()
    assert Review.objects.get(proposal=a, reviewer=reviewer).withdrawn_at is None
    assert set(Conflict.objects.filter(reviewer=reviewer).values_list("status", flat=True)) == {"requested"}


def test_the_manager_sees_the_organisation_conflict_and_accepting_it_changes_nothing_for_the_reviewer(
        client, panel):
    call, (a, b, c) = panel.call, panel.proposals
    reviewer = panel.reviewers[0]
    pages = reviewer_view(client, reviewer, call, [a, b, c])
    _declare_organisation(client, call, panel.partner)  # A's partner: covers A, not B or C
    conflict = Conflict.objects.get(reviewer=reviewer)

    client.force_login(panel.manager)
    assert "1 en attente de décision" in client.get(reverse("calls:call-detail", args=[call.pk])).content.decode()
    assert "1 en attente de décision" in client.get(reverse("calls:call-assignments", args=[call.pk])).content.decode()
    manage = client.get(reverse("calls:call-conflicts-manage", args=[call.pk]))
    assert manage.status_code == 200
    [row] = manage.context["rows"]
    assert row.conflict == conflict and [assignment.proposal for assignment, _review in row.covered] == [a]
    page = manage.content.decode()
    assert reviewer.email in page and panel.partner.name in page and "ancien employeur" in page

    response = client.post(reverse("calls:call-conflicts-manage", args=[call.pk]),
                           {"conflict": conflict.pk, "action": "accept", "note": "lien avéré"}, follow=True)
    assert response.redirect_chain[-1][1] == 302 and "Conflit accepté" in response.content.decode()
    conflict.refresh_from_db()
    assert conflict.status == "accepted" and conflict.decided_by == panel.manager
    withdrawn = Review.objects.get(proposal=a, reviewer=reviewer)
    assert withdrawn.withdrawn_at is not None and withdrawn.withdrawn_for == conflict
    assert withdrawn.scores.count() == call.criteria.count()  # kept with its scores
    assert not Review.objects.filter(reviewer=reviewer, proposal__in=[b, c], withdrawn_at__isnull=False).exists()

    # The ranking no longer counts the withdrawn review: A's mean is that of the two other reviewers.
    ranked = {r.proposal_id: r.aggregate for r in selectors.call_ranking(call=call)}
    assert ranked[a.pk].n_reviews == 2 and ranked[a.pk].mean == pytest.approx(mean(SCORES["A"][1:]))
    assert ranked[b.pk].n_reviews == 3 and ranked[b.pk].mean == pytest.approx(mean(SCORES["B"]))
    # ... and the normalised scores are the reference aggregate over the reviews that count (reviewer 0's
    # z-scores now come from B only, their draft on C not being submitted).
    counted = [scoring.ReviewScore(r, p, x) for r, p, x in Review.objects.filter(
        proposal__call=call, status="submitted", withdrawn_at__isnull=True).values_list(
        "reviewer_id", "proposal_id", "weighted_score")]
    reference = scoring.aggregate(counted)
    for pk, aggregate in ranked.items():
        assert aggregate.normalised == pytest.approx(reference[pk].normalised)

    # The reviewer's pages are still identical: their own review, queue and others' reviews did not move.
    _assert_same(pages, reviewer_view(client, reviewer, call, [a, b, c]))


def test_an_accepted_organisation_conflict_withdraws_a_review_written_afterwards(scenario, make_user):
    call = scenario.call
    proposal = scenario.propose("Proposition A")
    reviewer = scenario.reviewers[0]
    services.assignment_add(proposal=proposal, reviewer=reviewer)
    conflict = services.conflict_declare(call=call, reviewer=reviewer, organisation=scenario.applicant)
    services.conflict_decide(conflict=conflict, accept=True, by=scenario.manager)
    set_phase(call, "review")
    review = _review(proposal, reviewer, 4)
    assert review.withdrawn_for == conflict
    assert selectors.call_ranking(call=call)[0].aggregate.n_reviews == 0


def test_organisation_conflicts_keep_the_organisation_from_new_assignments(panel):
    call = panel.call
    reviewer = panel.outsider_reviewer
    services.conflict_declare(call=call, reviewer=reviewer, organisation=panel.other)
    set_phase(call, "open")
    later = _propose(call, panel.other, panel.other.memberships.get().user, "Proposition D")
    with pytest.raises(Exception, match="Conflit"):
        services.assignment_add(proposal=later, reviewer=reviewer)
    services.assignments_auto(call=call)
    assert not Assignment.objects.filter(reviewer=reviewer, proposal__organisation=panel.other).exists()
    # Dismissed by the manager, the conflict no longer stands in the way.
    services.conflict_decide(conflict=Conflict.objects.get(reviewer=reviewer), accept=False, by=panel.manager)
    services.assignment_add(proposal=later, reviewer=reviewer)


def test_reviewers_cannot_take_back_an_organisation_conflict(client, panel):
    """Whether it is still pending or accepted would tell them whether one of their proposals is concerned."""
    call = panel.call
    reviewer = panel.reviewers[0]
    client.force_login(reviewer)
    _declare_organisation(client, call, panel.applicant)
    conflict = Conflict.objects.get(reviewer=reviewer)
    assert reverse("calls:conflict-delete", args=[call.pk]) not in client.get(
        reverse("calls:call-conflicts", args=[call.pk])).content.decode()
    client.post(reverse("calls:conflict-delete", args=[call.pk]), {"conflict": conflict.pk})
    assert Conflict.objects.filter(pk=conflict.pk, status="requested").exists()


# --- item 5: after reviews are final, nothing is deleted --------------------------------------------------------


def _snapshot(client, manager, call) -> dict:
    client.force_login(manager)
    ranking = [(r.proposal_id, r.rank, r.aggregate.n_reviews, r.aggregate.mean, r.aggregate.normalised,
                r.aggregate.spread, r.outcome) for r in selectors.call_ranking(call=call)]
    exports = {}
    for what in ("proposals", "reviews", "decisions"):
        for fmt in ("csv",):
            response = client.get(reverse("calls:call-export", args=[call.pk]), {"what": what, "fmt": fmt})
            assert response.status_code == 200
            exports[what, fmt] = response.content
    page = client.get(reverse("calls:call-ranking", args=[call.pk]))
    return {"ranking": ranking, "exports": exports, "rows": [(r.proposal_id, r.rank) for r in page.context["rows"]],
            "reviews": sorted(Review.objects.filter(proposal__call=call).values_list(
                "pk", "proposal_id", "reviewer_id", "status", "weighted_score", "comment", "submitted_at")),
            "notes": ReviewerNote.objects.filter(proposal__call=call).count()}


@pytest.fixture
def released(panel):
    """The panel's call with its decisions released, in its results phase."""
    call = panel.call
    set_phase(call, "results")
    for proposal, outcome in zip(panel.proposals, ("selected", "reserve", "rejected"), strict=True):
        services.decision_record(proposal=proposal, outcome=outcome, reason="Motif", by=panel.manager)
    services.decisions_release(call=call, by=panel.manager)
    call.refresh_from_db()
    return panel


def test_after_the_release_a_reviewer_cannot_delete_their_review_by_declaring_a_conflict(client, released):
    call, a = released.call, released.proposals[0]
    reviewer = released.reviewers[1]
    before = _snapshot(client, released.manager, call)
    client.force_login(reviewer)
    url = reverse("calls:call-conflicts", args=[call.pk])
    # The probe's attack: POST /appels/<id>/conflits/ proposal=<id> on a call in its results phase.
    assert client.post(url, {"proposal": a.pk, "reason": "après coup"}).status_code == 302
    assert client.post(url, {"organisation": released.other.pk}).status_code == 302
    assert Review.objects.filter(proposal=a, reviewer=reviewer, status="submitted").exists()  # deleted on main
    assert Assignment.objects.filter(proposal=a, reviewer=reviewer).exists()
    assert _snapshot(client, released.manager, call) == before
    assert Review.objects.get(proposal=a, reviewer=reviewer).withdrawn_at is None
    assert set(Conflict.objects.filter(reviewer=reviewer).values_list("status", flat=True)) == {"requested"}

    # The manager cannot accept it any more (the ranking is published), only dismiss it.
    conflict = Conflict.objects.get(reviewer=reviewer, proposal=a)
    client.force_login(released.manager)
    manage_url = reverse("calls:call-conflicts-manage", args=[call.pk])
    response = client.post(manage_url, {"conflict": conflict.pk, "action": "accept"}, follow=True)
    assert "publiées" in " ".join(str(m) for m in response.context["messages"])
    conflict.refresh_from_db()
    assert conflict.status == "requested"
    assert _snapshot(client, released.manager, call) == before
    client.post(manage_url, {"conflict": conflict.pk, "action": "dismiss", "note": "trop tard"})
    conflict.refresh_from_db()
    assert conflict.status == "dismissed" and conflict.decision_note == "trop tard"
    assert _snapshot(client, released.manager, call) == before


def test_in_deliberation_a_conflict_is_a_request_and_only_the_managers_acceptance_withdraws_the_review(
        client, panel):
    call, b = panel.call, panel.proposals[1]
    set_phase(call, "deliberation")
    reviewer = panel.reviewers[2]
    before = _snapshot(client, panel.manager, call)
    client.force_login(reviewer)
    assert client.post(reverse("calls:call-conflicts", args=[call.pk]), {"proposal": b.pk}).status_code == 302
    assert _snapshot(client, panel.manager, call) == before  # a request changes nothing
    conflict = Conflict.objects.get(reviewer=reviewer)
    services.conflict_decide(conflict=conflict, accept=True, by=panel.manager)
    review = Review.objects.get(proposal=b, reviewer=reviewer)
    assert review.withdrawn_at is not None  # kept, flagged
    ranked = {r.proposal_id: r.aggregate for r in selectors.call_ranking(call=call)}
    assert ranked[b.pk].n_reviews == 2 and ranked[b.pk].mean == pytest.approx(mean(SCORES["B"][:2]))
    after = _snapshot(client, panel.manager, call)
    assert len(after["reviews"]) == len(before["reviews"])  # nothing deleted
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(after["exports"]["reviews", "csv"].decode("utf-8-sig"))))
    flagged = [row for row in rows if row["withdrawn_at"]]
    assert [(int(row["proposal_id"]), row["reviewer_email"]) for row in flagged] == [(b.pk, reviewer.email)]
    # The audit log has the withdrawal.
    from tremplin.web.core.models import AuditLog

    assert AuditLog.objects.filter(model="calls.review", object_pk=str(review.pk), action="update",
                                   changes__has_key="withdrawn_at").exists()


def test_a_conflict_during_the_review_phase_removes_only_what_is_not_submitted(panel):
    call, (a, _b, c) = panel.call, panel.proposals
    reviewer = panel.reviewers[0]
    # A draft (C): the assignment and the draft go at once.
    conflict = services.conflict_declare(call=call, reviewer=reviewer, proposal=c)
    assert conflict.status == "accepted"
    assert not Assignment.objects.filter(proposal=c, reviewer=reviewer).exists()
    assert not Review.objects.filter(proposal=c, reviewer=reviewer).exists()
    # A submitted review (A): a request, the review stays.
    conflict = services.conflict_declare(call=call, reviewer=reviewer, proposal=a)
    assert conflict.status == "requested"
    assert Review.objects.filter(proposal=a, reviewer=reviewer, status="submitted").exists()
    # The reviewer may take back a pending request on a proposal, not a decided one.
    services.conflict_delete(conflict=conflict)
    accepted = Conflict.objects.get(reviewer=reviewer, proposal=c)
    with pytest.raises(Exception, match="ne peut plus"):
        services.conflict_delete(conflict=accepted)


def test_reviewer_notes_are_refused_after_the_release(client, released):
    a = released.proposals[0]
    before = ReviewerNote.objects.count()
    for user in (released.reviewers[0], released.manager):
        client.force_login(user)
        response = client.post(reverse("calls:note-add", args=[a.pk]), {"text": "Ajout après coup"}, follow=True)
        assert response.status_code == 200
        assert "publiées" in " ".join(str(m) for m in response.context["messages"])
    assert ReviewerNote.objects.count() == before


def test_the_conflicts_page_shows_no_title_of_a_proposal_the_reviewer_is_not_assigned(client, panel):
    call, (a, b, _c) = panel.call, panel.proposals
    reviewer = panel.outsider_reviewer
    services.assignment_add(proposal=b, reviewer=reviewer)  # assigned to B only
    client.force_login(reviewer)
    url = reverse("calls:call-conflicts", args=[call.pk])
    page = client.get(url).content.decode()
    assert "Proposition B" in page
    for proposal in Proposal.objects.filter(call=call).exclude(pk=b.pk):
        assert proposal.title not in page
    # Nor can the reviewer declare a conflict on a proposal they cannot see (an id guessed or kept).
    response = client.post(url, {"proposal": a.pk})
    assert response.status_code == 400 and "proposal" in response.context["form"].errors
    assert not Conflict.objects.filter(reviewer=reviewer).exists()
    # A conflict on a proposal no longer assigned is listed by number only.
    conflict = services.conflict_declare(call=call, reviewer=reviewer, proposal=b)
    assert conflict.status == "accepted" and not Assignment.objects.filter(proposal=b, reviewer=reviewer).exists()
    page = client.get(url).content.decode()
    assert f"#{b.pk}" in page and "Proposition B" not in page


def test_the_managers_conflicts_page_query_count_does_not_grow(client, scenario, django_assert_max_num_queries):
    from tests.web.calls.test_views import _count, _grow

    call = scenario.call
    set_phase(call, "review")

    def declare(n):
        for reviewer in scenario.reviewers[:2]:
            _grow(call, [reviewer], n)
            for organisation in OrganisationFactory.create_batch(n):
                Conflict.objects.create(call=call, reviewer=reviewer, organisation=organisation)
            for proposal in Proposal.objects.filter(call=call, assignments__reviewer=reviewer)[:n]:
                Conflict.objects.create(call=call, reviewer=reviewer, proposal=proposal)

    declare(2)
    client.force_login(scenario.manager)
    url = reverse("calls:call-conflicts-manage", args=[call.pk])
    small = _count(client, url)
    declare(15)
    with django_assert_max_num_queries(small):
        response = client.get(url)
    assert len(response.context["rows"]) == 2 * (2 + 2 + 15 + 15)
    assert sum(len(row.covered) for row in response.context["rows"]) == 2 * (2 + 15)  # the proposal conflicts


def test_the_managers_dashboard_points_to_pending_conflicts(client, panel):
    client.force_login(panel.manager)
    link = reverse("calls:call-conflicts-manage", args=[panel.call.pk])
    assert link not in client.get(reverse("core:dashboard")).content.decode()
    services.conflict_declare(call=panel.call, reviewer=panel.reviewers[0], organisation=panel.applicant)
    assert link in client.get(reverse("core:dashboard")).content.decode()
    client.force_login(panel.reviewers[0])
    assert link not in client.get(reverse("core:dashboard")).content.decode()
