"""Pages and API: blind review leaks nothing, reviewers see only their proposals, exports, results, queries."""

from __future__ import annotations

import csv
import datetime
import html
import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from tests.web.calls.conftest import (
    APPLICANT_NAME,
    ATTACHMENT_NAME,
    INNOVATOR_NAME,
    PARTNER_NAME,
    set_phase,
)
from tests.web.factories import OrganisationFactory, ProposalFactory
from tremplin.web.calls import services
from tremplin.web.calls.models import Assignment, Call, Proposal, Review

pytestmark = pytest.mark.django_db

def _pdf_naming_its_authors() -> bytes:
    """A real PDF whose metadata names the applicant, as word processors write them: document information,
    XMP metadata and a comment's author."""
    from pypdf import PdfWriter
    from pypdf.annotations import Text
    from pypdf.generic import NameObject, StreamObject, TextStringObject

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_metadata({"/Author": INNOVATOR_NAME, "/Creator": APPLICANT_NAME, "/Title": "Dossier Kelvin"})
    xmp = StreamObject()
    xmp.set_data(f"<x:xmpmeta><dc:creator>{INNOVATOR_NAME}</dc:creator></x:xmpmeta>".encode())
    xmp.update({NameObject("/Type"): NameObject("/Metadata"), NameObject("/Subtype"): NameObject("/XML")})
    writer.root_object[NameObject("/Metadata")] = writer._add_object(xmp)
    comment = Text(rect=(10, 10, 50, 50), text="Voir l'annexe budgétaire")
    comment[NameObject("/T")] = TextStringObject(INNOVATOR_NAME)
    writer.add_annotation(page_number=0, annotation=comment)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PDF = _pdf_naming_its_authors()
SECRETS = (APPLICANT_NAME, PARTNER_NAME, INNOVATOR_NAME, ATTACHMENT_NAME, "dossier-kelvin")


@pytest.fixture
def blind(scenario):
    """A submitted proposal with an attachment, assigned to reviewers[0]; the call in review, blind."""
    proposal = scenario.propose(submit=False)
    services.attachment_add(proposal=proposal, user=scenario.innovator,
                            uploaded=SimpleUploadedFile(ATTACHMENT_NAME, PDF, content_type="application/pdf"))
    services.proposal_submit(proposal=proposal, user=scenario.innovator)
    services.assignment_add(proposal=proposal, reviewer=scenario.reviewers[0], by=scenario.manager)
    set_phase(scenario.call, "review")
    return scenario, proposal


def _no_secret(text: str):
    for secret in SECRETS:
        assert secret not in text, f"blind review leaked {secret!r}"


def test_blind_review_leaks_no_applicant_identity_in_pages(client, blind):
    scenario, proposal = blind
    client.force_login(scenario.reviewers[0])
    attachment = proposal.attachments.get()
    pages = [reverse("calls:review-queue"), reverse("calls:review-edit", args=[proposal.pk]),
             reverse("calls:proposal-detail", args=[proposal.pk]), reverse("calls:call-detail", args=[scenario.call.pk])]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        _no_secret(response.content.decode())
    page = client.get(reverse("calls:review-edit", args=[proposal.pk])).content.decode()
    assert escape(proposal.title) in page and "Capteurs" in page  # the content is there, the identity is not
    # The conflicts page lists every organisation of the network (public), but proposals by number and title only.
    conflicts = client.get(reverse("calls:call-conflicts", args=[scenario.call.pk])).content.decode()
    assert f">#{proposal.pk} {escape(proposal.title)}<" in conflicts
    download = client.get(reverse("calls:attachment-download", args=[proposal.pk, attachment.pk]))
    assert download.status_code == 200
    assert ATTACHMENT_NAME not in download["Content-Disposition"]
    served = b"".join(download.streaming_content)
    from pypdf import PdfReader

    original = PdfReader(io.BytesIO(PDF))
    assert original.metadata["/Author"] == INNOVATOR_NAME and original.metadata["/Creator"] == APPLICANT_NAME
    assert b"Candidate" in PDF and b"Kelvin" in PDF  # what a look at the raw bytes finds in the original
    assert b"Candidate" not in served and b"Kelvin" not in served
    copy = PdfReader(io.BytesIO(served))
    assert copy.metadata is None and "/Metadata" not in copy.trailer["/Root"]
    # Comments are text the applicant wrote outside the pages: the copy has none (the page itself is kept).
    assert len(copy.pages) == 1 and "/Annots" not in copy.pages[0] and b"annexe" not in served
    # managers and the applicant get the file as uploaded
    for user in (scenario.manager, scenario.innovator):
        client.force_login(user)
        original = client.get(reverse("calls:attachment-download", args=[proposal.pk, attachment.pk]))
        assert b"".join(original.streaming_content) == PDF and ATTACHMENT_NAME in original["Content-Disposition"]


