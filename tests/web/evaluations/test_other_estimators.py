"""Runs with the synthetic-control and interrupted-time-series estimators, chosen from the plan's design.

The numbers come from the engine (tested there against references); here: the design picks the estimator,
the run succeeds on a staggered region, the headline carries the right inference (placebo p-value without
interval for synth, an interval for ITS), and the results page, PDF and publication render it.
"""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from tests.web.conftest import login_mfa_verified
from tremplin.web.evaluations import services
from tremplin.web.evaluations.models import RunStatus
from tremplin.web.evaluations.presentation import headline_sentence, verdict

pytestmark = pytest.mark.django_db


@pytest.fixture
def synth_run(make_plan, dataset, evaluator):
    plan = make_plan(design="synthetic_control", title="Télésurveillance")
    return services.run_launch(plan=plan, dataset=dataset, user=evaluator, period="quarter", sync=True)


@pytest.fixture
def its_run(make_plan, dataset, evaluator):
    plan = make_plan(design="its", title="Infirmières de pratique avancée")
    return services.run_launch(plan=plan, dataset=dataset, user=evaluator, period="month", sync=True)


def test_synthetic_control_design_runs_synth_with_placebo_inference(synth_run):
    assert synth_run.status == RunStatus.SUCCEEDED, synth_run.error
    assert synth_run.estimator == "synth"
    h = synth_run.result["headline"]
    assert h["ci_low"] is None and h["ci_high"] is None and 0 < h["p_value"] <= 1
    assert h["relative"] == pytest.approx(h["att"] / h["baseline"])
    estimate = synth_run.result["estimate"]
    assert estimate["method"] == "synth" and estimate["att"]["estimate"] == pytest.approx(h["att"])
    assert synth_run.result["event_study"] and synth_run.result["figures"]["effect_kind"] == "synth_gaps"
    sentence = headline_sentence(h, "avoidable_hospitalisations")
    assert "p = " in sentence and "placebos" in sentence and "IC 95" not in sentence
    assert "placebos" in verdict(h)
    from tremplin.web.evaluations.presentation import warnings_for

    few = {"few_clusters": True, "treated_units": 3, "comparison_units": 5}
    assert "valeur p par placebos" in warnings_for(few, "synth")[0]
    assert "intervalles de confiance" in warnings_for(few, "cs")[0]


def test_its_design_runs_pooled_segmented_regressions(its_run):
    assert its_run.status == RunStatus.SUCCEEDED, its_run.error
    assert its_run.estimator == "its"
    h = its_run.result["headline"]
    assert h["ci_low"] < h["att"] < h["ci_high"]
    its = its_run.result["estimate"]["its"]
    assert its["comparison"] is True and its["seasonality"] == "fourier"
    assert its_run.result["figures"]["effect_kind"] == "its_fit"


def test_results_pages_for_synth_and_its(client, evaluator, synth_run, its_run):
    login_mfa_verified(client, evaluator)
    for run, heading in ((synth_run, "Écart au contrôle synthétique"), (its_run, "Série temporelle interrompue :")):
        html = client.get(reverse("evaluations:run-detail", args=[run.pk])).content.decode()
        assert headline_sentence(run.result["headline"], run.result["outcome"]) in html
        assert heading in html and 'id="effect-figure"' in html
    pdf = client.get(reverse("evaluations:run-report-pdf", args=[synth_run.pk]))
    from pypdf import PdfReader

    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "placebos" in text
    assert client.post(reverse("evaluations:run-publish", args=[synth_run.pk])).status_code == 302
    client.logout()
    public = client.get(reverse("evaluations:published-run", args=[synth_run.pk])).content.decode()
    assert headline_sentence(synth_run.result["headline"], synth_run.result["outcome"]) in public


def _effect_figure(client, run, language: str) -> dict:
    import json
    import re

    html = client.get(reverse("evaluations:run-detail", args=[run.pk]), HTTP_ACCEPT_LANGUAGE=language).content.decode()
    found = re.search(r'<script id="effect-figure" type="application/json">(.*?)</script>', html, re.S)
    assert found, "no effect figure on the page"
    return json.loads(found.group(1))


def test_effect_figures_speak_the_page_language(client, evaluator, run, synth_run, its_run):
    """The engine draws in English; the page relabels title, axes and legend in French or English."""
    login_mfa_verified(client, evaluator)
    expected = {
        run.pk: ("Étude d'événement : hospitalisations évitables", "Event study: potentially avoidable hospitalisations",
                 {"Bande uniforme à 95 %", "Effet (intervalle ponctuel à 95 %)"},
                 {"Uniform 95% band", "Effect (pointwise 95% interval)"}),
        synth_run.pk: ("Écart moyen sur hospitalisations évitables", "Average gap in potentially avoidable hospitalisations",
                       {"Écart moyen"}, {"Average gap"}),
        its_run.pk: ("Série temporelle interrompue : hospitalisations évitables",
                     "Interrupted time series: potentially avoidable hospitalisations",
                     {"observé", "ajusté", "contrefactuel"}, {"observed", "fitted", "counterfactual"}),
    }
    for r in (run, synth_run, its_run):
        fr_title, en_title, fr_names, en_names = expected[r.pk]
        for language, title, names in (("fr", fr_title, fr_names), ("en", en_title, en_names)):
            figure = _effect_figure(client, r, language)
            assert figure["layout"]["title"]["text"].startswith(title), (language, figure["layout"]["title"])
            legend = {t.get("name") or "" for t in figure["data"]}
            for name in names:
                assert any(n.startswith(name) for n in legend), (language, name, legend)
            # nothing left in the engine's English on the French page
            if language == "fr":
                assert not any(word in str(figure["layout"]["xaxis"]["title"]) for word in ("period", "Period"))


def test_bacon_figure_and_old_figures() -> None:
    from types import SimpleNamespace

    from django.utils import translation

    from tremplin.engine.estimators.bacon import BaconComponent
    from tremplin.engine.estimators.plots import bacon_plot
    from tremplin.web.evaluations.analysis import _figure_json
    from tremplin.web.evaluations.presentation import localise_figure

    bacon = SimpleNamespace(twfe_estimate=-0.5, components=[
        BaconComponent("treated vs never treated", 3, "never", -0.4, 0.6),
        BaconComponent("later vs earlier treated", 5, 3, -0.7, 0.4)])
    figure = _figure_json(bacon_plot(bacon))
    with translation.override("fr"):
        fr = localise_figure(figure, "dépenses par habitant")
    assert fr["layout"]["title"]["text"] == "Décomposition de Goodman-Bacon de l'estimation TWFE"
    assert fr["layout"]["xaxis"]["title"]["text"] == "Poids"
    assert [t["name"] for t in fr["data"]] == ["traités plus tard contre traités plus tôt (déjà traités)",
                                              "traités contre jamais traités"]
    assert fr["data"][0]["x"] == figure["data"][0]["x"]  # the numbers are untouched
    with translation.override("en"):
        en = localise_figure(figure, "cost per capita")
    assert [t["name"] for t in en["data"]] == ["later vs earlier treated (already treated)",
                                              "treated vs never treated"]
    assert en["layout"]["title"]["text"] == "Goodman-Bacon decomposition of the TWFE estimate"
    # a figure stored before figures carried their meta is shown as it was
    old = {"data": [{"name": "observed"}], "layout": {"title": {"text": "Interrupted time series: x"}}}
    assert localise_figure(old, "x") is old
    assert localise_figure(None, "x") is None
