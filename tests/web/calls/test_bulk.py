"""Bulk actions on a call's lists: decide by threshold, from the budget-constrained suggestion or for the ticked
proposals (audited, all or nothing); assign or unassign many at once; export a selection."""

from __future__ import annotations

import csv
import html
import io
import itertools

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.web.calls.conftest import set_phase
from tests.web.factories import OrganisationFactory, ProposalFactory, make_call
from tremplin.web.calls import services
from tremplin.web.calls.models import Assignment, Decision, Review
from tremplin.web.core.models import AuditLog

pytestmark = pytest.mark.django_db


def _decisions(call) -> dict[int, str]:
    return dict(Decision.objects.filter(proposal__call=call).values_list("proposal_id", "outcome"))


def _bulk(client, call, **data):
    return client.post(reverse("calls:decisions-bulk", args=[call.pk]), data)


def test_decide_by_threshold_with_the_rest_of_the_list_in_one_step_audited(client, reviewed):
    call = reviewed.call
    p1, p2 = reviewed.proposals  # means 3 and 1
    client.force_login(reviewed.manager)
    response = _bulk(client, call, mode="threshold", threshold="2", outcome="selected", reason="Au-dessus du seuil",
                     others_outcome="rejected", others_reason="Sous le seuil")
    assert response.status_code == 302
    assert _decisions(call) == {p1.pk: "selected", p2.pk: "rejected"}
    assert Decision.objects.get(proposal=p2).reason == "Sous le seuil"
    assert Decision.objects.get(proposal=p1).decided_by == reviewed.manager
    # Each decision is audited as a single one, and the bulk action itself on the call.
    created = AuditLog.objects.filter(model="calls.decision", action="create")
    assert set(created.values_list("object_pk", flat=True)) == {str(d.pk) for d in Decision.objects.all()}
    bulk = AuditLog.objects.get(model="calls.call", object_pk=str(call.pk), changes__has_key="bulk_decisions")
    assert bulk.actor == reviewed.manager
    summary = bulk.changes["bulk_decisions"][1]
    assert (summary["mode"], summary["selected"], summary["rejected"]) == ("threshold", [p1.pk], [p2.pk])
    assert mail.outbox == [] or all("Décision" not in m.subject for m in mail.outbox)  # nothing released


def test_existing_decisions_are_kept_unless_replaced(reviewed):
    call = reviewed.call
    p1, p2 = reviewed.proposals
    services.decision_record(proposal=p2, outcome="reserve", reason="Manuel", by=reviewed.manager)
    result = services.decisions_bulk(call=call, chosen=[p1.pk, p2.pk], outcome="selected", reason="Lot")
    assert result == {"decided": 1, "kept": 1} and _decisions(call) == {p1.pk: "selected", p2.pk: "reserve"}
    result = services.decisions_bulk(call=call, chosen=[p2.pk], outcome="rejected", reason="Lot", overwrite=True)
    assert result == {"decided": 1, "kept": 0} and _decisions(call)[p2.pk] == "rejected"


def test_bulk_decisions_are_all_or_nothing_and_follow_the_phases(reviewed):
    call = reviewed.call
    p1, _p2 = reviewed.proposals
    elsewhere = ProposalFactory(call=make_call("deliberation"))
    with pytest.raises(ValidationError, match=f"#{elsewhere.pk}"):
        services.decisions_bulk(call=call, chosen=[p1.pk, elsewhere.pk], outcome="selected", reason="x")
    with pytest.raises(ValidationError, match="motif"):
        services.decisions_bulk(call=call, chosen=[p1.pk], outcome="selected", reason=" ")
    with pytest.raises(ValidationError, match="permises"):
        services.decisions_bulk(call=call, chosen=[p1.pk], outcome="maybe", reason="x")
    assert Decision.objects.count() == 0
    set_phase(call, "review")
    with pytest.raises(services.PhaseError):
        services.decisions_bulk(call=call, chosen=[p1.pk], outcome="selected", reason="x")
    set_phase(call, "deliberation")
    services.decisions_bulk(call=call, chosen=[p1.pk], outcome="selected", reason="x")
    services.decision_record(proposal=_p2, outcome="rejected", reason="x")
    services.decisions_release(call=call)
    with pytest.raises(ValidationError, match="publiées"):
        services.decisions_bulk(call=call, chosen=[p1.pk], outcome="rejected", reason="x", overwrite=True)


@pytest.fixture
def budgeted(make_user):
    """Six reviewed proposals with different amounts and scores; an envelope of 300,000 €."""
    call = make_call("review", budget_envelope=300_000, max_amount_per_proposal=200_000)
    reviewer = make_user("reviewer")
    criteria = list(call.criteria.all())
    # Amounts in multiples of the knapsack's budget unit (3 € for this envelope: exact), one best set.
    plan = [(150_000, 4), (120_000, 3), (99_000, 3), (51_000, 2), (60_000, 1), (198_000, 4)]
    proposals = []
    for amount, score in plan:
        p = ProposalFactory(call=call, organisation=OrganisationFactory(), requested_amount=amount)
        Assignment.objects.create(proposal=p, reviewer=reviewer)
        services.review_save(proposal=p, reviewer=reviewer, scores={c.pk: (score, "") for c in criteria}, submit=True)
        proposals.append((p, amount, score))
    set_phase(call, "deliberation")
    return call, proposals


