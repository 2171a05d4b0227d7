"""Services: phases enforced on the server, budget and eligibility, attachments, conflicts, CSV, decisions."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.web.calls.conftest import set_phase
from tests.web.factories import TerritoryFactory, make_call
from tremplin.web.calls import selectors, services
from tremplin.web.calls.models import Assignment, Decision, Phase, Proposal, Review
from tremplin.web.calls.services import DEFAULT_GRID, PhaseError
from tremplin.web.jobs.services import job_run
from tremplin.web.notifications.models import OutgoingMail
from tremplin.web.notifications.services import outbox_send

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"


def pdf(name="dossier.pdf", content=PDF, content_type="application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


# --- calls and phases ----------------------------------------------------------------------------------------


def test_call_gets_the_default_grid_and_every_sector():
    call = make_call("draft")
    assert [c.name for c in call.criteria.all()] == [str(name) for name, _d in DEFAULT_GRID]
    assert len(call.criteria.all()) == 9
    assert all(len(c.rubric) == 5 for c in call.criteria.all())
    assert sorted(call.eligible_sectors) == sorted(["public", "private_for_profit", "private_non_profit",
                                                    "social_economy", "community"])


@pytest.mark.parametrize("phase", ["draft", "open", "review", "deliberation", "results"])
def test_phase_follows_the_dates(phase):
    assert make_call(phase).phase == phase


def test_phase_boundaries_are_time_zone_aware():
    import datetime as dt
    from zoneinfo import ZoneInfo

    call = make_call("open")
    paris = call.review_starts_at.astimezone(ZoneInfo("Europe/Paris"))
    montreal = call.review_starts_at.astimezone(ZoneInfo("America/Montreal"))
    # The same instant expressed in two time zones gives the same phase.
    assert call.phase_at(paris - dt.timedelta(seconds=1)) == Phase.OPEN
    assert call.phase_at(montreal) == Phase.REVIEW


def test_dates_must_be_ordered_and_max_within_envelope():
    with pytest.raises(ValidationError):
        make_call("open", review_starts_at=make_call("draft").results_at)
    with pytest.raises(ValidationError):
        make_call("open", budget_envelope=1000, max_amount_per_proposal=2000)


def test_grid_can_only_change_while_draft():
    call = make_call("draft")
    services.criteria_replace(call=call, criteria=[{"name": "Valeur clinique", "weight": 2}])
    assert call.criteria.count() == 1
    set_phase(call, "open")
    with pytest.raises(PhaseError):
        services.criteria_replace(call=call, criteria=[{"name": "Autre", "weight": 1}])


# --- proposals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", ["draft", "review", "deliberation", "results"])
def test_no_proposal_outside_the_open_phase(scenario, phase):
    set_phase(scenario.call, phase)
    with pytest.raises(PhaseError):
        scenario.propose()


def test_draft_editable_until_the_deadline_then_frozen(scenario):
    proposal = scenario.propose(submit=False)
    services.proposal_update(proposal=proposal, user=scenario.innovator, title="Nouveau titre", summary="s",
                             description="d", evidence_level="idea",
                             budget_lines=[{"label": "Poste", "amount": 1000}])
    proposal.refresh_from_db()
    assert proposal.title == "Nouveau titre" and proposal.requested_amount == 1000
    set_phase(scenario.call, "review")  # the deadline has passed
    with pytest.raises(PhaseError):
        services.proposal_update(proposal=proposal, user=scenario.innovator, title="Trop tard", summary="s",
                                 description="d", evidence_level="idea", budget_lines=[])
    with pytest.raises(PhaseError):
        services.proposal_submit(proposal=proposal, user=scenario.innovator)
    proposal.refresh_from_db()
    assert proposal.title == "Nouveau titre" and proposal.status == "draft"


def test_submit_then_withdraw(scenario):
    proposal = scenario.propose()
    assert proposal.status == "submitted" and proposal.submitted_at is not None
    with pytest.raises(ValidationError):
        services.proposal_update(proposal=proposal, user=scenario.innovator, title="x", summary="s",
                                 description="d", evidence_level="idea", budget_lines=[])
    services.proposal_withdraw(proposal=proposal, user=scenario.innovator)
    assert Proposal.objects.get(pk=proposal.pk).status == "withdrawn"


def test_budget_total_cannot_exceed_the_maximum(scenario):
    with pytest.raises(ValidationError, match="dépasse"):
        scenario.propose(amount=250_000)  # max 200 000
    assert not Proposal.objects.exists()


def test_submission_needs_budget_lines(scenario):
    proposal = services.proposal_create(call=scenario.call, user=scenario.innovator, organisation=scenario.applicant,
                                        title="t", summary="s", description="d")
    with pytest.raises(ValidationError, match="ligne"):
        services.proposal_submit(proposal=proposal, user=scenario.innovator)


def test_sector_eligibility(scenario):
    scenario.call.eligible_sectors = ["public", "community"]
    scenario.call.save()
    with pytest.raises(ValidationError, match="secteur"):
        scenario.propose()


def test_territory_eligibility_includes_contained_territories(scenario):
    region = TerritoryFactory(level="region", parent=None)
    department = TerritoryFactory(level="department", parent=region)
    elsewhere = TerritoryFactory(level="department", parent=None)
    scenario.call.eligible_territories.set([region])
    ok = services.proposal_create(call=scenario.call, user=scenario.innovator, organisation=scenario.applicant,
                                  title="t", summary="s", description="d", territories=[department])
    assert list(ok.territories.all()) == [department]
    with pytest.raises(ValidationError, match="périmètre"):
        services.proposal_create(call=scenario.call, user=scenario.innovator, organisation=scenario.applicant,
                                 title="t", summary="s", description="d", territories=[elsewhere])


def test_only_innovators_of_the_organisation_can_propose(scenario, make_user):
    stranger = make_user("innovator")
    with pytest.raises(ValidationError):
        services.proposal_create(call=scenario.call, user=stranger, organisation=scenario.applicant, title="t",
                                 summary="s", description="d")


# --- attachments ---------------------------------------------------------------------------------------------


def test_pdf_attachment_is_stored_privately(scenario, settings):
    proposal = scenario.propose(submit=False)
    attachment = services.attachment_add(proposal=proposal, user=scenario.innovator, uploaded=pdf("Mon dossier.pdf"))
    path = attachment.file.path
    assert path.startswith(str(settings.PRIVATE_MEDIA_DIR))
    assert "Mon dossier" not in path  # the stored name is random
    assert attachment.original_name == "Mon dossier.pdf"
    with attachment.file.open("rb") as fh:
        assert fh.read() == PDF


@pytest.mark.parametrize(("upload", "code"), [
    (lambda: pdf("notes.txt", b"hello", "text/plain"), "extension"),
    (lambda: pdf("virus.pdf", b"MZ\x90\x00 not a pdf", "application/pdf"), "magic"),
    (lambda: pdf("fake.pdf", b"<html>%PDF-</html>", "application/pdf"), "magic"),
    (lambda: pdf("page.pdf", PDF, "text/html"), "content_type"),
    (lambda: pdf("big.pdf", PDF + b"0" * (services.MAX_ATTACHMENT_BYTES + 1)), "size"),
])
def test_attachment_validation(scenario, upload, code):
    proposal = scenario.propose(submit=False)
    with pytest.raises(ValidationError) as exc:
        services.attachment_add(proposal=proposal, user=scenario.innovator, uploaded=upload())
    assert exc.value.code == code
    assert not proposal.attachments.exists()


def test_no_attachment_after_the_deadline(scenario):
    proposal = scenario.propose(submit=False)
    set_phase(scenario.call, "review")
    with pytest.raises(PhaseError):
        services.attachment_add(proposal=proposal, user=scenario.innovator, uploaded=pdf())


# --- conflicts and assignment --------------------------------------------------------------------------------


def test_auto_assignment_respects_organisations_partners_and_conflicts(scenario, make_user):
    in_applicant = make_user("reviewer", organisation=scenario.applicant)
    in_partner = make_user("reviewer", organisation=scenario.partner)
    proposal = scenario.propose()
    other = scenario.propose("Autre")
    # A proposal conflict is declared on an assigned proposal (reviewers see no other): accepted at once.
    services.assignment_add(proposal=proposal, reviewer=scenario.reviewers[0])
    services.conflict_declare(call=scenario.call, reviewer=scenario.reviewers[0], proposal=proposal, reason="ami")
    assert not Assignment.objects.filter(proposal=proposal, reviewer=scenario.reviewers[0]).exists()
    mail.outbox.clear()
    services.conflict_declare(call=scenario.call, reviewer=scenario.reviewers[1], organisation=scenario.partner)
    result = services.assignments_auto(call=scenario.call, by=scenario.manager)
    forbidden = {in_applicant.pk, in_partner.pk, scenario.reviewers[0].pk, scenario.reviewers[1].pk}
    assigned = set(Assignment.objects.filter(proposal=proposal).values_list("reviewer_id", flat=True))
    assert len(assigned) == 2 and not assigned & forbidden
    assert Assignment.objects.filter(proposal=other).count() == 2
    assert result.shortfall == {}
    # Notifications never name the applicant.
    assert mail.outbox and all(scenario.applicant.name not in m.body for m in mail.outbox)
    # Running again adds nothing.
    assert services.assignments_auto(call=scenario.call).pairs == ()


def test_an_organisation_conflict_keeps_the_assignments_and_forbids_new_ones(scenario):
    proposal = scenario.propose()
    later = scenario.propose("Autre")
    reviewer = scenario.reviewers[2]
    services.assignment_add(proposal=proposal, reviewer=reviewer, by=scenario.manager)
    conflict = services.conflict_declare(call=scenario.call, reviewer=reviewer, organisation=scenario.applicant)
    assert conflict.status == "requested"
    # Removing it would show the reviewer which proposal is the applicant's (blind review): the manager decides.
    assert Assignment.objects.filter(proposal=proposal, reviewer=reviewer).exists()
    with pytest.raises(ValidationError, match="Conflit"):
        services.assignment_add(proposal=later, reviewer=reviewer)


def test_manual_assignment_refuses_members_and_non_reviewers(scenario, make_user):
    proposal = scenario.propose()
    with pytest.raises(ValidationError):
        services.assignment_add(proposal=proposal, reviewer=make_user("reviewer", organisation=scenario.partner))
    with pytest.raises(ValidationError):
        services.assignment_add(proposal=proposal, reviewer=scenario.manager)


def test_csv_assignment_all_or_nothing_with_line_numbers(scenario, make_user):
    proposal = scenario.propose()
    member = make_user("reviewer", organisation=scenario.applicant)
    r0, r1 = scenario.reviewers[0], scenario.reviewers[1]
    content = (f"proposal_id,reviewer_email\n{proposal.pk},{r0.email}\n999,{r1.email}\n"
               f"{proposal.pk},{member.email}\n{proposal.pk},nobody@example.org\n{proposal.pk},{r0.email}\n")
    report = services.assignments_import_csv(call=scenario.call, content=content.encode())
    assert not report.ok
    errors = {(e.line, e.column) for e in report.errors}
    assert errors == {(3, "proposal_id"), (4, "reviewer_email"), (5, "reviewer_email"), (6, "*")}
    assert not Assignment.objects.exists()
    good = f"proposal_id,reviewer_email\n{proposal.pk},{r0.email}\n{proposal.pk},{r1.email.upper()}\n"
    report = services.assignments_import_csv(call=scenario.call, content=good.encode())
    assert report.ok and report.created == 2
    assert Assignment.objects.filter(proposal=proposal).count() == 2


def test_csv_missing_columns(scenario):
    report = services.assignments_import_csv(call=scenario.call, content=b"id,email\n1,a@b.c\n")
    assert not report.ok and report.errors[0].line == 1


# --- reviews and decisions -----------------------------------------------------------------------------------


def test_reviews_only_during_the_review_phase_and_only_when_assigned(scenario):
    proposal = scenario.propose()
    services.assignments_auto(call=scenario.call)
    reviewer = proposal.assignments.first().reviewer
    scores = {c.pk: (4, "") for c in scenario.call.criteria.all()}
    with pytest.raises(PhaseError):  # still open
        services.review_save(proposal=proposal, reviewer=reviewer, scores=scores, submit=True)
    set_phase(scenario.call, "review")
    with pytest.raises(ValidationError, match="affectée"):
        services.review_save(proposal=proposal, reviewer=scenario.outsider_reviewer, scores=scores)
    with pytest.raises(ValidationError):  # incomplete
        services.review_save(proposal=proposal, reviewer=reviewer, scores={}, submit=True)
    review = services.review_save(proposal=proposal, reviewer=reviewer, scores=scores, submit=True)
    assert review.status == "submitted" and review.weighted_score == pytest.approx(4)
    set_phase(scenario.call, "deliberation")
    with pytest.raises(PhaseError):
        services.review_save(proposal=proposal, reviewer=reviewer, scores=scores, submit=True)


def test_weighted_score_uses_the_grid_weights(scenario):
    set_phase(scenario.call, "draft")
    services.criteria_replace(call=scenario.call, criteria=[{"name": "A", "weight": 3}, {"name": "B", "weight": 1}])
    set_phase(scenario.call, "open")
    proposal = scenario.propose()
    reviewer = scenario.reviewers[0]
    services.assignment_add(proposal=proposal, reviewer=reviewer)
    set_phase(scenario.call, "review")
    a, b = scenario.call.criteria.all()
    review = services.review_save(proposal=proposal, reviewer=reviewer, scores={a.pk: (4, ""), b.pk: (0, "")},
                                  submit=True)
    assert review.weighted_score == pytest.approx(3.0)


def test_decisions_are_held_then_released_together(reviewed):
    call = reviewed.call
    p1, p2 = reviewed.proposals
    services.decision_record(proposal=p1, outcome="selected", reason="Impact fort", by=reviewed.manager)
    with pytest.raises(ValidationError, match="sans décision"):
        services.decisions_release(call=call)
    services.decision_record(proposal=p2, outcome="rejected", reason="Peu étayé", by=reviewed.manager)
    mail.outbox.clear()
    assert services.decisions_release(call=call, by=reviewed.manager) == 2
    call.refresh_from_db()
    assert call.released
    assert Proposal.objects.get(pk=p1.pk).selected_at is not None
    assert Proposal.objects.get(pk=p2.pk).selected_at is None
    assert list(selectors.selected_for_portfolio()) == [p1]  # what the portfolio app turns into experiments
    # The decision mails wait in the outbox for the manager to review them (notifications app), then go.
    assert mail.outbox == []
    held = OutgoingMail.objects.filter(status="held", kind__startswith="calls.decision.")
    assert sorted(held.values_list("to_email", "kind")) == [
        (reviewed.innovator.email, "calls.decision.rejected"), (reviewed.innovator.email, "calls.decision.selected")]
    count, job = outbox_send(mails=held, by=reviewed.manager)
    assert count == 2
    job_run(job_id=str(job.pk))  # the worker
    assert len(mail.outbox) == 2 and {m.to[0] for m in mail.outbox} == {reviewed.innovator.email}
    assert any("retenue" in m.body and "Impact fort" in m.body for m in mail.outbox)
    assert set(OutgoingMail.objects.values_list("status", flat=True)) == {"sent"}
    with pytest.raises(ValidationError, match="publiées"):
        services.decision_record(proposal=p2, outcome="selected", reason="x")
    with pytest.raises(ValidationError):
        services.decisions_release(call=call)
    assert Decision.objects.count() == 2


def test_no_decision_before_deliberation(scenario):
    proposal = scenario.propose()
    with pytest.raises(PhaseError):
        services.decision_record(proposal=proposal, outcome="selected", reason="x")


def test_problem_marked_in_call_when_the_service_exists():
    from tests.web.factories import ProblemFactory

    problem = ProblemFactory()
    call = make_call("draft", problems=[problem])
    assert list(call.problems.all()) == [problem]
    try:
        from tremplin.web.problems.services import problem_mark_in_call  # noqa: F401
    except ImportError:
        pytest.skip("problems.services.problem_mark_in_call not available yet")
    problem.refresh_from_db()
    assert problem.status == "in_call"


def test_a_late_conflict_on_a_submitted_review_is_a_request_and_keeps_the_review(reviewed):
    p1 = reviewed.proposals[0]
    set_phase(reviewed.call, "review")
    reviewer = p1.assignments.first().reviewer
    conflict = services.conflict_declare(call=reviewed.call, reviewer=reviewer, proposal=p1, reason="découvert tard")
    assert conflict.status == "requested"
    review = Review.objects.get(proposal=p1, reviewer=reviewer)
    assert review.status == "submitted" and review.withdrawn_at is None
    assert Assignment.objects.filter(proposal=p1, reviewer=reviewer).exists()

