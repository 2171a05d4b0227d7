"""In real Chromium: open the demo experiment, launch an evaluation on the demo region, watch its progress,
read the result, download the PDF (checked with pypdf), publish, see the public page as an anonymous visitor."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.test_roles import login

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo_evaluations(transactional_db, settings, tmp_path):
    from django.core.management import call_command

    settings.DATASETS_DIR = tmp_path / "datasets"
    settings.DEBUG = True
    call_command("demo_setup", verbosity=0)  # runs demo_portfolio and demo_evaluations
    settings.DEBUG = False


def test_launch_follow_read_download_publish(page, live_server, demo_evaluations):
    from pypdf import PdfReader

    from tremplin.web.evaluations.models import Dataset, Run
    from tremplin.web.evaluations.presentation import headline_sentence
    from tremplin.web.jobs.services import job_run
    from tremplin.web.portfolio.models import EvaluationPlan

    dataset = Dataset.objects.get(status="valid")
    plan = EvaluationPlan.objects.filter(experiment__datasets=dataset).select_related("experiment").first()
    assert plan is not None, "the demo dataset is linked to a demo experiment's plan"

    login(page, live_server.url, "evaluator@demo.tremplin.org", "evaluator")
    from django.urls import reverse

    page.goto(live_server.url + reverse("portfolio:experiment-detail", args=[plan.experiment.pk]))
    assert plan.experiment.title in page.content()
    page.goto(live_server.url + reverse("evaluations:run-create", args=[plan.pk]))
    page.select_option("#id_period", "quarter")
    page.get_by_test_id("launch-run").click()
    page.get_by_test_id("run-status").wait_for()
    run = Run.objects.get(plan=plan)
    assert page.get_by_test_id("run-status").get_attribute("data-status") == "queued"

    # The worker: run the job while the page polls its progress.
    worker = threading.Thread(target=job_run, kwargs={"job_id": str(run.job_id)})
    worker.start()
    page.get_by_test_id("headline-text").wait_for(timeout=120_000)  # htmx reloads the page when finished
    worker.join()
    run.refresh_from_db()
    sentence = headline_sentence(run.result["headline"], run.result["outcome"])
    assert sentence in page.get_by_test_id("headline-text").inner_text()
    page.locator("[data-testid=effect-chart] .main-svg").first.wait_for()  # Plotly drew the event study
    screenshot(page, "evaluation-result")

    with page.expect_download() as info:
        page.get_by_test_id("download-pdf").click()
    pdf = PdfReader(io.BytesIO(Path(info.value.path()).read_bytes()))
    text = " ".join(p.extract_text() for p in pdf.pages)
    assert sentence.split(" ")[0] in text and "IC 95" in text

    page.get_by_test_id("publish-run").click()
    public_url = page.get_by_test_id("public-link").get_attribute("href")
    page.get_by_test_id("logout").click()
    page.wait_for_load_state()
    page.goto(f"{live_server.url}{public_url}")
    assert sentence in page.get_by_test_id("headline-text").inner_text()
    counts = [c for c in page.locator("[data-count]").all_inner_texts() if c.strip() != "—"]
    assert counts and min(int(c.replace("\u202f", "").replace(" ", "")) for c in counts) >= 11
    screenshot(page, "evaluation-public")
    assert page.console_errors == [], page.console_errors


@pytest.mark.parametrize(("estimator", "heading"), [("synth", "contrôle synthétique"), ("its", "Série temporelle")])
def test_synth_and_its_results_draw_their_figure(page, live_server, demo_evaluations, estimator, heading):
    from django.urls import reverse

    from tremplin.web.evaluations.models import Dataset, Run
    from tremplin.web.evaluations.presentation import headline_sentence
    from tremplin.web.jobs.services import job_run
    from tremplin.web.portfolio.models import EvaluationPlan

    dataset = Dataset.objects.get(status="valid")
    plan = EvaluationPlan.objects.filter(experiment__datasets=dataset).first()
    login(page, live_server.url, "evaluator@demo.tremplin.org", "evaluator")
    page.goto(live_server.url + reverse("evaluations:run-create", args=[plan.pk]))
    page.select_option("#id_estimator", estimator)
    page.select_option("#id_period", "month")
    page.get_by_test_id("launch-run").click()
    page.get_by_test_id("run-status").wait_for()
    run = Run.objects.get(plan=plan)
    job_run(job_id=str(run.job_id))
    page.get_by_test_id("headline-text").wait_for(timeout=120_000)
    run.refresh_from_db()
    assert run.estimator == estimator
    assert headline_sentence(run.result["headline"], run.result["outcome"]) in page.get_by_test_id(
        "headline-text").inner_text()
    assert heading in page.content()
    page.locator("[data-testid=effect-chart] .main-svg").first.wait_for()  # Plotly drew the gaps / ITS fit
    screenshot(page, f"evaluation-{estimator}")
    assert page.console_errors == [], page.console_errors
