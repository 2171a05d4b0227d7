"""The whole path of issue 5 in a real headless Chromium, in French, with two pages checked in English:
a network member reports a problem → a member of another organisation endorses it → the programme manager
creates a call from it → an innovator proposes (with a PDF) and submits → the manager assigns a reviewer → the
reviewer reviews → the manager selects and releases → an anonymous visitor reads the public results.

Every user action goes through the browser. The phases follow from the call's dates: between steps the test
moves the dates through the ORM (time passing), as the server enforces them.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.e2e import test_roles
from tests.e2e.conftest import screenshot
from tremplin.web.accounts.models import Organisation
from tremplin.web.calls.models import Call, Proposal
from tremplin.web.core.demo import DEMO_USERS
from tremplin.web.problems.models import Endorsement, Problem

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PROBLEM = "Transport des patients dialysés habitant loin des centres de dialyse"
CALL = "Appel : rapprocher la dialyse du domicile"
PROPOSAL = "Dialyse péritonéale accompagnée à domicile"
INNOVATOR_ORGANISATION = "Kelvin Santé"


def _email(role: str) -> str:
    return next(u[0] for u in DEMO_USERS if u[2] == role)


def _organisation(role: str) -> str:
    return next(u[3] for u in DEMO_USERS if u[2] == role)


def _sign_in(page, base: str, role: str) -> None:
    page.context.clear_cookies()
    test_roles.login(page, base, _email(role), role)


def _move_to(call: Call, phase: str) -> None:
    """Time passes: set the call's dates so that it is in `phase` now."""
    start = {"review": -15, "deliberation": -25}[phase]
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(
        opens_at=now + timedelta(days=start), review_starts_at=now + timedelta(days=start + 10),
        deliberation_starts_at=now + timedelta(days=start + 20), results_at=now + timedelta(days=start + 30))


