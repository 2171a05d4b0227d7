"""Horizon pages and API: "prepare a call for this" (a draft call through the calls app, pre-filled from the
signal and its problems, linked back), the radar page, the public listing and the export (anonymous, public
signals only, no personal data), who reads and who changes, the panel's scores by name for managers only, the
typed API, and list views whose query count does not grow."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.web.conftest import login_mfa_verified
from tests.web.factories import ProblemFactory, make_call
from tests.web.horizon.conftest import make_signal
from tremplin.web.calls.models import Call
from tremplin.web.horizon import services
from tremplin.web.horizon.models import Signal

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return response.content.decode()


@pytest.fixture
def signal(personas, problem):
    return make_signal(by=personas.manager, title="Prédiagnostic par IA des rétinographies", is_public=True,
                       summary="Des algorithmes lisent les rétinographies.", impact_skills=4, impact_pathways=3,
                       impact_notes="Des tâches passent de l'ophtalmologue à l'orthoptiste.",
                       source_links="https://www.has-sante.fr/", problems=[problem])


def _call_form(initial: dict) -> dict:
    """The prepare-call form as the page fills it, completed with the envelope the manager types."""
    data = {"title": initial["title"], "text": initial["text"], "problems": [p.pk for p in initial["problems"]],
            "eligible_sectors": ["public", "private_for_profit", "private_non_profit", "social_economy", "community"], "budget_envelope": "200000",
            "max_amount_per_proposal": "50000", "reviewers_per_proposal": "3", "blind_review": "on",
            "visibility_during_review": "after_own", "visibility_after_review": "always"}
    for name in ("opens_at", "review_starts_at", "deliberation_starts_at", "results_at"):
        data[name] = timezone.localtime(initial[name]).strftime("%Y-%m-%dT%H:%M")
    return data


def test_prepare_a_call_from_a_signal(client, signal, personas, problem):
    from tremplin.web.horizon.selectors import call_draft_initial

    client.force_login(personas.manager)
    url = reverse("horizon:signal-prepare-call", args=[signal.pk])
    html = _text(client.get(url))
    assert "Appel de solutions : Prédiagnostic par IA des rétinographies" in html
    assert problem.title in html and "orthoptiste" in html and "https://www.has-sante.fr/" in html
    initial = call_draft_initial(signal=signal)
    assert initial["opens_at"] > timezone.now()  # a draft: not open to applicants yet
    response = client.post(url, _call_form(initial))
    assert response.status_code == 302, response.content.decode()[:2000]
    call = Call.objects.get()
    assert response.url == reverse("calls:call-detail", args=[call.pk])
    assert call.title == "Appel de solutions : Prédiagnostic par IA des rétinographies"
    assert "Des algorithmes lisent les rétinographies." in call.text and problem.title in call.text
    assert call.phase == "draft" and call.created_by == personas.manager
    assert list(call.problems.all()) == [problem] and call.criteria.count() > 0  # the calls app's default grid
    problem.refresh_from_db()
    assert problem.status == "in_call"
    assert list(signal.calls.all()) == [call]
    assert "Prédiagnostic" in _text(client.get(reverse("horizon:signal-detail", args=[signal.pk])))


def test_a_call_draft_is_checked_by_the_calls_app(client, signal, personas):
    from tremplin.web.horizon.selectors import call_draft_initial

    client.force_login(personas.manager)
    data = _call_form(call_draft_initial(signal=signal))
    data["max_amount_per_proposal"] = "900000"  # more than the envelope
    response = client.post(reverse("horizon:signal-prepare-call", args=[signal.pk]), data)
    assert response.status_code == 400
    assert not Call.objects.exists() and not signal.calls.exists()


def test_who_may_prepare_a_call(client, signal, personas):
    url = reverse("horizon:signal-prepare-call", args=[signal.pk])
    for user, status in [(personas.decider, 403), (personas.reviewer, 403), (personas.member, 403),
                         (personas.other_manager, 200)]:
        client.force_login(user)
        assert client.get(url).status_code == status, user
    services.signal_update(signal=signal, status="archived")
    client.force_login(personas.manager)
    assert client.get(url).status_code == 403  # an archived signal no longer leads to a call


def test_the_radar_page(client, signal, personas):
    make_signal(by=personas.manager, title="Séquençage rapide", domain="genomics", horizon="long", likelihood=1)
    client.force_login(personas.decider)
    response = client.get(reverse("horizon:signal-radar"))
    assert response.status_code == 200
    html = _text(response)
    assert 'data-plotly-figure="radar-figure"' in html and 'id="radar-figure"' in html
    assert "2 signaux sur le radar" in html
    # Plotly draws with inline styles: allowed on this page, scripts stay 'self' (no inline script anywhere).
    policy = response["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy and "script-src 'self';" in policy
    figure = response.context["figure"]
    assert {t["marker"]["symbol"] for t in figure["data"]} == {"diamond", "circle"}  # the shapes carry likelihood
    # The same radar in a table (readable without the chart, without colour).
    table = html.split('data-testid="radar-table"')[1].split("</table>")[0]
    assert "Prédiagnostic" in table and "Séquençage rapide" in table
    response = client.get(reverse("horizon:signal-radar"), {"domain": "genomics"})
    assert [p.signal.title for p in response.context["points"]] == ["Séquençage rapide"]


def test_the_public_listing_is_anonymous_and_public_only(client, signal, personas):
    make_signal(by=personas.manager, title="Signal interne", is_public=False)
    services.signal_score(signal=signal, scorer=personas.panel[0], likelihood=4, impact=4, relevance=4,
                          comment="Commentaire confidentiel")
    response = client.get(reverse("horizon:public-list"))
    assert response.status_code == 200
    html = _text(response)
    assert "Prédiagnostic par IA" in html and "Signal interne" not in html
    assert "Commentaire confidentiel" not in html and personas.manager.email not in html
    assert str(personas.manager) not in html  # the steward is not named
    assert "Note du panel" not in html


def test_the_public_export_is_anonymous_and_public_only(client, signal, personas):
    make_signal(by=personas.manager, title="Signal interne", is_public=False)
    services.signal_score(signal=signal, scorer=personas.panel[0], likelihood=4, impact=4, relevance=4)
    response = client.get(reverse("horizon:public-export"), {"fmt": "csv"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["title"] for r in rows] == ["Prédiagnostic par IA des rétinographies"]
    assert set(rows[0]) == {"id", "title", "summary", "domain", "horizon", "likelihood", "impact_workforce",
                            "impact_pathways", "impact_costs", "impact_skills", "impact_notes", "sources",
                            "last_reviewed_on"}
    assert rows[0]["sources"] == "https://www.has-sante.fr/" and rows[0]["impact_skills"] == "4"
    xlsx = client.get(reverse("horizon:public-export"), {"fmt": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert reverse("horizon:public-export") in _text(client.get(reverse("horizon:public-list")))


def test_the_export(client, signal, personas):
    make_signal(by=personas.manager, title="Signal interne", is_public=False)
    services.signal_score(signal=signal, scorer=personas.panel[0], likelihood=4, impact=2, relevance=3)
    login_mfa_verified(client, personas.evaluator)
    response = client.get(reverse("horizon:signal-export"), {"fmt": "csv"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {r["title"] for r in rows} == {"Prédiagnostic par IA des rétinographies", "Signal interne"}
    exported = next(r for r in rows if r["title"].startswith("Prédiagnostic"))
    assert exported["panel_n"] == "1" and float(exported["panel_mean"]) == pytest.approx(3.0)
    assert exported["impact_skills"] == "4" and "in_call" not in exported
    client.logout()
    assert client.get(reverse("horizon:signal-export")).status_code == 302  # internal: sign in


def test_readers_and_the_public_redirect(client, signal, personas):
    url = reverse("horizon:signal-list")
    for user in (personas.member, personas.innovator):
        client.force_login(user)
        assert client.get(url).url == reverse("horizon:public-list")
        assert client.get(reverse("horizon:signal-detail", args=[signal.pk])).status_code == 403
    client.force_login(personas.reviewer)
    assert client.get(url).status_code == 200
    assert client.get(reverse("horizon:signal-edit", args=[signal.pk])).status_code == 403


def test_panel_scores_by_name_for_managers_only(client, signal, personas):
    services.signal_score(signal=signal, scorer=personas.panel[0], likelihood=4, impact=4, relevance=4,
                          comment="Très prometteur")
    services.signal_score(signal=signal, scorer=personas.panel[1], likelihood=1, impact=1, relevance=1)
    detail = reverse("horizon:signal-detail", args=[signal.pk])
    client.force_login(personas.manager)
    html = _text(client.get(detail))
    assert 'data-testid="panel-scores"' in html and "Très prometteur" in html
    assert 'data-testid="disagreement"' in html  # 4 against 1: spread 1.5
    client.force_login(personas.panel[1])
    html = _text(client.get(detail))
    assert "Très prometteur" not in html and "Votre note : 1,00 / 4." in html


def test_a_panel_member_scores_from_the_page(client, signal, personas):
    client.force_login(personas.panel[2])
    url = reverse("horizon:signal-score", args=[signal.pk])
    assert client.post(url, {"likelihood": "4", "impact": "3", "relevance": "2"}).status_code == 302
    assert signal.scores.get(scorer=personas.panel[2]).score == pytest.approx(3.0)
    assert client.post(url, {"likelihood": "7", "impact": "3", "relevance": "2"}).status_code == 400
    client.force_login(personas.decider)  # not on the panel
    assert client.post(url, {"likelihood": "1", "impact": "1", "relevance": "1"}).status_code == 403


def test_the_review_page_restarts_the_clock(client, personas):
    old = timezone.localdate() - timedelta(days=400)
    signal = make_signal(by=personas.manager, reviewed_on=old)
    client.force_login(personas.manager)
    detail = reverse("horizon:signal-detail", args=[signal.pk])
    assert 'data-testid="review-overdue"' in _text(client.get(detail))
    response = client.post(reverse("horizon:signal-review", args=[signal.pk]), {
        "reviewed_on": timezone.localdate().isoformat(), "horizon": "medium", "likelihood": "2", "note": "Ralentit."})
    assert response.status_code == 302
    assert 'data-testid="review-overdue"' not in _text(client.get(detail))
    signal.refresh_from_db()
    assert (signal.horizon, signal.last_reviewed_on) == ("medium", timezone.localdate())


def test_the_api(client, signal, personas):
    services.signal_score(signal=signal, scorer=personas.panel[0], likelihood=4, impact=4, relevance=4)
    client.force_login(personas.decider)
    data = client.get(f"/api/v1/signals/{signal.pk}/").json()
    assert data["impacts"]["skills_transfer"] == 4 and data["sources"] == ["https://www.has-sante.fr/"]
    assert data["problems"][0]["title"] == "Dépistage insuffisant de la rétinopathie diabétique"
    assert data["panel"]["n"] == 1 and data["panel"]["mean"] == pytest.approx(4.0)
    assert "steward" not in data
    radar = client.get("/api/v1/signals/radar/").json()
    assert [p["title"] for p in radar] == [signal.title] and radar[0]["symbol"] == "diamond"
    response = client.get("/api/v1/signals/", {"status": "nonsense"})
    assert response.status_code == 400 and "status" in response.json()
    client.force_login(personas.member)
    assert client.get("/api/v1/signals/").status_code == 403


def _queries(client, url) -> int:
    from django.db import connection

    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", ["/veille/", "/veille/radar/", "/veille/publique/", "/api/v1/signals/"])
def test_list_views_query_count_does_not_grow(client, personas, url, django_assert_max_num_queries):
    client.force_login(personas.manager)
    make_signal(by=personas.manager, is_public=True, problems=[ProblemFactory()])
    baseline = _queries(client, url)
    for i in range(10):
        s = make_signal(by=personas.manager, is_public=True, domain=["ai", "data", "devices"][i % 3],
                        problems=[ProblemFactory()])
        services.signal_score(signal=s, scorer=personas.panel[i % 3], likelihood=2, impact=2, relevance=2)
    with django_assert_max_num_queries(baseline):
        assert client.get(url).status_code == 200


def test_changes_are_audited(client, signal, personas):
    from tremplin.web.core.models import AuditAction, AuditLog

    client.force_login(personas.manager)
    response = client.post(reverse("horizon:signal-review", args=[signal.pk]), {
        "reviewed_on": timezone.localdate().isoformat(), "horizon": "medium", "likelihood": "3", "note": ""})
    assert response.status_code == 302
    entry = AuditLog.objects.filter(model="horizon.signal", action=AuditAction.UPDATE,
                                    object_pk=str(signal.pk)).latest("id")
    assert entry.actor == personas.manager and "horizon" in entry.changes
    assert AuditLog.objects.filter(model="horizon.signalreview", action=AuditAction.CREATE,
                                   actor=personas.manager).exists()


def test_the_dashboard_widget(client, personas):
    make_signal(by=personas.manager, horizon="short", reviewed_on=timezone.localdate() - timedelta(days=400))
    make_signal(by=personas.manager, horizon="long")
    make_signal(by=personas.manager, horizon="long", status="archived")
    client.force_login(personas.manager)
    html = _text(client.get(reverse("core:dashboard")))
    panel = html.split('data-testid="horizon-panel"')[1].split("</section>")[0]
    assert "≤ 3 ans : 1" in panel and "3 à 5 ans : 0" in panel and "5 à 10 ans : 1" in panel
    assert "1 signal à revoir" in panel and "dont 1 sous votre responsabilité" in panel
    client.force_login(personas.panel[0])
    panel = _text(client.get(reverse("core:dashboard"))).split('data-testid="horizon-panel"')[1].split("</section>")[0]
    assert "2 signaux à noter" in panel
    client.force_login(personas.member)
    assert 'data-testid="horizon-panel"' not in _text(client.get(reverse("core:dashboard")))


def _signal_form(**overrides) -> dict:
    data = {"title": "Robots de préparation des piluliers", "summary": "Des automates préparent les doses.",
            "domain": "devices", "horizon": "medium", "likelihood": "3", "impact_workforce": "3",
            "impact_pathways": "1", "impact_costs": "2", "impact_skills": "4",
            "impact_notes": "Les préparateurs passent au contrôle.", "source_links": "https://www.has-sante.fr/"}
    data.update(overrides)
    return data


def test_a_manager_records_a_signal_linked_to_problems_and_calls(client, personas, problem):
    open_call = make_call("open", title="Appel ouvert sur les médicaments")
    client.force_login(personas.manager)
    response = client.post(reverse("horizon:signal-create"), _signal_form(problems=[problem.pk],
                                                                          calls=[open_call.pk]))
    assert response.status_code == 302
    signal = Signal.objects.get(title="Robots de préparation des piluliers")
    assert response.url == reverse("horizon:signal-detail", args=[signal.pk])
    assert (signal.domain, signal.horizon, signal.likelihood, signal.impact_skills) == ("devices", "medium", 3, 4)
    assert signal.steward == personas.manager and signal.last_reviewed_on == timezone.localdate()
    assert list(signal.problems.all()) == [problem] and list(signal.calls.all()) == [open_call]
    # Editing: the call is unlinked, a javascript: source is refused.
    edit = reverse("horizon:signal-edit", args=[signal.pk])
    refused = client.post(edit, _signal_form(source_links="javascript:alert(1)", status="watching"))
    assert refused.status_code == 400 and signal.calls.count() == 1
    assert client.post(edit, _signal_form(horizon="long", status="watching")).status_code == 302
    signal.refresh_from_db()
    assert signal.horizon == "long" and signal.calls.count() == 0 and signal.problems.count() == 0


def test_a_draft_call_stays_hidden_from_those_who_do_not_see_drafts(client, personas):
    draft = make_call("draft", title="Brouillon confidentiel")
    opened = make_call("open", title="Appel ouvert")
    signal = make_signal(by=personas.manager, steward=personas.reviewer, calls=[draft, opened])
    detail = reverse("horizon:signal-detail", args=[signal.pk])
    client.force_login(personas.manager)  # managers see drafts
    assert "Brouillon confidentiel" in _text(client.get(detail))
    assert "Brouillon confidentiel" in _text(client.get(reverse("horizon:signal-edit", args=[signal.pk])))
    client.force_login(personas.reviewer)  # the steward, a reviewer: no drafts
    for page in (detail, reverse("horizon:signal-list"), reverse("horizon:signal-edit", args=[signal.pk])):
        html = _text(client.get(page))
        assert "Brouillon confidentiel" not in html, page
    assert "Appel ouvert" in _text(client.get(detail))
    assert [c["title"] for c in client.get(f"/api/v1/signals/{signal.pk}/").json()["calls"]] == ["Appel ouvert"]
    exported = client.get(reverse("horizon:signal-export"), {"fmt": "csv"}).content.decode("utf-8-sig")
    assert "Appel ouvert" in exported and "Brouillon confidentiel" not in exported
    # The steward saves the signal: the draft they cannot see stays linked.
    response = client.post(reverse("horizon:signal-edit", args=[signal.pk]),
                           _signal_form(title=signal.title, status="watching", calls=[opened.pk],
                                        steward=personas.reviewer.pk))
    assert response.status_code == 302
    assert set(signal.calls.values_list("title", flat=True)) == {"Brouillon confidentiel", "Appel ouvert"}