def test_a_blind_reviewer_gets_no_pdf_that_cannot_be_anonymised(client, blind):
    scenario, proposal = blind
    set_phase(scenario.call, "open")
    Proposal.objects.filter(pk=proposal.pk).update(status="draft")
    proposal.refresh_from_db()
    damaged = services.attachment_add(
        proposal=proposal, user=scenario.innovator,
        uploaded=SimpleUploadedFile("autre.pdf", b"%PDF-1.7\n%%EOF\n", content_type="application/pdf"))
    Proposal.objects.filter(pk=proposal.pk).update(status="submitted")
    set_phase(scenario.call, "review")
    client.force_login(scenario.reviewers[0])
    response = client.get(reverse("calls:attachment-download", args=[proposal.pk, damaged.pk]), follow=True)
    assert response.redirect_chain[-1] == (reverse("calls:proposal-detail", args=[proposal.pk]), 302)
    assert "n'a pas pu être anonymisée" in html.unescape(response.content.decode())
    assert response["Content-Type"].startswith("text/html")


def test_blind_review_leaks_nothing_in_the_api(client, blind):
    scenario, proposal = blind
    client.force_login(scenario.reviewers[0])
    for url in ("/api/v1/proposals/", f"/api/v1/proposals/{proposal.pk}/", "/api/v1/calls/",
                f"/api/v1/calls/{scenario.call.pk}/"):
        response = client.get(url)
        assert response.status_code == 200, url
        _no_secret(response.content.decode())
    data = client.get(f"/api/v1/proposals/{proposal.pk}/").json()
    assert data["organisation"] is None and data["partners"] is None
    assert data["title"] == proposal.title


def test_the_same_pages_show_the_identity_when_the_call_is_not_blind(client, blind):
    scenario, proposal = blind
    Call.objects.filter(pk=scenario.call.pk).update(blind_review=False)
    client.force_login(scenario.reviewers[0])
    page = client.get(reverse("calls:review-edit", args=[proposal.pk])).content.decode()
    assert APPLICANT_NAME in page and PARTNER_NAME in page and ATTACHMENT_NAME in page
    assert client.get(f"/api/v1/proposals/{proposal.pk}/").json()["organisation"]["name"] == APPLICANT_NAME


def test_managers_and_applicants_see_the_identity_of_a_blind_call(client, blind):
    scenario, proposal = blind
    for user in (scenario.manager, scenario.innovator):
        client.force_login(user)
        page = client.get(reverse("calls:proposal-detail", args=[proposal.pk])).content.decode()
        assert APPLICANT_NAME in page and PARTNER_NAME in page


def test_a_reviewer_cannot_read_an_unassigned_proposal(client, blind):
    scenario, proposal = blind
    client.force_login(scenario.outsider_reviewer)
    attachment = proposal.attachments.get()
    for url in (reverse("calls:proposal-detail", args=[proposal.pk]), reverse("calls:review-edit", args=[proposal.pk]),
                reverse("calls:attachment-download", args=[proposal.pk, attachment.pk])):
        assert client.get(url).status_code == 403, url
    assert client.get(f"/api/v1/proposals/{proposal.pk}/").status_code == 404
    assert client.get("/api/v1/proposals/").json()["count"] == 0
    response = client.post(reverse("calls:review-edit", args=[proposal.pk]), {"action": "submit"})
    assert response.status_code == 403
    assert not Review.objects.exists()


def test_anonymous_cannot_download_attachments(client, blind):
    _scenario, proposal = blind
    attachment = proposal.attachments.get()
    response = client.get(reverse("calls:attachment-download", args=[proposal.pk, attachment.pk]))
    assert response.status_code == 302 and "/compte/" in response["Location"]


