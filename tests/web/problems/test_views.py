"""Pages: reporting with duplicate warning, endorsing, managing, merging, ranked list (query counts),
consultations (create, answer once, live tallies, exports)."""

from __future__ import annotations

import csv
import html
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.web.factories import (
    ConsultationFactory,
    EndorsementFactory,
    OrganisationFactory,
    ProblemFactory,
    QuestionFactory,
    TerritoryFactory,
)
from tremplin.web.problems.models import (
    Consultation,
    ConsultationResponse,
    Endorsement,
    PriorityWeights,
    Problem,
    ProblemStatus,
)

pytestmark = pytest.mark.django_db


def _form_data(personas, **overrides):
    data = {"organisation": personas.reporting_org.pk, "title": "Délais d'accès à un médecin traitant en zone rurale",
            "description": "Beaucoup d'habitants n'ont plus de médecin traitant depuis les départs en retraite.",
            "domain": "primary_care_access", "affected_population": "8000", "burden": "Renoncement aux soins",
            "burden_cost_eur": "", "evidence_links": "https://example.org/etude\n\nhttps://example.org/b"}
    data.update(overrides)
    return data


def test_report_a_problem(client, personas):
    client.force_login(personas.reporter)
    page = client.get(reverse("problems:problem-create"))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'hx-get="/problematiques/semblables/"' in body and "<script>" not in body
    response = client.post(reverse("problems:problem-create"), _form_data(personas))
    assert response.status_code == 302
    problem = Problem.objects.get(title__startswith="Délais d'accès")
    assert problem.organisation == personas.reporting_org and problem.created_by == personas.reporter
    assert problem.evidence_link_list == ["https://example.org/etude", "https://example.org/b"]


def test_report_refuses_another_organisation_and_bad_links(client, personas):
    client.force_login(personas.reporter)
    response = client.post(reverse("problems:problem-create"), _form_data(
        personas, organisation=personas.other_org.pk, evidence_links="javascript:alert(1)"))
    assert response.status_code == 400
    assert set(response.context["form"].errors) >= {"organisation", "evidence_links"}
    assert Problem.objects.count() == 1


def test_duplicate_warning_on_save_needs_confirmation(client, personas):
    client.force_login(personas.other_member)
    data = _form_data(personas, organisation=personas.other_org.pk,
                      title="Hospitalisations évitables de patients insuffisants cardiaques",
                      description="Les insuffisants cardiaques sont réhospitalisés faute de suivi après la sortie.")
    response = client.post(reverse("problems:problem-create"), data)
    assert response.status_code == 400
    assert "confirm_distinct" in response.context["form"].errors
    assert personas.problem.title in response.content.decode()
    assert Problem.objects.count() == 1
    response = client.post(reverse("problems:problem-create"), {**data, "confirm_distinct": "on"})
    assert response.status_code == 302
    assert Problem.objects.count() == 2


