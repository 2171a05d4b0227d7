"""Pages and API of the portfolio: contents per persona, forms, exports, chart + CSP, query counts."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.web.conftest import login_mfa_verified
from tests.web.factories import ExperimentFactory, OrganisationFactory, TerritoryFactory
from tremplin.web.portfolio import services
from tremplin.web.portfolio.models import Experiment, GateReview, KpiValue

pytestmark = pytest.mark.django_db


@pytest.fixture
def rich(experiment, territories):
    """The experiment with a plan that triggers the alert, budget, a late milestone, KPIs, deadlines."""
    services.evaluation_plan_register(
        experiment=experiment, treated_territories=territories[:1], comparison_territories=territories[1:4],
        primary_outcome="avoidable_hospitalisations", baseline_mean=6.0, baseline_sd=0.25, autocorrelation=0.4,
        expected_effect=-0.10, expand_criteria="Généraliser si baisse ≥ 5 %", stop_criteria="Arrêter sinon")
    services.budget_line_add(experiment=experiment, label="Équipe", committed=120_000, spent=80_000)
    services.milestone_add(experiment=experiment, name="Inclusions", due_date=timezone.localdate() - timedelta(1))
    kpi = services.kpi_add(experiment=experiment, name="Patients inclus", target=100)
    services.kpi_value_record(kpi=kpi, on=date(2025, 3, 31), value=12)
    services.deadlines_article51(experiment=experiment)
    services.gate_review_record(experiment=experiment, decision="advance", rationale="OK", deciders="Comité",
                                decided_on=date(2025, 6, 1))
    return experiment


def _grow(n: int) -> None:
    for i in range(n):
        e = ExperimentFactory(stage=1 + i % 5, lead_organisation=OrganisationFactory(),
                              start_date=date(2025, 1, 1), authorisation_end=date(2027, 1, 1))
        e.territories.add(TerritoryFactory())
        e.partners.add(OrganisationFactory())
        services.budget_line_add(experiment=e, label="x", committed=10, spent=5)
        services.milestone_add(experiment=e, name="m", due_date=date(2025, 2, 1))


def _count(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("persona", ["manager", "outsider"])
def test_portfolio_query_count_does_not_grow(client, personas, rich, persona, django_assert_max_num_queries):
    client.force_login(personas[persona])
    url = reverse("portfolio:portfolio")
    _grow(3)
    small = _count(client, url)
    _grow(30)
    with django_assert_max_num_queries(small):
        response = client.get(url)
    assert response.context["count"] == 34


def test_api_query_count_does_not_grow(client, personas, rich, django_assert_max_num_queries):
    client.force_login(personas["decider"])
    _grow(3)
    small = _count(client, "/api/v1/experiments/")
    _grow(30)
    with django_assert_max_num_queries(small):
        data = client.get("/api/v1/experiments/").json()
    assert data["count"] == 34


def test_pipeline_alerts_and_budget_for_readers(client, personas, rich):
    client.force_login(personas["decider"])
    response = client.get(reverse("portfolio:portfolio"))
    html = response.content.decode()
    columns = {c["stage"]: [r["experiment"] for r in c["rows"]] for c in response.context["columns"]}
    assert columns[2] == [rich] and columns[1] == []
    assert 'data-testid="alerts"' in html and "il manque 6 mois" in html
    assert response.context["total_budget"].committed == 120_000
    assert [label for label, _b in response.context["budget_by_type"]] == ["Public"]
    assert [m.name for m in response.context["late_milestones"]] == ["Inclusions"]
    assert "style=" not in html and "<script>" not in html


def test_outsider_sees_the_public_summary_only(client, personas, rich):
    client.force_login(personas["outsider"])
    html = client.get(reverse("portfolio:portfolio")).content.decode()
    assert rich.title in html and "il manque" not in html and "Budget engagé" not in html
    detail = client.get(reverse("portfolio:experiment-detail", args=[rich.pk]))
    assert detail.status_code == 200 and not detail.context["full"]
    assert "Plan d'évaluation" not in detail.content.decode()
    api = client.get(f"/api/v1/experiments/{rich.pk}/").json()
    assert api["title"] == rich.title and api["details"] is None


def test_filters(client, personas, rich):
    client.force_login(personas["manager"])
    other = ExperimentFactory(stage=3, care_domain="mental_health")
    url = reverse("portfolio:portfolio")
    assert [r["experiment"] for r in client.get(url, {"stage": 3}).context["rows"]] == [other]
    territory = rich.territories.first()
    assert [r["experiment"] for r in client.get(url, {"territory": territory.pk}).context["rows"]] == [rich]
    sector = rich.lead_organisation.sector
    other.lead_organisation.sector = "community"
    other.lead_organisation.save()
    assert rich in [r["experiment"] for r in client.get(url, {"sector": sector}).context["rows"]]
    assert [r["experiment"] for r in client.get(url, {"alertes": "1"}).context["rows"]] == [rich]


def test_detail_draws_the_timeline_under_a_relaxed_style_csp_only(client, personas, rich):
    client.force_login(personas["lead_member"])
    response = client.get(reverse("portfolio:experiment-detail", args=[rich.pk]))
    html = response.content.decode()
    assert response.context["full"] and 'data-testid="evaluation-alert"' in html
    assert "il manque 6 mois" in html
    csp = response["Content-Security-Policy"]
    style = next(d for d in csp.split(";") if d.strip().startswith("style-src"))
    script = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" in style and "'unsafe-inline'" not in script and "unsafe-eval" not in script
    assert 'src="/static/tremplin/vendor/plotly.min.js"' in html
    start = html.index('<script id="timeline-figure" type="application/json">')
    figure = json.loads(html[start:].split(">", 1)[1].split("</script>", 1)[0])
    names = {trace.get("name") for trace in figure["data"]}
    assert {"Jalon en retard", "Revue de passage", "Échéance", "Période autorisée"} <= names
    # The portfolio page itself keeps the strict policy.
    strict = client.get(reverse("portfolio:portfolio"))["Content-Security-Policy"]
    assert "'unsafe-inline'" not in strict


def test_vendored_plotly_is_present_and_points_nowhere_off_the_machine():
    import re

    from django.conf import settings

    static = settings.WEB_DIR / "static" / "tremplin"
    js = (static / "vendor" / "plotly.min.js").read_text(encoding="utf-8")
    assert len(js) > 1_000_000 and re.search(r"plotly\.js \(basic - minified\) v\d+\.\d+", js[:200])
    # the basic bundle, with the two default URLs neutralised by scripts/vendor_static.py
    assert 'dflt:"topojson/"' in js and 'plotlyServerURL:{valType:"string",dflt:""}' in js
    for asset in static.rglob("*"):
        if asset.suffix in (".js", ".css", ".html", ".svg"):
            text = asset.read_text(encoding="utf-8", errors="replace")
            assert not re.search(r"(?i)(https?:)?//[^\s\"'()]*(cdn|fonts\.googleapis|tiles)", text), asset.name


def test_exports(client, personas, rich):
    login_mfa_verified(client, personas["evaluator"])
    response = client.get(reverse("portfolio:export"), {"fmt": "csv"})
    text = response.content.decode("utf-8-sig")
    header, row = text.splitlines()[:2]
    assert header.startswith("id,title,stage") and row.startswith(f"{rich.pk},")
    assert ",120000.0,80000.0,1,avoidable_hospitalisations,30,24,6" in row
    response = client.get(reverse("portfolio:export"), {"fmt": "xlsx"})
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(response.content)).active
    assert ws.cell(2, 2).value == rich.title and ws.cell(2, 19).value == 6
    client.force_login(personas["lead_member"])
    assert client.get(reverse("portfolio:export")).status_code == 403


def test_export_neutralises_formulas(client, personas):
    ExperimentFactory(title="=HYPERLINK(\"x\")")
    client.force_login(personas["manager"])
    text = client.get(reverse("portfolio:export")).content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text


def test_manager_creates_from_a_selected_proposal(client, personas):
    from tests.web.factories import ProposalFactory, make_call
    from tremplin.web.calls import services as calls_services

    call = make_call("results")
    proposal = ProposalFactory(call=call)
    calls_services.decision_record(proposal=proposal, outcome="selected", reason="Oui")
    calls_services.decisions_release(call=call)
    client.force_login(personas["manager"])
    page = client.get(reverse("portfolio:portfolio"))
    assert [p.pk for p in page.context["candidates"]] == [proposal.pk]
    response = client.post(reverse("portfolio:experiment-from-proposal"), {"proposal": proposal.pk})
    experiment = Experiment.objects.get(proposal=proposal)
    assert response.status_code == 302 and response["Location"].endswith(f"/{experiment.pk}/")
    again = client.post(reverse("portfolio:experiment-from-proposal"), {"proposal": proposal.pk}, follow=True)
    assert Experiment.objects.filter(proposal=proposal).count() == 1 and again.status_code == 200


def test_gate_review_page(client, personas, experiment):
    client.force_login(personas["manager"])
    url = reverse("portfolio:gate-review", args=[experiment.pk])
    response = client.post(url, {"decision": "advance", "rationale": "Critères remplis", "deciders": "Comité",
                                 "decided_on": "2025-06-01"})
    assert response.status_code == 302
    experiment.refresh_from_db()
    assert experiment.stage == 2 and GateReview.objects.get().recorded_by == personas["manager"]
    response = client.post(url, {"decision": "advance", "rationale": "", "deciders": "Comité",
                                 "decided_on": "2025-06-01"})
    assert response.status_code == 200 and response.context["form"].errors


def test_plan_page_registers_then_amends_once_locked(client, personas, experiment, territories):
    client.force_login(personas["manager"])
    url = reverse("portfolio:plan", args=[experiment.pk])
    data = {"primary_outcome": "readmissions_30d", "design": "did", "expected_effect": "-0.1",
            "baseline_mean": "6", "baseline_sd": "0.25", "autocorrelation": "0.4", "pre_months": "12",
            "treated_territories": [territories[0].pk],
            "comparison_territories": [t.pk for t in territories[1:4]],
            "expand_criteria": "Généraliser", "stop_criteria": "Arrêter"}
    assert client.post(url, data).status_code == 302
    plan = experiment.evaluation_plan
    assert plan.months_required == 30
    services.evaluation_plan_lock(plan=plan)
    response = client.post(url, {**data, "expected_effect": "-0.2"})
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    assert client.post(url, {**data, "expected_effect": "-0.2", "reason": "Effet revu"}).status_code == 302
    assert plan.amendments.get().changed_by == personas["manager"]


def test_progress_page_for_involved_members(client, personas, experiment):
    client.force_login(personas["partner_member"])
    url = reverse("portfolio:progress", args=[experiment.pk])
    assert client.post(url, {"action": "kpi", "kpi-name": "Sites actifs", "kpi-target": "5"}).status_code == 302
    kpi = experiment.kpis.get()
    assert client.post(url, {"action": "kpi_value", "value-kpi": kpi.pk, "value-date": "2025-02-28",
                             "value-value": "3"}).status_code == 302
    assert KpiValue.objects.get().value == 3
    # Budget lines are for managers only.
    client.post(url, {"action": "budget", "budget-label": "x", "budget-funding_type": "public",
                      "budget-committed": "1", "budget-spent": "0"})
    assert not experiment.budget_lines.exists()
    client.force_login(personas["outsider"])
    assert client.get(url).status_code == 403


def test_bulk_update_page_shows_located_errors(client, personas, experiment):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(personas["lead_member"])
    content = (f"experiment_id,type,name,due_date,done_on,date,value\n"
               f"{experiment.pk},milestone,Nouveau,2025-13-40,,,\n").encode()
    response = client.post(reverse("portfolio:bulk-update"),
                           {"file": SimpleUploadedFile("suivi.csv", content, content_type="text/csv")})
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="csv-errors"' in html and "ligne 2" in html
    assert not experiment.milestones.exists()


def test_deadlines_page(client, personas, experiment):
    client.force_login(personas["manager"])
    url = reverse("portfolio:deadlines", args=[experiment.pk])
    assert client.post(url, {"action": "article51", "within": "6"}).status_code == 302
    response = client.get(url)
    dates = [on for _d, on in response.context["deadlines"]]
    assert dates == sorted(dates) and date(2028, 7, 1) in dates


def test_dashboard_panel(client, personas, rich):
    client.force_login(personas["manager"])
    html = client.get(reverse("core:dashboard")).content.decode()
    assert 'data-testid="portfolio-panel"' in html and "1 alerte d'évaluation · 1 jalon en retard" in html


def test_admin_change_page_with_inlines(client, personas, rich):
    services.site_add(experiment=rich, name="Tiers-lieu de test")
    login_mfa_verified(client, personas["admin"])
    response = client.get(f"/admin/portfolio/experiment/{rich.pk}/change/")
    assert response.status_code == 200 and "Tiers-lieu de test" in response.content.decode()


def test_sites_are_added_by_managers_only(client, personas, experiment):
    url = reverse("portfolio:progress", args=[experiment.pk])
    territory = experiment.territories.first()
    client.force_login(personas["lead_member"])
    client.post(url, {"action": "site", "site-name": "Tiers-lieu A", "site-territory": territory.pk})
    assert not experiment.sites.exists()
    client.force_login(personas["manager"])
    assert client.post(url, {"action": "site", "site-name": "Tiers-lieu A",
                             "site-territory": territory.pk}).status_code == 302
    assert list(experiment.sites.values_list("name", "territory")) == [("Tiers-lieu A", territory.pk)]
    assert "Tiers-lieu A" in client.get(url).content.decode()
