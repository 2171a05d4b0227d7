"""Campaign and coalition pages: who reads and who changes (the runner of the coalition, another programme manager,
a decision maker, outsiders), the comparison with the previous campaign and the costs per result in French and in
English, the KPI entry and import pages, exports, and list views whose query count does not grow."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.web.campaign.conftest import make_campaign
from tests.web.factories import OrganisationFactory
from tremplin.web.campaign import services
from tremplin.web.campaign.models import KpiEntry

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return response.content.decode()


def test_the_runner_sees_progress_against_the_previous_campaign_in_french(client, current, personas):
    services.goal_add(campaign=current, metric="unique_reach", target=Decimal(600_000), target_date=date(2025, 12, 31))
    client.force_login(personas.runner)
    response = client.get(reverse("campaign:campaign-detail", args=[current.pk]))
    assert response.status_code == 200
    html = _text(response)
    # Cost per person reached: 72,000 / 360,000 = 0.20 now, 120,000 / 480,000 = 0.25 in 2018 (-20 %, cheaper).
    assert 'data-testid="cost-per_reach">0,20\u00a0$ CA<' in html
    assert 'data-testid="previous-cost-per_reach">0,25\u00a0$ CA<' in html
    assert "−20\u00a0%" in html and "moins cher" in html
    assert "120\u00a0000\u00a0$ CA" in html  # the 2018 budget, as published
    assert "480\u00a0000" in html and "251\u00a0533" in html
    assert "360\u00a0000 / 600\u00a0000" in html  # progress to the goal
    assert 'data-testid="share-unique_reach">75\u00a0%<' in html  # 360,000 of 2018's 480,000
    assert 'data-testid="projected-unique_reach">+81\u00a0%' in html  # 867,815 projected against 480,000
    assert 'data-plotly-figure="kpi-figure"' in html and "<script>" not in html.split("</head>")[1]


def test_the_same_page_in_english(client, current, personas, settings):
    client.force_login(personas.runner)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = _text(client.get(reverse("campaign:campaign-detail", args=[current.pk])))
    assert 'data-testid="cost-per_reach">CA$0.20<' in html
    assert 'data-testid="previous-cost-per_reach">CA$0.25<' in html
    assert "Cost per result" in html and "cheaper" in html
    assert "CA$120,000" in html


def test_who_reads_and_who_changes(client, current, personas, make_user):
    detail = reverse("campaign:campaign-detail", args=[current.pk])
    edit = reverse("campaign:kpi-add", args=[current.pk])
    for user, read, change in [(personas.runner, 200, 200), (personas.other_manager, 200, 403),
                               (personas.decider, 200, 403), (personas.reviewer, 403, 403),
                               (personas.member, 403, 403), (personas.innovator, 403, 403)]:
        client.force_login(user)
        assert client.get(detail).status_code == read, user
        assert client.get(edit).status_code == change, user
    client.logout()
    assert client.get(detail).status_code == 302  # to the login page


def test_contacts_and_interactions_are_for_the_runner_only(client, coalition, personas):
    member = services.member_add(coalition=coalition, organisation=OrganisationFactory(name="Clinique Dix-30"),
                                 by=personas.runner, on=date(2025, 1, 5), contact_name="Claire Roy",
                                 contact_email="claire@example.org", summary="Premier contact au salon.")
    url = reverse("campaign:coalition-detail", args=[coalition.pk])
    client.force_login(personas.other_manager)
    html = _text(client.get(url))
    assert "Clinique Dix-30" in html and reverse("campaign:member-detail", args=[member.pk]) not in html
    assert client.get(reverse("campaign:member-detail", args=[member.pk])).status_code == 403
    export = client.get(reverse("campaign:coalition-export", args=[coalition.pk]), {"fmt": "csv"})
    assert "claire" not in export.content.decode().lower()  # no personal data in the export
    client.force_login(personas.runner)
    html = _text(client.get(reverse("campaign:member-detail", args=[member.pk])))
    assert "Claire Roy" in html and "Premier contact au salon." in html


def test_an_interaction_recorded_from_the_page_moves_the_funnel(client, coalition, personas):
    member = services.member_add(coalition=coalition, organisation=OrganisationFactory(), by=personas.runner,
                                 on=date(2025, 1, 5))
    client.force_login(personas.runner)
    response = client.post(reverse("campaign:member-detail", args=[member.pk]), {
        "on": "2025-02-01", "kind": "meeting", "summary": "Accord de principe.", "status": "engaged"})
    assert response.status_code == 302
    html = _text(client.get(reverse("campaign:coalition-detail", args=[coalition.pk])))
    funnel = html.split('data-testid="funnel-engaged"')[1].split("</tr>")[0]
    assert '<td class="num">1</td>' in funnel
    # A refused interaction (no summary) is shown again with its error, nothing recorded.
    response = client.post(reverse("campaign:member-detail", args=[member.pk]), {
        "on": "2025-02-02", "kind": "call", "summary": "", "status": ""})
    assert response.status_code == 400 and member.interactions.count() == 2


def test_kpi_entry_from_the_page(client, current, personas):
    client.force_login(personas.runner)
    url = reverse("campaign:kpi-add", args=[current.pk])
    response = client.post(url, {"on": "2025-07-01", "unique_reach": "400 000", "budget": "80000,50"})
    assert response.status_code == 302
    assert KpiEntry.objects.get(campaign=current, metric="unique_reach", on=date(2025, 7, 1)).value == 400_000
    assert KpiEntry.objects.get(campaign=current, metric="budget", on=date(2025, 7, 1)).value == Decimal("80000.50")
    response = client.post(url, {"on": "2025-08-01", "unique_reach": "10"})  # fewer than on 1 July
    assert response.status_code == 400 and "diminue" in _text(response)
    assert not KpiEntry.objects.filter(on=date(2025, 8, 1)).exists()


def test_kpi_import_page_shows_located_errors_and_writes_nothing(client, current, personas):
    client.force_login(personas.runner)
    url = reverse("campaign:kpi-import", args=[current.pk])
    bad = SimpleUploadedFile("kpi.csv", b"date,unique_reach\n2025-07-01,500000\n2025-08-01,abc\n",
                             content_type="text/csv")
    response = client.post(url, {"file": bad})
    assert response.status_code == 400
    html = _text(response)
    assert 'data-testid="import-errors"' in html
    assert '<td class="num">3</td><td>unique_reach</td>' in html
    assert not KpiEntry.objects.filter(on=date(2025, 7, 1)).exists()  # line 2 was fine, but all or nothing
    good = SimpleUploadedFile("kpi.csv", b"date,unique_reach\n2025-07-01,500000\n", content_type="text/csv")
    assert client.post(url, {"file": good}).status_code == 302
    assert KpiEntry.objects.filter(on=date(2025, 7, 1), source="csv").count() == 1


def test_an_oversized_upload_is_refused_while_it_streams_in(client, current, personas, settings):
    from tremplin.web.campaign.kpi_import import MAX_FILE_BYTES

    client.force_login(personas.runner)
    big = SimpleUploadedFile("kpi.csv", b"date,unique_reach\n" + b"2025-07-01,1\n" * (MAX_FILE_BYTES // 13 + 1))
    response = client.post(reverse("campaign:kpi-import", args=[current.pk]), {"file": big})
    assert response.status_code == 400 and "taille maximale" in _text(response)
    assert not KpiEntry.objects.filter(on=date(2025, 7, 1)).exists()


def test_the_export_is_the_import_format(client, current, personas):
    client.force_login(personas.decider)
    response = client.get(reverse("campaign:campaign-export", args=[current.pk]), {"fmt": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["date", "unique_visits", "complete_views", "unique_reach", "impressions", "press_interviews",
                       "budget"]
    assert rows[1:] == [["2025-03-01", "800", "60000", "100000", "400000", "5", "30000"],
                        ["2025-06-01", "3000", "150000", "360000", "1200000", "18", "72000"]]
    xlsx = client.get(reverse("campaign:campaign-export", args=[current.pk]), {"fmt": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_editing_the_dates_cannot_leave_values_outside_the_campaign(client, current, personas):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        services.campaign_update(campaign=current, starts_on=date(2025, 4, 1))
    assert "starts_on" in caught.value.message_dict
    current.refresh_from_db()
    assert current.starts_on == date(2025, 1, 1)


def test_goals_and_actions_pages(client, current, personas):
    client.force_login(personas.runner)
    goals = reverse("campaign:campaign-goals", args=[current.pk])
    assert client.post(goals, {"metric": "press_interviews", "target": "30", "target_date": "2025-12-31",
                               "label": "Avant l'élection"}).status_code == 302
    goal = current.goals.get()
    assert "Avant l&#x27;élection" in _text(client.get(goals))
    assert client.post(goals, {"delete": str(goal.pk)}).status_code == 302 and not current.goals.exists()
    actions = reverse("campaign:campaign-actions", args=[current.pk])
    assert client.post(actions, {"name": "Vidéos", "channel": "video", "starts_on": "2025-02-01",
                                 "cost": "-5"}).status_code == 400
    assert client.post(actions, {"name": "Vidéos", "channel": "video", "starts_on": "2025-02-01",
                                 "cost": "35000"}).status_code == 302
    assert current.actions.get().cost == 35_000


def _queries(client, url) -> int:
    from django.db import connection

    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_campaign_list_query_count_does_not_grow(client, coalition, previous, personas,
                                                     django_assert_max_num_queries):
    client.force_login(personas.decider)
    url = reverse("campaign:campaign-list")
    baseline = _queries(client, url)
    for i in range(8):
        campaign = make_campaign(coalition, f"Campagne {i}", starts_on=date(2025, 1, 1 + i), previous=previous)
        services.kpi_record(campaign=campaign, on=date(2025, 2, 1), values={"unique_reach": Decimal(1000 + i)})
        services.action_add(campaign=campaign, name="Vidéo", channel="video", starts_on=date(2025, 1, 10),
                            cost=Decimal(100))
        services.goal_add(campaign=campaign, metric="unique_reach", target=Decimal(5000),
                          target_date=date(2025, 12, 31))
    with django_assert_max_num_queries(baseline):
        response = client.get(url)
    assert len(response.context["rows"]) == 9


def test_the_coalition_page_query_count_does_not_grow(client, coalition, personas, django_assert_max_num_queries):
    client.force_login(personas.runner)
    url = reverse("campaign:coalition-detail", args=[coalition.pk])
    services.member_add(coalition=coalition, organisation=OrganisationFactory(), by=personas.runner,
                        on=date(2025, 1, 1))
    baseline = _queries(client, url)
    for _ in range(10):
        member = services.member_add(coalition=coalition, organisation=OrganisationFactory(), by=personas.runner,
                                     on=date(2025, 1, 1))
        services.interaction_add(member=member, by=personas.runner, on=date(2025, 2, 1), kind="call", summary="Oui.",
                                 status="engaged")
    with django_assert_max_num_queries(baseline):
        response = client.get(url)
    assert len(response.context["members"]) == 11


def test_the_dashboard_widget(client, coalition, previous, personas):
    from django.utils import timezone

    today = timezone.localdate()
    running = make_campaign(coalition, "En cours", starts_on=date(today.year - 1, 1, 1), previous=previous,
                            currency="CAD")
    services.kpi_record(campaign=running, on=today, values={"unique_reach": Decimal(100_000),
                                                            "budget": Decimal(30_000)})
    client.force_login(personas.decider)
    html = _text(client.get(reverse("core:dashboard")))
    panel = html.split('data-testid="campaign-panel"')[1].split("</section>")[0]
    assert "En cours" in panel and "0,30\u00a0$ CA" in panel and "0,25\u00a0$ CA" in panel
    client.force_login(personas.reviewer)
    assert 'data-testid="campaign-panel"' not in _text(client.get(reverse("core:dashboard")))


def test_kpi_imports_and_interactions_are_audited(client, current, personas):
    from tremplin.web.core.models import AuditAction, AuditLog

    client.force_login(personas.runner)
    upload = SimpleUploadedFile("kpi.csv", b"date,unique_reach\n2025-07-01,500000\n", content_type="text/csv")
    assert client.post(reverse("campaign:kpi-import", args=[current.pk]), {"file": upload}).status_code == 302
    entry = KpiEntry.objects.get(campaign=current, on=date(2025, 7, 1))
    logged = AuditLog.objects.get(model="campaign.kpientry", action=AuditAction.CREATE, object_pk=str(entry.pk))
    assert logged.actor == personas.runner


def test_the_members_filter_with_and_without_htmx(client, coalition, personas):
    engaged = services.member_add(coalition=coalition, organisation=OrganisationFactory(name="Engagée SA"),
                                  by=personas.runner, status="engaged", on=date(2025, 1, 5))
    services.member_add(coalition=coalition, organisation=OrganisationFactory(name="Approchée SA"),
                        by=personas.runner, on=date(2025, 1, 5))
    client.force_login(personas.decider)
    url = reverse("campaign:coalition-detail", args=[coalition.pk])
    page = _text(client.get(url, {"status": "engaged"}))  # without JavaScript: the whole page, filtered
    assert "<h1>" in page and "Engagée SA" in page and "Approchée SA" not in page
    partial = _text(client.get(url, {"status": "engaged"}, HTTP_HX_REQUEST="true"))  # htmx: the table only
    assert "<h1>" not in partial and partial.lstrip().startswith('<table data-testid="coalition-members">')
    assert engaged.organisation.name in partial and "Approchée SA" not in partial
    assert "Approchée SA" in _text(client.get(url, {"status": "nonsense"}))  # an unknown value filters nothing