def _to_english(page) -> None:
    """Switch the interface language with the header selector (it submits its form and comes back)."""
    page.select_option("#language-select", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")


def test_from_a_reported_problem_to_the_public_results(page, live_server, demo_data):
    from playwright.sync_api import expect

    base = live_server.url
    page.on("dialog", lambda dialog: dialog.accept())  # data-confirm buttons ask for a confirmation
    heading = page.get_by_role("heading", level=1)

    # 1. A network member reports a problem on behalf of their organisation.
    _sign_in(page, base, "network_member")
    page.goto(f"{base}/problematiques/signaler/")
    expect(heading).to_have_text("Signaler une problématique")
    page.fill("#id_title", PROBLEM)
    page.fill("#id_description", "Trois séances par semaine, plus d'une heure de taxi à chaque trajet : les "
                                 "patients dialysés arrivent épuisés et les transports coûtent cher.")
    page.select_option("#id_domain", "chronic_disease")
    page.fill("#id_affected_population", "1200")
    page.fill("#id_burden_cost_eur", "2500000")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(re.compile(r"/problematiques/\d+/$"))
    expect(heading).to_have_text(PROBLEM)
    expect(page.get_by_test_id("problem-status")).to_have_text("Nouvelle")
    problem = Problem.objects.get(title=PROBLEM)
    assert problem.organisation.name == _organisation("network_member")
    screenshot(page, "path-1-problem-reported")

    # 2. A member of another organisation endorses it (the decision maker, from the regional health agency).
    _sign_in(page, base, "decision_maker")
    page.goto(f"{base}/problematiques/{problem.pk}/")
    page.fill("#id_comment", "Priorité régionale : le transport sanitaire pèse lourd dans nos dépenses.")
    page.get_by_test_id("endorse").click()
    endorsements = page.get_by_test_id("endorsements")
    expect(endorsements).to_contain_text(_organisation("decision_maker"))
    expect(endorsements).to_contain_text("Priorité régionale")
    assert list(Endorsement.objects.filter(problem=problem).values_list("organisation__name", flat=True)) == [
        _organisation("decision_maker")]
    screenshot(page, "path-2-problem-endorsed")

    # 3. The programme manager creates a call from the problem (open from yesterday; one reviewer per proposal).
    _sign_in(page, base, "programme_manager")
    page.goto(f"{base}/appels/nouvel/")
    expect(heading).to_have_text("Nouvel appel de solutions")
    page.fill("#id_title", CALL)
    page.fill("#id_text", "Des solutions pour dialyser près du domicile ou réduire les transports.")
    page.select_option("#id_problems", label=PROBLEM)
    page.fill("#id_budget_envelope", "300000")
    page.fill("#id_max_amount_per_proposal", "150000")
    now = timezone.localtime()
    for field, days in (("opens_at", -1), ("review_starts_at", 10), ("deliberation_starts_at", 20),
                        ("results_at", 30)):
        page.fill(f"#id_{field}", (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_reviewers_per_proposal", "1")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(re.compile(r"/appels/\d+/$"))
    expect(page.get_by_test_id("call-phase")).to_have_text("Ouvert aux propositions")
    expect(page.locator("main")).to_contain_text(PROBLEM)
    call = Call.objects.get(title=CALL)
    assert list(call.problems.values_list("title", flat=True)) == [PROBLEM]
    problem.refresh_from_db()
    assert problem.status == "in_call"
    screenshot(page, "path-3-call-created")

    # 4. The innovator proposes, attaches a small PDF and submits.
    _sign_in(page, base, "innovator")
    page.goto(f"{base}/appels/{call.pk}/proposer/")
    innovator_organisation = Organisation.objects.get(name=_organisation("innovator"))
    page.select_option("#id_organisation", value=str(innovator_organisation.pk))
    page.fill("#id_title", PROPOSAL)
    page.fill("#id_summary", "Une infirmière forme le patient et passe chaque semaine ; télésuivi des séances.")
    page.fill("#id_description", "Équipe mobile, cycleur connecté, astreinte néphrologique.")
    page.fill("#id_budget-0-label", "Infirmières et équipements")
    page.fill("#id_budget-0-amount", "120000")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    page.wait_for_url(re.compile(r"/appels/propositions/\d+/$"))
    page.set_input_files("#id_file", files=[{"name": "dossier-dialyse.pdf", "mimeType": "application/pdf",
                                             "buffer": PDF}])
    page.get_by_role("button", name="Ajouter la pièce jointe").click()
    expect(page.locator("main")).to_contain_text("dossier-dialyse.pdf")
    page.get_by_role("button", name="Soumettre", exact=True).click()
    expect(page.get_by_role("button", name="Soumettre", exact=True)).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Soumise")
    proposal = Proposal.objects.get(title=PROPOSAL)
    assert proposal.status == "submitted" and proposal.attachments.count() == 1
    assert proposal.organisation == innovator_organisation
    screenshot(page, "path-4-proposal-submitted")

    # 5. The manager assigns the demo reviewer (by hand: the automatic assignment has its own tests).
    _sign_in(page, base, "programme_manager")
    page.goto(f"{base}/appels/{call.pk}/affectations/")
    page.fill("#id_proposal", str(proposal.pk))
    page.fill("#id_reviewer", _email("reviewer"))
    page.get_by_role("button", name="Affecter", exact=True).click()
    expect(page.get_by_role("row").filter(has_text=f"#{proposal.pk} {PROPOSAL}")).to_contain_text(_email("reviewer"))
    assert list(proposal.assignments.values_list("reviewer__email", flat=True)) == [_email("reviewer")]

    # 6. Review phase: the reviewer scores every criterion, blind (no applicant name, no file name).
    _move_to(call, "review")
    _sign_in(page, base, "reviewer")
    page.goto(f"{base}/appels/a-evaluer/")
    page.get_by_role("link", name=f"#{proposal.pk} {PROPOSAL}").click()
    page.wait_for_url("**/evaluation/")
    content = page.content()
    assert INNOVATOR_ORGANISATION not in content and "dossier-dialyse.pdf" not in content
    scores = page.locator("select[name^=score_]")
    expect(scores).to_have_count(9)
    for select in scores.all():
        select.select_option("3")
    page.get_by_test_id("submit-next").click()
    page.wait_for_url("**/a-evaluer/")
    screenshot(page, "path-6-reviewed")
    review = proposal.reviews.get()
    assert review.status == "submitted" and review.weighted_score == pytest.approx(3)

    # 7. Deliberation: the manager sees the ranking, selects the proposal and releases the decisions.
    _move_to(call, "deliberation")
    _sign_in(page, base, "programme_manager")
    page.goto(f"{base}/appels/{call.pk}/classement/")
    expect(heading).to_have_text("Classement et décisions")
    row = page.get_by_test_id("ranking").locator("tbody tr").first
    expect(row).to_contain_text(PROPOSAL)
    expect(row).to_contain_text("3,00")  # mean weighted score, French number format
    page.select_option(f"#outcome-{proposal.pk}", "selected")
    page.fill(f"#reason-{proposal.pk}", "Solution mûre, budget raisonnable.")
    page.locator(f"form[action$='/propositions/{proposal.pk}/decision/'] button").click()
    expect(row.locator("strong")).to_have_text("Retenue")
    page.get_by_role("button", name="Publier toutes les décisions").click()
    expect(page.locator("main")).to_contain_text("Décisions publiées le")
    call.refresh_from_db()
    assert call.released
    proposal.refresh_from_db()
    assert proposal.decision.outcome == "selected" and proposal.selected_at is not None
    screenshot(page, "path-7-ranking-released-fr")
    # The same page in English.
    _to_english(page)
    expect(heading).to_have_text("Ranking and decisions")
    expect(page.get_by_test_id("ranking")).to_contain_text(PROPOSAL)
    screenshot(page, "path-7-ranking-released-en")

    # 8. Anyone, signed out, reads the public results page: in French, then in English.
    page.context.clear_cookies()
    page.goto(f"{base}/appels/{call.pk}/resultats/")
    expect(heading).to_have_text(f"Résultats — {CALL}")
    results = page.get_by_test_id("results")
    expect(results).to_contain_text(PROPOSAL)
    expect(results).to_contain_text(INNOVATOR_ORGANISATION)
    expect(page.get_by_test_id("login-link")).to_be_visible()
    screenshot(page, "path-8-results-fr")
    _to_english(page)
    expect(heading).to_have_text(f"Results — {CALL}")
    expect(results).to_contain_text("Selected proposal")
    expect(results).to_contain_text(PROPOSAL)
    screenshot(page, "path-8-results-en")
    assert page.console_errors == [], page.console_errors
