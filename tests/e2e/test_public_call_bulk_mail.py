"""Issue 18 in a real headless Chromium: an innovator who is not signed in finds a call on the public list of open
calls, signs in from the call's page and submits a proposal; the programme manager decides in bulk (by a score
threshold, with another decision for the rest of the list), publishes, reviews the decision mails in the outbox
and sends them; the feedback mail reaches the applicant (Django's in-memory mail backend).

Every user action goes through the browser. Time passing (the call's phases) and the review itself (tested
elsewhere) go through the ORM and the services; the background worker is `job_run`, called as the worker calls it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tests.e2e import test_roles
from tests.e2e.conftest import screenshot
from tests.e2e.test_problem_to_results import _email, _move_to, _organisation
from tremplin.web.accounts.models import Membership, Organisation, User
from tremplin.web.calls import services as calls_services
from tremplin.web.calls.models import Proposal
from tremplin.web.core.demo import DEMO_PASSWORD
from tremplin.web.jobs.models import Job
from tremplin.web.jobs.services import job_run
from tremplin.web.notifications.models import OutgoingMail

pytestmark = pytest.mark.e2e

CALL = "Appel : prévenir les chutes des personnes âgées à domicile"
PROPOSAL = "Capteurs de chute et visite infirmière sous 24 h"
FEEDBACK = "Solution mûre, budget raisonnable : le jury recommande un démarrage au printemps."


def test_public_call_to_bulk_decision_and_feedback_mail(page, live_server, demo_data):
    from playwright.sync_api import expect

    base = live_server.url
    page.on("dialog", lambda dialog: dialog.accept())  # data-confirm buttons
    heading = page.get_by_role("heading", level=1)
    manager = User.objects.get(email=_email("programme_manager"))
    now = timezone.now()
    call = calls_services.call_create(
        title=CALL, text="Des solutions pour repérer les chutes et intervenir vite, à domicile.",
        budget_envelope=400_000, max_amount_per_proposal=200_000, opens_at=now - timedelta(days=1),
        review_starts_at=now + timedelta(days=9), deliberation_starts_at=now + timedelta(days=19),
        results_at=now + timedelta(days=29), created_by=manager, reviewers_per_proposal=1)

    # 1. Not signed in: from the home page to the public list of open calls, then the call's page.
    page.goto(f"{base}/")
    page.get_by_test_id("public-calls").click()
    page.wait_for_url("**/appels/")
    expect(heading).to_have_text("Appels de solutions")
    calls = page.get_by_test_id("call-list")
    expect(calls).to_contain_text(CALL)
    page.fill("#c-q", "chutes")
    page.get_by_role("button", name="Filtrer").click()
    expect(calls.locator("tbody tr")).to_have_count(1)
    calls.get_by_role("link", name=CALL).click()
    expect(heading).to_have_text(CALL)
    expect(page.get_by_test_id("call-phase")).to_have_text("Ouvert aux propositions")
    expect(page.locator("main")).to_contain_text("Valeur clinique")  # the evaluation grid is public
    screenshot(page, "issue18-1-public-call")

    # 2. Sign in from the call's page: back to the proposal form, then submit.
    page.get_by_test_id("login-to-propose").click()
    page.get_by_label("E-mail").fill(_email("innovator")) if page.get_by_label("E-mail").count() else page.fill(
        "input[name=login]", _email("innovator"))
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(f"**/appels/{call.pk}/proposer/")
    organisation = Organisation.objects.get(name=_organisation("innovator"))
    page.select_option("#id_organisation", value=str(organisation.pk))
    page.fill("#id_title", PROPOSAL)
    page.fill("#id_summary", "Un capteur porté alerte l'infirmière, qui passe dans la journée.")
    page.fill("#id_description", "Capteurs, astreinte infirmière, lien avec le médecin traitant.")
    page.fill("#id_budget-0-label", "Capteurs et astreinte")
    page.fill("#id_budget-0-amount", "150000")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    page.wait_for_url(re.compile(r"/appels/propositions/\d+/$"))
    page.get_by_role("button", name="Soumettre", exact=True).click()
    expect(page.locator("main")).to_contain_text("Soumise")
    proposal = Proposal.objects.get(title=PROPOSAL)
    assert proposal.status == "submitted" and proposal.organisation == organisation
    screenshot(page, "issue18-2-submitted")

    # A second, weaker proposal from another organisation; both reviewed (services: tested elsewhere).
    other_org = Organisation.objects.exclude(pk=organisation.pk).filter(sector="social_economy").first()
    other_user = User.objects.create(username="autre-candidat", email="autre@example.org")
    from tremplin.web.accounts.services import membership_create

    membership_create(user=other_user, organisation=other_org, role="innovator")
    weaker = calls_services.proposal_create(
        call=call, user=other_user, organisation=other_org, title="Affiches de prévention", summary="s",
        description="d", budget_lines=[{"label": "Impression", "amount": 20_000}])
    calls_services.proposal_submit(proposal=weaker, user=other_user)
    reviewer = User.objects.get(email=_email("reviewer"))
    for p in (proposal, weaker):
        calls_services.assignment_add(proposal=p, reviewer=reviewer, by=manager)
    _move_to(call, "review")
    criteria = list(call.criteria.all())
    for p, score in ((proposal, 3), (weaker, 1)):
        p = Proposal.objects.select_related("call").get(pk=p.pk)  # the call's dates moved
        calls_services.review_save(proposal=p, reviewer=reviewer, scores={c.pk: (score, "") for c in criteria},
                                   submit=True)
    _move_to(call, "deliberation")

    # 3. The manager decides in bulk: mean >= 2 selected with the panel's feedback, the rest on the reserve list.
    page.context.clear_cookies()
    test_roles.login(page, base, _email("programme_manager"), "programme_manager")
    page.goto(f"{base}/appels/{call.pk}/classement/")
    expect(heading).to_have_text("Classement et décisions")
    panel = page.get_by_test_id("bulk-actions")
    panel.locator("select[name=mode]").select_option("threshold")
    panel.locator("input[name=threshold]").fill("2")
    panel.locator("select[name=outcome]").select_option("selected")
    panel.locator("textarea[name=reason]").fill(FEEDBACK)
    panel.locator("select[name=others_outcome]").select_option("reserve")
    panel.locator("textarea[name=others_reason]").fill("Intéressant, à consolider.")
    page.get_by_test_id("bulk-decide").click()
    expect(page.locator(".messages")).to_contain_text("2 décision(s) enregistrée(s)")
    ranking = page.get_by_test_id("ranking")
    expect(ranking.locator("tr", has_text=PROPOSAL).locator("strong")).to_have_text("Retenue")
    expect(ranking.locator("tr", has_text="Affiches de prévention").locator("strong")).to_have_text(
        "Liste complémentaire")
    screenshot(page, "issue18-3-bulk-decided")
    page.get_by_role("button", name="Publier toutes les décisions").click()
    expect(page.locator("main")).to_contain_text("Décisions publiées le")

    # 4. The decision mails wait in the outbox; the manager reads one and sends them all.
    mail.outbox.clear()
    page.goto(f"{base}/courriels/appel/{call.pk}/modeles/")
    page.get_by_role("link", name=re.compile("courriels à relire")).click()
    outbox = page.get_by_test_id("outbox")
    held = OutgoingMail.objects.filter(status="held", scope_id=call.pk, kind__startswith="calls.decision.")
    # One mail per innovator of each applicant organisation (the demo's innovator organisation has several).
    assert held.count() == sum(Membership.objects.filter(organisation=o, role="innovator").count()
                               for o in (organisation, other_org))
    expect(outbox.locator("tbody tr")).to_have_count(held.count())
    expect(outbox).to_contain_text(_email("innovator"))
    page.locator("#everything").check()
    page.get_by_test_id("outbox-send").click()
    expect(page.locator(".messages")).to_contain_text("en cours d'envoi")
    job = Job.objects.get(kind="notifications.send")
    job_run(job_id=str(job.pk))  # the worker
    screenshot(page, "issue18-4-outbox-sent")

    # 5. The feedback reaches the applicant.
    to_applicant = [m for m in mail.outbox if _email("innovator") in m.to]
    assert len(to_applicant) == 1, [m.to for m in mail.outbox]
    message = to_applicant[0]
    assert message.subject == f"[Tremplin] Décision : {PROPOSAL}"
    assert FEEDBACK in message.body and "Retenue" in message.body
    assert any("autre@example.org" in m.to and "Liste complémentaire" in m.body for m in mail.outbox)
    page.goto(f"{base}/courriels/")
    expect(page.get_by_test_id("mail-log")).to_contain_text(f"Décision : {PROPOSAL}")
    assert page.console_errors == [], page.console_errors
