"""In real Chromium: duplicate suggestions while typing (htmx), the save-time warning, endorsing, answering
the consultation and its live tallies."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot
from tremplin.web.core.demo import DEMO_PASSWORD

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo_problems(transactional_db, settings):
    from django.core.management import call_command

    settings.DEBUG = True
    call_command("demo_setup", verbosity=0)
    call_command("demo_problems", verbosity=0)
    settings.DEBUG = False


def login(page, base_url: str, email: str) -> None:  # noqa: F811
    page.goto(f"{base_url}/compte/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/tableau-de-bord/**")


def test_report_with_duplicate_detection_then_endorse_and_answer(page, live_server, demo_problems):  # noqa: F811
    from tremplin.web.problems.models import ConsultationResponse, Endorsement, Problem

    login(page, live_server.url, "member@demo.tremplin.org")
    page.get_by_test_id("main-nav").get_by_role("link", name="Problématiques").click()
    assert page.get_by_test_id("problem-ranking").is_visible()
    page.get_by_test_id("report-problem").click()

    page.fill("#id_title", "Réhospitalisations des insuffisants cardiaques")
    page.locator("#id_description").press_sequentially("Les patients reviennent après la sortie", delay=10)
    suggestions = page.locator("#similar-problems")
    suggestions.get_by_text("Réhospitalisations évitables des patients insuffisants cardiaques").wait_for()
    screenshot(page, "problems-similar-while-typing")

    page.select_option("#id_domain", "chronic_disease")
    page.locator("main form button[type=submit]").click()
    page.locator("#id_confirm_distinct").wait_for()  # warned on save: confirm or endorse instead
    assert Problem.objects.filter(title="Réhospitalisations des insuffisants cardiaques").count() == 0
    page.check("#id_confirm_distinct")
    page.locator("main form button[type=submit]").click()
    page.get_by_test_id("problem-status").wait_for()
    assert Problem.objects.filter(title="Réhospitalisations des insuffisants cardiaques").count() == 1

    # Endorse another organisation's problem from its page.
    target = Problem.objects.get(title__startswith="Examens d'imagerie redondants")
    page.goto(f"{live_server.url}/problematiques/{target.pk}/")
    assert page.get_by_test_id("score-explanation").is_visible()
    page.fill("#id_comment", "Nous refaisons aussi des scanners.")
    page.get_by_test_id("endorse").click()
    page.get_by_test_id("endorsements").get_by_text("Nous refaisons aussi des scanners.").wait_for()
    assert Endorsement.objects.filter(problem=target, organisation__name="CPTS de Villeurbanne").exists()

    # The member already answered the demo consultation: the results are shown, with live tallies.
    consultation = ConsultationResponse.objects.filter(respondent__email="member@demo.tremplin.org").get().consultation
    page.goto(f"{live_server.url}/problematiques/consultations/{consultation.pk}/repondre/")
    page.wait_for_url(f"**/consultations/{consultation.pk}/resultats/")
    assert "4 réponses" in page.get_by_test_id("response-count").inner_text()
    # The save-time warning re-renders the form with status 400, which Chromium logs; nothing else may fail.
    errors = [e for e in page.console_errors if "status of 400" not in e]
    assert errors == [], errors
