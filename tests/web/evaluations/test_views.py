"""Pages: datasets, launch, progress, results, reports (PDF checked with pypdf), publication, public page."""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse

from tests.web.conftest import login_mfa_verified
from tremplin.web.evaluations import services
from tremplin.web.evaluations.models import Run, RunStatus
from tremplin.web.evaluations.presentation import headline_sentence, percent

pytestmark = pytest.mark.django_db


def test_percent_and_headline_in_plain_language():
    assert percent(-0.112) == "−11 %" and percent(0.054) == "+5 %" and percent(0.004) == "+0,4 %"
    assert percent(0.0) == "0,0 %" and percent(None) == "—"
    text = headline_sentence({"relative": -0.11, "relative_ci_low": -0.16, "relative_ci_high": -0.06},
                             "avoidable_hospitalisations")
    assert text == "−11 % hospitalisations évitables, IC 95 % −16 % à −6 %"


def test_dataset_pages(client, evaluator, dataset):
    login_mfa_verified(client, evaluator)
    response = client.get(reverse("evaluations:dataset-list"))
    assert response.status_code == 200 and "Petite région" in response.content.decode()
    response = client.get(reverse("evaluations:dataset-detail", args=[dataset.pk]))
    assert dataset.fingerprint in response.content.decode()


def test_dataset_form_registers_a_server_folder(client, evaluator, small_region, datasets_dir):
    import shutil

    shutil.copytree(small_region, datasets_dir / "mine")
    login_mfa_verified(client, evaluator)
    response = client.post(reverse("evaluations:dataset-create"),
                           {"name": "Ma région", "format": "ours", "server_path": str(datasets_dir / "mine")})
    assert response.status_code == 302
    from tremplin.web.evaluations.models import Dataset

    dataset = Dataset.objects.get(name="Ma région")
    assert dataset.job is not None and dataset.job.kind == "evaluations.validate_dataset"
    response = client.post(reverse("evaluations:dataset-create"), {"name": "Rien", "format": "ours"})
    assert response.status_code == 200 and "l&#x27;un ou l&#x27;autre" in response.content.decode()


def test_launch_from_the_plan_then_follow_progress(client, evaluator, plan, dataset):
    login_mfa_verified(client, evaluator)
    url = reverse("evaluations:run-create", args=[plan.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"dataset": dataset.pk, "estimator": "cs", "period": "quarter", "seed": 0})
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("evaluations:run-detail", args=[run.pk])
    assert run.status == RunStatus.QUEUED and run.job is not None
    page = client.get(response["Location"]).content.decode()
    assert f'hx-get="{reverse("evaluations:run-status", args=[run.pk])}"' in page
    from tremplin.web.jobs.services import job_run

    job_run(job_id=str(run.job_id))
    status = client.get(reverse("evaluations:run-status", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert status["HX-Refresh"] == "true"


def test_results_page_reports_and_pdf(client, evaluator, run):
    login_mfa_verified(client, evaluator)
    page = client.get(reverse("evaluations:run-detail", args=[run.pk]))
    html = page.content.decode()
    sentence = headline_sentence(run.result["headline"], run.result["outcome"])
    assert sentence in html
    assert '<script id="trends-figure" type="application/json">' in html and 'id="effect-figure"' in html
    assert "<script>" not in html and " style=" not in html
    assert "'unsafe-inline'" in page["Content-Security-Policy"].split("style-src")[1].split(";")[0]
    assert "vendor/plotly.min.js" in html and "evaluations.js" in html

    report = client.get(reverse("evaluations:run-report-html", args=[run.pk]))
    assert report.status_code == 200 and sentence in report.content.decode()
    data = client.get(reverse("evaluations:run-json", args=[run.pk])).json()
    assert data["dataset_fingerprint"] == run.dataset_fingerprint and "figures" not in data["result"]

    pdf = client.get(reverse("evaluations:run-report-pdf", args=[run.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    from pypdf import PdfReader

    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    effect = sentence.split(" ")[0]  # e.g. "−11"
    assert effect in text and "IC 95" in text


def test_publish_then_public_page_for_anonymous_without_small_counts(client, evaluator, run):
    public_url = reverse("evaluations:published-run", args=[run.pk])
    assert client.get(public_url).status_code == 403  # not published yet
    login_mfa_verified(client, evaluator)
    response = client.post(reverse("evaluations:run-publish", args=[run.pk]))
    assert response.status_code == 302
    client.logout()
    page = client.get(public_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert headline_sentence(run.result["headline"], run.result["outcome"]) in html
    counts = [int(c) for c in re.findall(r'<td class="num" data-count>(\d+)</td>', html)]
    assert counts and min(counts) >= 11
    assert str(run.dataset.source_path) not in html
    listing = client.get(reverse("evaluations:published-list")).content.decode()
    assert public_url in listing


def test_run_list_query_count_does_not_grow(client, evaluator, plan, dataset, django_assert_max_num_queries):
    login_mfa_verified(client, evaluator)
    services.run_launch(plan=plan, dataset=dataset, user=evaluator)
    url = reverse("evaluations:run-list")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    for _ in range(5):
        services.run_launch(plan=plan, dataset=dataset, user=evaluator)
    with django_assert_max_num_queries(len(ctx.captured_queries)):
        assert client.get(url).status_code == 200


def test_api_exposes_provenance_and_result_to_evaluators_only(client, evaluator, run, make_user):
    login_mfa_verified(client, evaluator)
    data = client.get(f"/api/v1/evaluation-runs/{run.pk}/").json()
    assert data["dataset_fingerprint"] == run.dataset_fingerprint and data["engine_version"] == run.engine_version
    assert data["result"]["headline"] == run.result["headline"] and "figures" not in data["result"]
    assert client.get("/api/v1/evaluation-datasets/").json()["results"][0]["fingerprint"] == run.dataset_fingerprint
    client.force_login(make_user("network_member"))
    assert client.get(f"/api/v1/evaluation-runs/{run.pk}/").status_code == 404
    assert client.get("/api/v1/evaluation-runs/").status_code == 403


def test_warnings_in_plain_language():
    from tremplin.web.evaluations.presentation import warnings_for

    assert warnings_for({}) == []
    texts = warnings_for({"few_clusters": True, "treated_units": 3, "comparison_units": 9, "pretrend_rejected": True})
    assert len(texts) == 2 and "3 expérimentateurs" in texts[0] and "avant l'intervention" in texts[1]
