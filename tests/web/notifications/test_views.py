"""Pages of the notifications app: who reaches them (manager, another role, anonymous), the template editor
(unknown placeholders refused with the error on the page, preview in both languages), the outbox's bulk send,
and query counts of every list."""

from __future__ import annotations

import html

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tremplin.web.calls import services as calls_services
from tremplin.web.jobs.models import Job
from tremplin.web.jobs.services import job_run
from tremplin.web.notifications import services
from tremplin.web.notifications.models import MailTemplate, Notification, OutgoingMail

pytestmark = pytest.mark.django_db


def _released(reviewed):
    p1, p2 = reviewed.proposals
    calls_services.decision_record(proposal=p1, outcome="selected", reason="Impact fort", by=reviewed.manager)
    calls_services.decision_record(proposal=p2, outcome="rejected", reason="Peu étayé", by=reviewed.manager)
    calls_services.decisions_release(call=reviewed.call, by=reviewed.manager)


def _urls(call, mail_pk):
    return [reverse("notifications:mail-log"), reverse("notifications:outbox"),
            reverse("notifications:templates-platform"),
            reverse("notifications:template-edit-platform", args=["notifications.digest"]),
            reverse("notifications:mail-detail", args=[mail_pk]),
            reverse("notifications:templates-scope", args=["appel", call.pk]),
            reverse("notifications:template-edit-scope", args=["appel", call.pk, "calls.decision.selected"])]


def test_managers_reach_the_mail_pages_others_do_not(client, reviewed):
    _released(reviewed)
    urls = _urls(reviewed.call, OutgoingMail.objects.first().pk)
    for url in urls:
        assert client.get(url).status_code == 302, url  # anonymous: to the login page
    client.force_login(reviewed.innovator)  # the applicant: not their outbox
    assert all(client.get(url).status_code == 403 for url in urls)
    client.force_login(reviewed.reviewers[0])
    assert all(client.get(url).status_code == 403 for url in urls)
    client.force_login(reviewed.manager)
    assert all(client.get(url).status_code == 200 for url in urls)
    assert client.get(reverse("notifications:template-edit-scope", args=["appel", reviewed.call.pk,
                                                                         "notifications.digest"])).status_code == 404
    assert client.get(reverse("notifications:templates-scope", args=["inconnu", 1])).status_code == 404


def test_the_editor_refuses_an_unknown_placeholder_and_saves_a_good_template(client, reviewed):
    client.force_login(reviewed.manager)
    url = reverse("notifications:template-edit-scope", args=["appel", reviewed.call.pk, "calls.decision.selected"])
    page = client.get(url)
    initial = page.context["form"].initial
    assert initial["hold"] is True  # decision mails are reviewed in the outbox by default
    assert "{{ proposal_title }}" in initial["body_fr"] and "{{ proposal_title }}" in initial["body_en"]
    initial = {k: v for k, v in initial.items() if k != "hold"}  # the box is ticked below when wanted
    data = {**initial, "body_en": "Dear {{ nom }}", "hold": "on", "action": "save"}
    response = client.post(url, data)
    assert response.status_code == 400 and not MailTemplate.objects.exists()
    text = html.unescape(response.content.decode())
    assert "Variable inconnue « {{ nom }} »" in text and "{{ proposal_title }}" in text
    preview = client.post(url, {**initial, "body_fr": "Bravo {{ name }} : {{ outcome }}", "hold": "on",
                                "action": "preview"})
    languages = [(lang, body) for lang, _subject, body in preview.context["previews"]]
    assert languages == [("fr", "Bravo Ines Martin : Retenue"), ("en", initial["body_en"].replace(
        "{{ name }}", "Ines Martin").replace("{{ proposal_title }}", "Équipe mobile de psychiatrie").replace(
        "{{ call_title }}", "Appel : santé mentale des jeunes").replace("{{ outcome }}", "Retenue").replace(
        "{{ reason }}", "Impact attendu fort, budget réaliste.").replace(
        "{{ proposal_url }}", "https://tremplin.example.org/appels/propositions/12/"))]
    assert not MailTemplate.objects.exists()  # a preview saves nothing
    response = client.post(url, {**initial, "body_fr": "Bravo {{ name }} : {{ outcome }}", "action": "save"})
    assert response.status_code == 302
    saved = MailTemplate.objects.get()
    assert (saved.body_fr, saved.hold, saved.scope_id, saved.updated_by) == (
        "Bravo {{ name }} : {{ outcome }}", False, reviewed.call.pk, reviewed.manager)
    listing = client.get(reverse("notifications:templates-scope", args=["appel", reviewed.call.pk]))
    sources = {row["kind"].key: row["source"] for row in listing.context["rows"]}
    assert sources["calls.decision.selected"] == "scope" and sources["calls.decision.rejected"] == "default"
    client.post(url, {**initial, "action": "reset"})
    assert not MailTemplate.objects.exists()