def test_decide_from_the_budget_constrained_suggestion_matches_brute_force(client, budgeted, make_user):
    call, proposals = budgeted
    best, best_value = set(), -1.0
    for k in range(len(proposals) + 1):  # the reference: every subset within the envelope
        for subset in itertools.combinations(proposals, k):
            if sum(a for _p, a, _s in subset) <= 300_000 and sum(s for _p, _a, s in subset) > best_value:
                best, best_value = {p.pk for p, _a, _s in subset}, sum(s for _p, _a, s in subset)
    client.force_login(make_user("programme_manager"))
    _bulk(client, call, mode="suggestion", outcome="selected", reason="Dans l'enveloppe", others_outcome="reserve",
          others_reason="Hors enveloppe", min_score="0")
    decisions = _decisions(call)
    assert len(best) == 3  # A, C and D: 300,000 € for 9 points, better than any other set
    assert {pk for pk, o in decisions.items() if o == "selected"} == best
    assert {pk for pk, o in decisions.items() if o == "reserve"} == {p.pk for p, _a, _s in proposals} - best


def test_decide_the_ticked_proposals_within_filters(client, budgeted, make_user):
    call, proposals = budgeted
    client.force_login(make_user("programme_manager"))
    ticked = [proposals[0][0].pk, proposals[4][0].pk]
    _bulk(client, call, mode="selection", ids=ticked, outcome="reserve", reason="Cochées",
          others_outcome="rejected", others_reason="Le reste de la liste filtrée", min="3")
    # "The rest" is the list the filters keep (mean >= 3), not the whole call.
    assert _decisions(call) == {ticked[0]: "reserve", ticked[1]: "reserve",
                                **{p.pk: "rejected" for p, _a, s in proposals if s >= 3 and p.pk not in ticked}}
    response = _bulk(client, call, mode="selection", outcome="reserve", reason="rien de coché")
    assert response.status_code == 302 and len(_decisions(call)) == 5  # nothing more


def test_bulk_assign_and_unassign_all_or_nothing(client, scenario, make_user):
    p1, p2, p3 = (scenario.propose(t) for t in ("A", "B", "C"))
    reviewer = scenario.reviewers[0]
    client.force_login(scenario.manager)
    url = reverse("calls:assignments-bulk", args=[scenario.call.pk])
    mail.outbox.clear()
    client.post(url, {"ids": [p1.pk, p2.pk], "reviewer": reviewer.email, "action": "assign"})
    assert set(Assignment.objects.filter(reviewer=reviewer).values_list("proposal_id", flat=True)) == {p1.pk, p2.pk}
    assert [m.to for m in mail.outbox] == [[reviewer.email]] and "2 proposition(s)" in mail.outbox[0].body
    # A conflict on one proposal refuses the whole action (the partner's proposals: every proposal but D).
    p4 = services.proposal_create(call=scenario.call, user=scenario.innovator, organisation=scenario.applicant,
                                  title="D", summary="s", description="d", budget_lines=[{"label": "x", "amount": 10}])
    services.proposal_submit(proposal=p4, user=scenario.innovator)
    services.conflict_declare(call=scenario.call, reviewer=scenario.reviewers[1], proposal=None,
                              organisation=scenario.partner, reason="ancien employeur")
    before = Assignment.objects.count()
    response = client.post(url, {"ids": [p4.pk, p3.pk], "reviewer": scenario.reviewers[1].email, "action": "assign"},
                           follow=True)
    assert Assignment.objects.count() == before
    text = html.unescape(response.content.decode())
    assert f"Conflit d'intérêts avec les propositions #{p3.pk} : rien n'a été affecté." in text
    # Unassign: refused while one of them has a submitted review, then done.
    set_phase(scenario.call, "review")
    criteria = list(scenario.call.criteria.all())
    services.review_save(proposal=p1, reviewer=reviewer, scores={c.pk: (2, "") for c in criteria}, submit=True)
    client.post(url, {"ids": [p1.pk, p2.pk], "reviewer": reviewer.email, "action": "unassign"})
    assert Assignment.objects.filter(reviewer=reviewer).count() == 2
    client.post(url, {"ids": [p2.pk, p3.pk], "reviewer": reviewer.email, "action": "unassign"})
    assert list(Assignment.objects.filter(reviewer=reviewer).values_list("proposal_id", flat=True)) == [p1.pk]
    assert Review.objects.filter(reviewer=reviewer).count() == 1
    assert AuditLog.objects.filter(model="calls.assignment", action="delete").count() == 1


def test_export_a_selection(client, budgeted, make_user):
    call, proposals = budgeted
    client.force_login(make_user("programme_manager"))
    url = reverse("calls:export-selection", args=[call.pk])
    ticked = [proposals[1][0].pk, proposals[3][0].pk]
    response = client.post(url, {"ids": ticked, "export": "proposals.csv"})
    assert response.status_code == 200 and "selection" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert sorted(int(r["id"]) for r in rows) == sorted(ticked)
    # Nothing ticked: the list the filters keep.
    response = client.post(url, {"export": "reviews.csv", "min": "3"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {int(r["proposal_id"]) for r in rows} == {p.pk for p, _a, s in proposals if s >= 3}
    other = ProposalFactory(call=make_call("deliberation"))
    response = client.post(url, {"ids": [other.pk], "export": "proposals.csv"})  # not of this call: nothing
    assert list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))) == []


@pytest.mark.parametrize("persona, status", [("programme_manager", 302), ("reviewer", 403), ("innovator", 403),
                                             (None, 302)])
def test_bulk_routes_are_for_managers_only(client, reviewed, make_user, persona, status):
    if persona:
        client.force_login(make_user(persona))
    p1, _p2 = reviewed.proposals
    response = _bulk(client, reviewed.call, mode="selection", ids=[p1.pk], outcome="selected", reason="x")
    assert response.status_code == status
    assert Decision.objects.exists() == (persona == "programme_manager")
    if persona is None:
        assert "/compte/" in response["Location"]