def test_similar_partial_while_typing(client, personas):
    client.force_login(personas.other_member)
    response = client.get(reverse("problems:problem-similar"), {"title": "insuffisants cardiaques réhospitalisés",
                                                                "description": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert personas.problem.title in body and "<html" not in body
    response = client.get(reverse("problems:problem-similar"), {"title": "Qualité de l'air", "exclude": "x"})
    assert personas.problem.title not in response.content.decode()


def test_detail_explains_the_score(client, personas):
    client.force_login(personas.other_member)
    body = html.unescape(client.get(reverse("problems:problem-detail", args=[personas.problem.pk])).content.decode())
    assert 'data-testid="score-explanation"' in body
    for label in ("Fardeau (coût annuel)", "Population concernée", "Appuis d'organisations", "Adéquation stratégique"):
        assert label in body
    assert 'data-testid="endorse"' in body


def test_endorse_from_the_page(client, personas):
    client.force_login(personas.other_member)
    url = reverse("problems:problem-endorse", args=[personas.problem.pk])
    assert client.post(url, {"organisation": personas.other_org.pk, "comment": ""}).status_code == 400
    response = client.post(url, {"organisation": personas.other_org.pk, "comment": "Même constat"})
    assert response.status_code == 302
    assert Endorsement.objects.get().organisation == personas.other_org
    # The organisation is no longer offered.
    page = client.get(url)
    assert list(page.context["form"].fields["organisation"].queryset) == []
    endorsement = Endorsement.objects.get()
    client.force_login(personas.reporter)  # another organisation's member cannot withdraw it
    withdraw = reverse("problems:endorsement-withdraw", args=[personas.problem.pk])
    assert client.post(withdraw, {"endorsement": endorsement.pk}).status_code == 404
    client.force_login(personas.other_member)
    assert client.post(withdraw, {"endorsement": endorsement.pk}).status_code == 302
    assert not Endorsement.objects.exists()


def test_reporter_cannot_endorse_own_problem(client, personas):
    client.force_login(personas.reporter)
    url = reverse("problems:problem-endorse", args=[personas.problem.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"organisation": personas.reporting_org.pk, "comment": "x"}).status_code == 403


def test_manager_changes_status_and_fit(client, personas):
    client.force_login(personas.manager)
    url = reverse("problems:problem-manage", args=[personas.problem.pk])
    response = client.post(url, {"status": "addressed", "reason": "", "strategic_fit": "3"})
    assert response.status_code == 400  # not an allowed transition from "new"
    response = client.post(url, {"status": "declined", "reason": "", "strategic_fit": "3"})
    assert response.status_code == 400 and "reason" in response.context["form"].errors
    response = client.post(url, {"status": "qualified", "reason": "", "strategic_fit": "3"})
    assert response.status_code == 302
    personas.problem.refresh_from_db()
    assert (personas.problem.status, personas.problem.strategic_fit) == (ProblemStatus.QUALIFIED, 3)
    client.force_login(personas.reporter)
    assert client.post(url, {"status": "new", "strategic_fit": "0"}).status_code == 403


def test_manager_merges_duplicates(client, personas):
    duplicate = ProblemFactory(organisation=personas.other_org, title="Réhospitalisations d'insuffisants cardiaques",
                               description=personas.problem.description)
    EndorsementFactory(problem=duplicate)
    client.force_login(personas.manager)
    page = client.get(reverse("problems:problem-merge", args=[duplicate.pk]), {"into": personas.problem.pk})
    assert page.status_code == 200 and page.context["similar"][0].problem == personas.problem
    response = client.post(reverse("problems:problem-merge", args=[duplicate.pk]),
                           {"target": personas.problem.pk, "reason": ""})
    assert response.status_code == 302
    duplicate.refresh_from_db()
    assert duplicate.status == ProblemStatus.MERGED and duplicate.merged_into == personas.problem
    assert personas.problem.endorsements.count() == 2


def test_weights_page(client, personas):
    client.force_login(personas.manager)
    url = reverse("problems:weights-edit")
    assert client.post(url, {"burden": "-1", "population": "1", "endorsements": "1",
                             "strategic_fit": "1"}).status_code == 400
    assert client.post(url, {"burden": "3", "population": "1", "endorsements": "0",
                             "strategic_fit": "1"}).status_code == 302
    assert float(PriorityWeights.load().burden) == 3.0
    client.force_login(personas.other_member)
    assert client.get(url).status_code == 403


def _many_problems(n: int):
    territories = [TerritoryFactory() for _ in range(3)]
    organisations = [OrganisationFactory() for _ in range(3)]
    for i in range(n):
        problem = ProblemFactory(organisation=organisations[i % 3], burden_cost_eur=1000 * (i + 1),
                                 affected_population=100 * (i + 1), strategic_fit=i % 5)
        problem.territories.add(*territories[: 1 + i % 3])
        for organisation in organisations[: i % 3]:
            if organisation != problem.organisation:
                EndorsementFactory(problem=problem, organisation=organisation)


@pytest.mark.parametrize("n", [5, 40])
def test_ranked_list_query_count_does_not_grow(client, personas, django_assert_max_num_queries, n):
    _many_problems(n)
    client.force_login(personas.other_member)
    url = reverse("problems:problem-list")
    client.get(url)  # warm up (weights singleton created)
    with django_assert_max_num_queries(15):  # the same ceiling for every N; one fixed query more since the horizon + notifications merge
        response = client.get(url, {"q": "", "status": "", "domain": "chronic_disease"})
    assert response.status_code == 200
    ranked = list(response.context["page"])
    scores = [r.score.total for r in ranked]
    assert scores == sorted(scores, reverse=True)
    assert len(ranked) == min(25, n + 1)


def test_ranked_list_filters(client, personas):
    other = ProblemFactory(title="Imagerie redondante", domain="imaging")
    territory = personas.problem.territories.get()
    client.force_login(personas.other_member)
    url = reverse("problems:problem-list")

    def titles(**params):
        return [r.problem.title for r in client.get(url, params).context["page"]]

    assert titles(domain="imaging") == [other.title]
    assert titles(territory=territory.pk) == [personas.problem.title]
    assert titles(q="redondante") == [other.title]
    other.status = "declined"
    other.save()
    assert titles() == [personas.problem.title]
    assert other.title in titles(status="all")
    htmx = client.get(url, {"domain": "imaging", "status": "all"}, HTTP_HX_REQUEST="true")
    assert "<html" not in htmx.content.decode() and other.title in htmx.content.decode()


def test_manager_creates_a_consultation_with_questions(client, personas):
    client.force_login(personas.manager)
    url = reverse("problems:consultation-create")
    start = timezone.localtime() - timedelta(hours=1)
    data = {"title": "Priorités du territoire", "description": "", "problem": personas.problem.pk,
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"),
            "questions-TOTAL_FORMS": "3", "questions-INITIAL_FORMS": "0",
            "questions-MIN_NUM_FORMS": "0", "questions-MAX_NUM_FORMS": "30",
            "questions-0-text": "Êtes-vous concerné ?", "questions-0-kind": "choice",
            "questions-0-choices": "Oui\nNon", "questions-0-required": "on",
            "questions-1-text": "Importance", "questions-1-kind": "scale", "questions-1-required": "on",
            "questions-2-text": "", "questions-2-kind": "choice", "questions-2-required": "on"}
    assert client.get(url).status_code == 200
    bad = client.post(url, {**data, "ends_at": data["starts_at"]})
    assert bad.status_code == 400
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    consultation = Consultation.objects.get()
    assert [q.kind for q in consultation.questions.all()] == ["choice", "scale"]
    assert timezone.is_aware(consultation.starts_at)


def test_answer_once_then_live_results_and_exports(client, personas):
    consultation = ConsultationFactory(problem=personas.problem)
    q1 = QuestionFactory(consultation=consultation)
    q2 = QuestionFactory(consultation=consultation, kind="scale", choices="")
    url = reverse("problems:consultation-respond", args=[consultation.pk])
    assert client.get(url).status_code == 302  # anonymous: sign in first
    client.force_login(personas.outsider)
    assert client.post(url, {f"q{q1.pk}": "Oui"}).status_code == 400
    assert client.post(url, {f"q{q1.pk}": "Oui", f"q{q2.pk}": "4"}).status_code == 302
    response = client.post(url, {f"q{q1.pk}": "Non", f"q{q2.pk}": "1"})
    assert response.status_code == 302  # already answered: redirected to the results, nothing recorded
    assert ConsultationResponse.objects.count() == 1
    client.logout()
    results = client.get(reverse("problems:consultation-results", args=[consultation.pk]), HTTP_HX_REQUEST="true")
    assert results.status_code == 200
    assert "<html" not in results.content.decode() and 'data-testid="response-count"' in results.content.decode()
    detail = client.get(reverse("problems:consultation-detail", args=[consultation.pk])).content.decode()
    assert 'hx-trigger="every 10s"' in detail
    csv_url = reverse("problems:consultation-export-csv", args=[consultation.pk])
    assert client.get(csv_url).status_code == 302
    client.force_login(personas.manager)
    response = client.get(csv_url)
    assert response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][2:] == ["Oui", "4"]
    xlsx = client.get(reverse("problems:consultation-export-xlsx", args=[consultation.pk]))
    from openpyxl import load_workbook

    assert list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))[1][2:] == ("Oui", 4)


