"""A sixth estimator registered by the test (tests/estimators/tiny.py) is offered by the run form, run,
shown on the results page and served by the API, without a line of the evaluations app naming it; once
unregistered it is no longer offered, and its past runs still display.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.estimators.tiny import TINY
from tests.web.conftest import login_mfa_verified
from tremplin.engine import register, unregister
from tremplin.engine.panel import build_panel
from tremplin.web.evaluations import storage
from tremplin.web.evaluations.models import Run, RunStatus
from tremplin.web.evaluations.presentation import headline_sentence
from tremplin.web.jobs.services import job_run

pytestmark = pytest.mark.django_db

OPTION = '<option value="tiny">Différence des moyennes (test)</option>'


@pytest.fixture
def tiny():
    register(TINY)
    yield TINY
    unregister(TINY.name)


def reference_att(data_dir, outcome: str) -> float:
    """The difference in differences of means per cohort, weighted by units, computed here with pandas."""
    panel = build_panel(data_dir, period="quarter", outcomes=[outcome]).to_pandas()
    never = panel[panel.cohort == 0]
    total, units = 0.0, 0
    for g, rows in panel[panel.cohort > 0].groupby("cohort"):
        d = ((rows[rows.period >= g][outcome].mean() - rows[rows.period < g][outcome].mean())
             - (never[never.period >= g][outcome].mean() - never[never.period < g][outcome].mean()))
        n = rows.unit_id.nunique()
        total, units = total + n * d, units + n
    return total / units


def test_a_registered_estimator_is_offered_run_shown_and_served(client, evaluator, plan, dataset, tiny):
    login_mfa_verified(client, evaluator)
    url = reverse("evaluations:run-create", args=[plan.pk])
    assert OPTION in client.get(url).content.decode()
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<option value="tiny">Difference of means (test)</option>' in english
    # the built-in methods keep the English names the catalogue gave them before the registry did
    assert '<option value="synth">Synthetic control (one per intervention territory, averaged)</option>' in english
    assert '<option value="its">Interrupted time series (one regression per cohort, pooled)</option>' in english

    response = client.post(url, {"dataset": dataset.pk, "estimator": "tiny", "period": "quarter", "seed": 0})
    run = Run.objects.get()
    assert response.status_code == 302 and run.estimator == "tiny"
    job_run(job_id=str(run.job_id))
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error

    expected = reference_att(storage.stored_path(dataset.storage), plan.primary_outcome)
    assert run.result["estimate"]["method"] == "tiny"  # the estimator's JSON contract, stored as is
    assert run.result["estimate"]["att"]["estimate"] == pytest.approx(expected, rel=1e-12)
    assert run.result["headline"]["att"] == pytest.approx(expected, rel=1e-12)
    assert run.result["headline"]["ci_low"] is None and run.result["se"] is None  # no inference: NaN -> None
    assert run.result["figures"]["effect_kind"] == "means_gap" and run.result["figures"]["effect"] is not None
    assert [e["relative_period"] for e in run.result["event_study"]] == sorted(
        e["relative_period"] for e in run.result["event_study"])

    page = client.get(reverse("evaluations:run-detail", args=[run.pk])).content.decode()
    assert "Différence des moyennes (test)" in page
    assert headline_sentence(run.result["headline"], run.result["outcome"]) in page
    assert 'id="effect-figure"' in page
    api = client.get(f"/api/v1/evaluation-runs/{run.pk}/").json()
    assert api["estimator"] == "tiny" and api["result"]["estimate"]["att"]["estimate"] == pytest.approx(expected)

    unregister("tiny")
    assert OPTION not in client.get(url).content.decode()
    refused = client.post(url, {"dataset": dataset.pk, "estimator": "tiny", "period": "quarter", "seed": 0})
    assert refused.status_code == 200 and Run.objects.count() == 1
    page = client.get(reverse("evaluations:run-detail", args=[run.pk])).content.decode()
    assert "tiny" in page and headline_sentence(run.result["headline"], run.result["outcome"]) in page
    register(TINY)  # the fixture unregisters it