def test_save_and_next_walks_the_queue(client, blind):
    scenario, first = blind
    set_phase(scenario.call, "open")
    other = scenario.propose("Deuxième")
    services.assignment_add(proposal=other, reviewer=scenario.reviewers[0])
    set_phase(scenario.call, "review")
    client.force_login(scenario.reviewers[0])
    data = {f"score_{c.pk}": "3" for c in scenario.call.criteria.all()} | {"action": "submit_next", "comment": "ok"}
    response = client.post(reverse("calls:review-edit", args=[first.pk]), data)
    assert response.status_code == 302 and response["Location"] == reverse("calls:review-edit", args=[other.pk])
    response = client.post(reverse("calls:review-edit", args=[other.pk]), data)
    assert response["Location"] == reverse("calls:review-queue")
    queue = client.get(reverse("calls:review-queue"))
    assert len(queue.context["done"]) == 2 and not queue.context["pending"]


def test_others_reviews_visible_only_after_submitting_own(client, blind):
    scenario, proposal = blind
    services.assignment_add(proposal=proposal, reviewer=scenario.reviewers[1])
    criteria = list(scenario.call.criteria.all())
    services.review_save(proposal=proposal, reviewer=scenario.reviewers[1], comment="AVIS-SECRET-DU-JURY",
                         scores={c.pk: (2, "") for c in criteria}, submit=True)
    client.force_login(scenario.reviewers[0])
    url = reverse("calls:review-edit", args=[proposal.pk])
    assert "AVIS-SECRET-DU-JURY" not in client.get(url).content.decode()
    services.review_save(proposal=proposal, reviewer=scenario.reviewers[0], scores={c.pk: (3, "") for c in criteria},
                         submit=True)
    assert "AVIS-SECRET-DU-JURY" in client.get(url).content.decode()
    Call.objects.filter(pk=scenario.call.pk).update(visibility_during_review="never")
    assert "AVIS-SECRET-DU-JURY" not in client.get(url).content.decode()


def test_private_notes_between_reviewers(client, blind):
    scenario, proposal = blind
    services.assignment_add(proposal=proposal, reviewer=scenario.reviewers[1])
    client.force_login(scenario.reviewers[0])
    client.post(reverse("calls:note-add", args=[proposal.pk]), {"text": "Vérifier l'étude pilote"})
    client.force_login(scenario.reviewers[1])
    assert "Vérifier l&#x27;étude pilote" in client.get(reverse("calls:review-edit", args=[proposal.pk])).content.decode()
    client.force_login(scenario.innovator)
    assert "étude pilote" not in client.get(reverse("calls:proposal-detail", args=[proposal.pk])).content.decode()
    client.force_login(scenario.outsider_reviewer)
    assert client.post(reverse("calls:note-add", args=[proposal.pk]), {"text": "x"}).status_code == 403


def test_applicants_see_the_decision_only_after_release(client, reviewed):
    p1, p2 = reviewed.proposals
    services.decision_record(proposal=p1, outcome="selected", reason="MOTIF-RETENU")
    services.decision_record(proposal=p2, outcome="reserve", reason="MOTIF-RESERVE")
    client.force_login(reviewed.innovator)
    url = reverse("calls:proposal-detail", args=[p1.pk])
    assert "MOTIF-RETENU" not in client.get(url).content.decode()
    assert client.get(f"/api/v1/proposals/{p1.pk}/").json()["decision"] is None
    results = reverse("calls:call-results", args=[reviewed.call.pk])
    assert client.get(results).status_code == 404
    client.force_login(reviewed.manager)
    client.post(reverse("calls:decisions-release", args=[reviewed.call.pk]))
    client.force_login(reviewed.innovator)
    assert "MOTIF-RETENU" in client.get(url).content.decode()
    assert client.get(f"/api/v1/proposals/{p1.pk}/").json()["decision"]["outcome"] == "selected"
    client.logout()
    page = client.get(results)
    assert page.status_code == 200
    text = page.content.decode()
    assert p1.title in text and APPLICANT_NAME in text and PARTNER_NAME in text
    assert p2.title not in text  # reserve: not published