def test_closed_consultation_refuses_answers(client, personas):
    consultation = ConsultationFactory(starts_at=timezone.now() - timedelta(days=10),
                                       ends_at=timezone.now() - timedelta(seconds=1))
    question = QuestionFactory(consultation=consultation)
    client.force_login(personas.other_member)
    url = reverse("problems:consultation-respond", args=[consultation.pk])
    assert "close" in client.get(url).content.decode()
    assert client.post(url, {f"q{question.pk}": "Oui"}).status_code == 400
    assert not ConsultationResponse.objects.exists()


def test_consultation_list_query_count(client, personas, django_assert_max_num_queries):
    for _ in range(15):
        ConsultationFactory(problem=personas.problem)
    with django_assert_max_num_queries(6):
        response = client.get(reverse("problems:consultation-list"))
    assert response.status_code == 200 and len(response.context["consultations"]) == 15


def test_dashboard_hints(personas, django_assert_max_num_queries):
    from django.template.loader import render_to_string

    from tremplin.web.problems.selectors import problem_dashboard_hints

    ConsultationFactory()
    with django_assert_max_num_queries(6):
        hints = problem_dashboard_hints(user=personas.manager)
    assert hints == {"can_manage": True, "can_report": True, "new_problems": 1, "to_endorse": 1,
                     "open_consultations": 1}
    other = problem_dashboard_hints(user=personas.reporter)
    assert (other["can_manage"], other["new_problems"], other["to_endorse"]) == (False, 0, 0)
    html_text = render_to_string("problems/_dashboard_panel.html", {"problem_hints": hints})
    assert "/problematiques/?status=new" in html_text and "/problematiques/consultations/" in html_text


def test_reporting_organisation_edits_its_problem(client, personas):
    url = reverse("problems:problem-edit", args=[personas.problem.pk])
    territory = TerritoryFactory()
    data = _form_data(personas, title="Titre corrigé", domain="chronic_disease", territories=[territory.pk])
    client.force_login(personas.other_member)
    assert client.post(url, data).status_code == 403
    client.force_login(personas.colleague)
    response = client.post(url, data)
    assert response.status_code == 302
    personas.problem.refresh_from_db()
    assert personas.problem.title == "Titre corrigé"
    assert list(personas.problem.territories.all()) == [territory]
    assert personas.problem.organisation == personas.reporting_org  # not editable


@pytest.mark.parametrize("n", [1, 12])
def test_detail_query_count_does_not_grow_with_endorsements(client, personas, django_assert_max_num_queries, n):
    for _ in range(n):
        EndorsementFactory(problem=personas.problem)
    client.force_login(personas.other_member)
    url = reverse("problems:problem-detail", args=[personas.problem.pk])
    client.get(url)
    with django_assert_max_num_queries(27):  # the same ceiling for every N; one fixed query more since the horizon + notifications merge
        response = client.get(url)
    assert len(response.context["endorsements"]) == n
