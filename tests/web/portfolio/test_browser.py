"""The portfolio in a real headless Chromium: the pipeline, then an experiment page whose timeline is drawn by
the vendored plotly.js under the page's CSP (no console error, hence no CSP violation), then a gate review."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.test_roles import login
from tremplin.web.portfolio.models import Experiment

pytestmark = pytest.mark.e2e


@pytest.fixture
def portfolio_demo(transactional_db, settings):
    from django.core.management import call_command

    from tremplin.web.core.management.commands.demo_setup import Command as DemoSetup

    settings.DEBUG = True
    DemoSetup()._load()
    call_command("demo_portfolio", verbosity=0)
    settings.DEBUG = False


def test_pipeline_chart_and_gate_review_in_the_browser(page, live_server, portfolio_demo):
    base = live_server.url
    login(page, base, "decider@demo.tremplin.org", "decision_maker")
    page.goto(f"{base}/experimentations/")
    assert page.get_by_test_id("pipeline").is_visible()
    assert page.get_by_test_id("alert-badge").count() >= 1
    screenshot(page, "portfolio-pipeline")

    experiment = Experiment.objects.get(title__startswith="Télésurveillance de l'insuffisance cardiaque : ")
    page.goto(f"{base}/experimentations/{experiment.pk}/")
    page.wait_for_selector("[data-chart-ready='1']", timeout=20_000)
    assert page.locator("[data-testid=timeline-chart] svg.main-svg").count() >= 1
    assert "il manque 6 mois" in page.get_by_test_id("evaluation-alert").inner_text()
    screenshot(page, "portfolio-experiment-timeline")
    assert page.console_errors == [], page.console_errors

    page.context.clear_cookies()
    login(page, base, "manager@demo.tremplin.org", "programme_manager")
    page.goto(f"{base}/experimentations/{experiment.pk}/revue/")
    page.check("input[name=decision][value=advance]")
    page.fill("#id_rationale", "Critère principal atteint.")
    page.fill("#id_deciders", "Comité de pilotage")
    page.get_by_test_id("gate-submit").click()
    page.wait_for_url(f"**/experimentations/{experiment.pk}/")
    assert "5 · Déploiement" in page.get_by_test_id("stage").inner_text()
    assert page.console_errors == [], page.console_errors