def test_the_outbox_sends_everything_in_bulk_through_the_worker(client, reviewed):
    _released(reviewed)
    client.force_login(reviewed.manager)
    url = reverse("notifications:outbox")
    page = client.get(url, {"scope": "appel", "scope_id": reviewed.call.pk})
    assert page.context["total"] == 2
    dashboard = html.unescape(client.get(reverse("core:dashboard")).content.decode())
    assert "2 courriels à relire dans la boîte d'envoi" in dashboard
    mail.outbox.clear()
    response = client.post(url, {"action": "send", "everything": "1", "scope": "appel",
                                 "scope_id": reviewed.call.pk})
    assert response.status_code == 302
    job = Job.objects.get(kind="notifications.send")
    assert mail.outbox == [] and set(OutgoingMail.objects.filter(kind__startswith="calls.decision.")
                                     .values_list("status", flat=True)) == {"queued"}
    job_run(job_id=str(job.pk))
    assert {m.to[0] for m in mail.outbox} == {reviewed.innovator.email} and len(mail.outbox) == 2
    assert client.get(url).context["total"] == 0
    assert 'data-testid="held-mails"' not in client.get(reverse("core:dashboard")).content.decode()


def test_the_outbox_cancels_the_ticked_mails_only(client, reviewed):
    _released(reviewed)
    client.force_login(reviewed.manager)
    selected = OutgoingMail.objects.get(kind="calls.decision.selected")
    client.post(reverse("notifications:outbox"), {"action": "cancel", "ids": [selected.pk]})
    assert set(OutgoingMail.objects.filter(kind__startswith="calls.decision.").values_list("kind", "status")) == {
        ("calls.decision.selected", "cancelled"), ("calls.decision.rejected", "held")}
    response = client.post(reverse("notifications:outbox"), {"action": "send"}, follow=True)
    assert "Cochez au moins un courriel" in html.unescape(response.content.decode())


def test_preferences_and_notification_list(client, scenario, make_user):
    user = make_user("innovator")
    client.force_login(user)
    client.post(reverse("notifications:preferences"), {"language": "en", "digest": "weekly"})
    assert (user.notification_preference.language, user.notification_preference.digest) == ("en", "weekly")
    client.post(reverse("notifications:preferences"), {"language": "de", "digest": "hourly"})
    user.notification_preference.refresh_from_db()
    assert user.notification_preference.language == "en"
    services.follow_add(user=user, target=scenario.call)
    services.followers_notify(target=scenario.call, event="calls.results", params={"title": "Appel X"})
    page = client.get(reverse("notifications:notification-list"))
    assert [n.message for n in page.context["page"]] == ["« Appel X » : les résultats sont publiés"]
    assert [row.target for row in page.context["follows"]] == [scenario.call]


def _count(client, url, params=None) -> int:
    client.get(url, params or {})
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params or {}).status_code == 200
    return len(ctx.captured_queries)


def test_list_query_counts_do_not_grow(client, scenario, make_user, django_assert_max_num_queries):
    follower = make_user("innovator")
    services.follow_add(user=follower, target=scenario.call)
    texts = {f: services.template_values(kind="calls.assigned")[f] for f in services.TEXT_FIELDS}
    services.mail_template_save(kind="calls.assigned", scope=scenario.call, hold=True, **texts)
    scenario.propose()
    calls_services.assignments_auto(call=scenario.call, by=scenario.manager)  # held: in the outbox
    services.followers_notify(target=scenario.call, event="calls.results", params={"title": "x"})
    client.force_login(scenario.manager)
    manager_urls = [(reverse("notifications:mail-log"), {}), (reverse("notifications:mail-log"), {"q": "example"}),
                    (reverse("notifications:outbox"), {}),
                    (reverse("notifications:templates-scope", args=["appel", scenario.call.pk]), {})]
    small = {url + str(params): _count(client, url, params) for url, params in manager_urls}
    for i in range(30):
        scenario.propose(f"Proposition {i}")
    calls_services.assignments_auto(call=scenario.call, by=scenario.manager)
    for _ in range(30):
        services.followers_notify(target=scenario.call, event="calls.results", params={"title": "x"})
    assert OutgoingMail.objects.filter(status="held").count() > 4
    for url, params in manager_urls:
        with django_assert_max_num_queries(small[url + str(params)]):
            client.get(url, params)
    client.force_login(follower)
    url = reverse("notifications:notification-list")
    Notification.objects.filter(user=follower).delete()
    services.followers_notify(target=scenario.call, event="calls.results", params={"title": "x"})
    few = _count(client, url)
    for _ in range(30):
        services.followers_notify(target=scenario.call, event="calls.results", params={"title": "x"})
    with django_assert_max_num_queries(few):
        assert len(client.get(url).context["page"]) == 31
