"""The calls path in a real headless Chromium: create a call → propose (with a PDF) → assign → review →
decide → release → public results. Phases are moved by setting the call's dates relative to now."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.e2e import test_roles
from tests.e2e.conftest import screenshot
from tremplin.web.calls.models import Call, Proposal

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _phase(call: Call, phase: str) -> None:
    start = {"open": -5, "review": -15, "deliberation": -25}[phase]
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(
        opens_at=now + timedelta(days=start), review_starts_at=now + timedelta(days=start + 10),
        deliberation_starts_at=now + timedelta(days=start + 20), results_at=now + timedelta(days=start + 30))


def _as(tab, base, role):
    email = next(u[0] for u in test_roles.DEMO_USERS if u[2] == role)
    tab.context.clear_cookies()
    test_roles.login(tab, base, email, role)


def test_call_path_in_the_browser(page, live_server, demo_data):  # noqa: F811
    base = live_server.url
    page.on("dialog", lambda dialog: dialog.accept())

    # The programme manager creates a call (one reviewer per proposal: the demo panel has one expert).
    _as(page, base, "programme_manager")
    page.goto(f"{base}/appels/nouvel/")
    page.fill("#id_title", "Appel navigateur")
    page.fill("#id_text", "Des solutions pour le suivi à domicile.")
    page.fill("#id_budget_envelope", "500000")
    page.fill("#id_max_amount_per_proposal", "200000")
    now = timezone.localtime()
    for field, days in (("opens_at", -1), ("review_starts_at", 10), ("deliberation_starts_at", 20),
                        ("results_at", 30)):
        page.fill(f"#id_{field}", (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_reviewers_per_proposal", "1")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url("**/appels/*/")
    assert page.get_by_test_id("call-phase").inner_text() == "Ouvert aux propositions"
    call = Call.objects.get(title="Appel navigateur")
    assert call.criteria.count() == 9

    # The innovator proposes, attaches a PDF and submits.
    _as(page, base, "innovator")
    page.goto(f"{base}/appels/{call.pk}/proposer/")
    page.select_option("#id_organisation", index=1)
    page.fill("#id_title", "Télésurveillance navigateur")
    page.fill("#id_summary", "Résumé")
    page.fill("#id_description", "Description")
    page.fill("#id_budget-0-label", "Capteurs")
    page.fill("#id_budget-0-amount", "120000")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    page.wait_for_url("**/appels/propositions/*/")
    page.set_input_files("#id_file", files=[{"name": "dossier.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.get_by_role("button", name="Ajouter la pièce jointe").click()
    page.wait_for_load_state()
    assert "dossier.pdf" in page.content()
    page.get_by_role("button", name="Soumettre", exact=True).click()
    page.wait_for_load_state()
    proposal = Proposal.objects.get(title="Télésurveillance navigateur")
    assert proposal.status == "submitted"

    # Manual assignment of the demo reviewer (the automatic one is covered by the service tests).
    _as(page, base, "programme_manager")
    page.goto(f"{base}/appels/{call.pk}/affectations/")
    reviewer_email = next(u[0] for u in test_roles.DEMO_USERS if u[2] == "reviewer")
    page.fill("#id_proposal", str(proposal.pk))
    page.fill("#id_reviewer", reviewer_email)
    page.get_by_role("button", name="Affecter", exact=True).click()
    page.wait_for_load_state()
    assert list(proposal.assignments.values_list("reviewer__email", flat=True)) == [reviewer_email]

    # The reviewer reviews blind: no applicant name, no file name.
    _phase(call, "review")
    _as(page, base, "reviewer")
    page.goto(f"{base}/appels/a-evaluer/")
    page.get_by_role("link", name=f"#{proposal.pk} Télésurveillance navigateur").click()
    page.wait_for_url("**/evaluation/")
    assert "Kelvin" not in page.content() and "dossier.pdf" not in page.content()
    for select in page.locator("select[name^=score_]").all():
        select.select_option("3")
    page.get_by_test_id("submit-next").click()
    page.wait_for_url("**/a-evaluer/")
    screenshot(page, "calls-review-queue")
    assert proposal.reviews.get().status == "submitted"

    # Deliberation: decide, release, and the public results page shows the selected proposal.
    _phase(call, "deliberation")
    _as(page, base, "programme_manager")
    page.goto(f"{base}/appels/{call.pk}/classement/")
    page.select_option(f"#outcome-{proposal.pk}", "selected")
    page.fill(f"#reason-{proposal.pk}", "Excellent projet")
    page.locator(f"form[action$='/propositions/{proposal.pk}/decision/'] button").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Publier toutes les décisions").click()
    page.wait_for_load_state()
    screenshot(page, "calls-ranking")
    page.context.clear_cookies()
    page.goto(f"{base}/appels/{call.pk}/resultats/")
    results = page.get_by_test_id("results").inner_text()
    assert "Télésurveillance navigateur" in results and "Kelvin Santé" in results
    assert page.console_errors == [], page.console_errors