def test_manager_ranking_decides_and_exports(client, reviewed):
    client.force_login(reviewed.manager)
    page = client.get(reverse("calls:call-ranking", args=[reviewed.call.pk]))
    assert page.status_code == 200
    rows = page.context["rows"]
    assert [r.proposal.title for r in rows] == ["Télésurveillance", "Pharmacie clinique"]
    assert rows[0].aggregate.mean == pytest.approx(3) and rows[0].rank == 1
    assert page.context["suggested"] == {rows[0].proposal.pk, rows[1].proposal.pk}  # 250 k within 1 M
    response = client.post(reverse("calls:decision-record", args=[rows[0].proposal.pk]),
                           {"outcome": "selected", "reason": "Le meilleur"})
    assert response.status_code == 302
    assert rows[0].proposal.__class__.objects.get(pk=rows[0].proposal.pk).decision.outcome == "selected"
    export = client.get(reverse("calls:call-export", args=[reviewed.call.pk]) + "?what=reviews&fmt=csv")
    table = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["proposal_id", "proposal_title", "reviewer_email"]
    assert len(table) == 1 + Review.objects.count()
    xlsx = client.get(reverse("calls:call-export", args=[reviewed.call.pk]) + "?what=decisions&fmt=xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.values)
    assert values[0][0] == "proposal_id" and values[1][5] == "selected"
    proposals = client.get(reverse("calls:call-export", args=[reviewed.call.pk]) + "?what=proposals&fmt=csv")
    assert APPLICANT_NAME in proposals.content.decode("utf-8-sig")
    client.force_login(reviewed.reviewers[0])
    assert client.get(reverse("calls:call-export", args=[reviewed.call.pk])).status_code == 403


def test_export_neutralises_formulas(client, reviewed):
    Proposal.objects.filter(pk=reviewed.proposals[0].pk).update(title="=HYPERLINK(\"http://evil\")")
    client.force_login(reviewed.manager)
    text = client.get(reverse("calls:call-export", args=[reviewed.call.pk]) + "?what=proposals&fmt=csv"
                      ).content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text


def test_innovator_creates_and_submits_through_the_pages(client, scenario):
    client.force_login(scenario.innovator)
    url = reverse("calls:proposal-create", args=[scenario.call.pk])
    assert client.get(url).status_code == 200
    data = {"organisation": scenario.applicant.pk, "title": "Par le formulaire", "summary": "s", "description": "d",
            "partners": [scenario.partner.pk], "evidence_level": "pilot", "budget-TOTAL_FORMS": "2",
            "budget-INITIAL_FORMS": "0", "budget-0-label": "Poste", "budget-0-amount": "1000",
            "budget-1-label": "", "budget-1-amount": ""}
    response = client.post(url, data)
    proposal = Proposal.objects.get(title="Par le formulaire")
    assert response.status_code == 302 and proposal.requested_amount == 1000
    upload = client.post(reverse("calls:attachment-upload", args=[proposal.pk]),
                         {"file": SimpleUploadedFile("faux.pdf", b"GIF89a", content_type="application/pdf")})
    assert upload.status_code == 302 and not proposal.attachments.exists()
    client.post(reverse("calls:proposal-submit", args=[proposal.pk]))
    assert Proposal.objects.get(pk=proposal.pk).status == "submitted"
    too_much = dict(data, title="Trop cher", **{"budget-0-amount": "999999"})
    response = client.post(url, too_much)
    assert response.status_code == 200 and "dépasse" in response.content.decode()


def test_csv_assignment_page_reports_errors(client, scenario):
    proposal = scenario.propose()
    client.force_login(scenario.manager)
    url = reverse("calls:assignments-csv", args=[scenario.call.pk])
    bad = SimpleUploadedFile("a.csv", f"proposal_id,reviewer_email\n{proposal.pk},x@example.org\n".encode())
    response = client.post(url, {"file": bad})
    assert response.status_code == 400 and "ligne 2" in response.content.decode()
    assert not Assignment.objects.exists()


# --- query counts ----------------------------------------------------------------------------------------------


def _grow(call, reviewers, n):
    criteria = list(call.criteria.all())
    for _ in range(n):
        p = ProposalFactory(call=call, organisation=OrganisationFactory())
        for r in reviewers:
            Assignment.objects.create(proposal=p, reviewer=r)
            review = Review.objects.create(proposal=p, reviewer=r, status="submitted", weighted_score=2.5)
            review.scores.create(criterion=criteria[0], score=2)


def _count(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_ranking_query_count_does_not_grow(client, scenario, django_assert_max_num_queries):
    set_phase(scenario.call, "deliberation")
    _grow(scenario.call, scenario.reviewers[:2], 3)
    client.force_login(scenario.manager)
    url = reverse("calls:call-ranking", args=[scenario.call.pk])
    small = _count(client, url)
    _grow(scenario.call, scenario.reviewers[:3], 40)
    # The first request after new reviews rebuilds the cached reviewer statistics: 2 more queries, whatever the size.
    with django_assert_max_num_queries(small + 2):
        client.get(url)
    with django_assert_max_num_queries(small):
        response = client.get(url)
    assert len(response.context["rows"]) == 43


def test_review_queue_query_count_does_not_grow(client, scenario, django_assert_max_num_queries):
    set_phase(scenario.call, "review")
    reviewer = scenario.reviewers[0]
    _grow(scenario.call, [reviewer], 3)
    client.force_login(reviewer)
    url = reverse("calls:review-queue")
    small = _count(client, url)
    _grow(scenario.call, [reviewer], 40)
    with django_assert_max_num_queries(small):
        response = client.get(url)
    assert len(response.context["done"]) == 43


def test_proposal_api_query_count_does_not_grow(client, blind, django_assert_max_num_queries):
    scenario, _proposal = blind
    client.force_login(scenario.reviewers[0])
    small = _count(client, "/api/v1/proposals/")
    _grow(scenario.call, [scenario.reviewers[0]], 30)
    with django_assert_max_num_queries(small):
        assert client.get("/api/v1/proposals/").json()["count"] == 31


def test_assignment_notification_is_blind(blind):
    scenario, proposal = blind
    to_reviewer = [m for m in mail.outbox if scenario.reviewers[0].email in m.to]
    assert to_reviewer, "the assigned reviewer is notified"
    # it names the call and points to the reviewer's queue (never the applicant: checked below)
    assert any(scenario.call.title in m.subject and reverse("calls:review-queue") in m.body for m in to_reviewer)
    _no_secret("\n".join(m.body + m.subject for m in mail.outbox))


def test_manager_creates_a_call_from_problems_with_the_form(client, make_user):
    from django.utils import timezone

    from tests.web.factories import ProblemFactory

    problem = ProblemFactory(status="qualified")
    declined = ProblemFactory(status="declined")
    client.force_login(make_user("programme_manager"))
    url = reverse("calls:call-create")
    form = client.get(url).context["form"]
    assert problem in form.fields["problems"].queryset and declined not in form.fields["problems"].queryset
    now = timezone.localtime()

    def when(days):
        return (now + datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")

    data = {"title": "Appel", "text": "Texte", "problems": [problem.pk], "budget_envelope": "100000",
            "max_amount_per_proposal": "50000", "opens_at": when(1), "review_starts_at": when(10),
            "deliberation_starts_at": when(20), "results_at": when(30), "reviewers_per_proposal": "3",
            "blind_review": "on", "visibility_during_review": "after_own", "visibility_after_review": "always",
            "eligible_sectors": ["public", "community"]}
    response = client.post(url, data)
    call = Call.objects.get(title="Appel")
    assert response.status_code == 302
    assert call.phase == "draft" and call.eligible_sectors == ["public", "community"] and call.criteria.count() == 9
    assert list(call.problems.all()) == [problem]
    bad = dict(data, title="Dates à l'envers", review_starts_at=when(40))
    response = client.post(url, bad)
    assert response.status_code == 200 and not Call.objects.filter(title="Dates à l'envers").exists()


def test_reviewer_pages_in_english(client, blind, settings, tmp_path):
    """The reviewer's pages are translated (the committed catalogue compiled as compilemessages does)."""
    import shutil
    import subprocess

    from tests.conftest import require
    from tests.web.test_translations import EN_PO

    require(shutil.which("msgfmt") is not None, "GNU gettext msgfmt missing")
    target = tmp_path / "en" / "LC_MESSAGES"
    target.mkdir(parents=True)
    subprocess.run(["msgfmt", "-o", str(target / "django.mo"), str(EN_PO)], check=True)
    settings.LOCALE_PATHS = [tmp_path]
    scenario, proposal = blind
    client.force_login(scenario.reviewers[0])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    queue = client.get(reverse("calls:review-queue")).content.decode()
    assert "Proposals to review" in queue and "Calls for solutions" in queue
    page = client.get(reverse("calls:review-edit", args=[proposal.pk])).content.decode()
    assert "Submit and go to the next one" in page
    assert "Blind review: the applicants' identity is hidden." in html.unescape(page)
    _no_secret(page)


def test_draft_edit_page_until_the_deadline(client, scenario):
    proposal = scenario.propose(submit=False)
    client.force_login(scenario.innovator)
    url = reverse("calls:proposal-edit", args=[proposal.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'value="Capteurs"' in page.content.decode()
    set_phase(scenario.call, "review")
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == reverse("calls:proposal-detail", args=[proposal.pk])
