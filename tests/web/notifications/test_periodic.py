"""What the hourly scheduler runs: review reminders before the end of the review, call phase changes for
followers, e-mail digests; and the django-q2 schedule itself."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_q.models import Schedule

from tests.web.calls.conftest import set_phase
from tremplin.web.calls import mails as calls_mails
from tremplin.web.calls import services as calls_services
from tremplin.web.notifications import services, tasks
from tremplin.web.notifications.models import Notification, OutgoingMail

pytestmark = pytest.mark.django_db


def test_the_migration_schedules_the_periodic_task_hourly_for_the_worker():
    schedule = Schedule.objects.get(name=tasks.SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (tasks.SCHEDULE_FUNC, Schedule.HOURLY, -1)
    module, name = schedule.func.rsplit(".", 1)
    assert getattr(importlib.import_module(module), name) is tasks.periodic  # what the worker will import
    assert set(tasks.periodic()) == {"calls.review_reminders", "calls.phases", "notifications.digest"}


def _in_review_with_pending(scenario):
    """Two proposals, each with 2 reviewers; reviewer[0]'s reviews, if any, are submitted later by the tests."""
    scenario.propose("A")
    scenario.propose("B")
    calls_services.assignments_auto(call=scenario.call, by=scenario.manager)
    set_phase(scenario.call, "review")  # deliberation starts in 5 days
    mail.outbox.clear()
    return scenario


def _submit_all(scenario, reviewer):
    criteria = list(scenario.call.criteria.all())
    for proposal in scenario.proposals:
        if proposal.assignments.filter(reviewer=reviewer).exists():
            calls_services.review_save(proposal=proposal, reviewer=reviewer, submit=True,
                                       scores={c.pk: (2, "") for c in criteria})


def test_reminders_go_once_per_threshold_to_reviewers_with_pending_reviews(scenario):
    _in_review_with_pending(scenario)
    call = scenario.call
    deadline = call.deliberation_starts_at
    pending = calls_mails.pending_reviews(call)
    assert sum(pending.values()) == 4 and len(pending) >= 2
    # 8 days before: no threshold (7, 1) reached.
    assert calls_mails.review_reminders_send(now=deadline - timedelta(days=8)) == 0
    # 6 days before: the 7-day reminder, once.
    assert calls_mails.review_reminders_send(now=deadline - timedelta(days=6)) == len(pending)
    assert calls_mails.review_reminders_send(now=deadline - timedelta(days=5)) == 0
    reminded = {m.to[0]: m for m in mail.outbox}
    for reviewer_id, n in pending.items():
        from tremplin.web.accounts.models import User

        message = reminded[User.objects.get(pk=reviewer_id).email]
        assert f"Il vous reste {n} évaluation(s)" in message.body and "dans 6 jour(s)" in message.body
        assert scenario.applicant.name not in message.body + message.subject  # blind: counts only
    # One reviewer finishes; at the 1-day threshold only the others are reminded.
    done = scenario.call.proposals.first().assignments.first().reviewer
    _submit_all(scenario, done)
    mail.outbox.clear()
    sent = calls_mails.review_reminders_send(now=deadline - timedelta(hours=20))
    assert sent == len(pending) - 1 and done.email not in {m.to[0] for m in mail.outbox}
    assert OutgoingMail.objects.filter(kind="calls.review_reminder").count() == 2 * len(pending) - 1


def test_a_worker_that_was_down_sends_only_the_closest_reminder(scenario):
    _in_review_with_pending(scenario)
    deadline = scenario.call.deliberation_starts_at
    sent = calls_mails.review_reminders_send(now=deadline - timedelta(hours=2))
    assert sent == len(calls_mails.pending_reviews(scenario.call))
    assert set(OutgoingMail.objects.values_list("dedupe_key", flat=True).filter(kind="calls.review_reminder")) == {
        f"calls.review_reminder:{scenario.call.pk}:{r}:1" for r in calls_mails.pending_reviews(scenario.call)}


def test_reminder_days_are_set_per_call(scenario):
    _in_review_with_pending(scenario)
    texts = {f: services.template_values(kind="calls.review_reminder")[f] for f in services.TEXT_FIELDS}
    services.mail_template_save(kind="calls.review_reminder", scope=scenario.call, options={"days_before": "3"},
                                **texts)
    deadline = scenario.call.deliberation_starts_at
    assert calls_mails.review_reminders_send(now=deadline - timedelta(days=4)) == 0
    assert calls_mails.review_reminders_send(now=deadline - timedelta(days=2)) > 0


def test_no_reminder_outside_the_review_phase(scenario):
    scenario.propose()
    calls_services.assignments_auto(call=scenario.call, by=scenario.manager)
    assert calls_mails.review_reminders_send(now=timezone.now()) == 0  # open phase
    set_phase(scenario.call, "deliberation")
    assert calls_mails.review_reminders_send(now=timezone.now()) == 0


def test_followers_of_a_call_hear_of_each_new_phase(scenario, make_user):
    follower = make_user("innovator")
    services.follow_add(user=follower, target=scenario.call)
    call = scenario.call
    assert calls_mails.call_phases_notify(now=call.review_starts_at - timedelta(hours=2)) == 0  # first run
    assert calls_mails.call_phases_notify(now=call.review_starts_at + timedelta(hours=1)) == 1
    assert calls_mails.call_phases_notify(now=call.review_starts_at + timedelta(hours=2)) == 0
    notification = Notification.objects.get(user=follower)
    assert notification.event == "calls.phase" and notification.url == f"/appels/{call.pk}/"
    assert notification.message == f"« {call.title} » : nouvelle phase, Évaluation"


def test_digest_once_a_day_in_the_followers_language(scenario, make_user, settings):
    settings.SITE_URL = "https://tremplin.example.org"
    french, english, quiet = make_user("innovator"), make_user("innovator"), make_user("innovator")
    services.preference_save(user=english, language="en", digest="weekly")
    services.preference_save(user=quiet, language="fr", digest="never")
    for user in (french, english, quiet):
        services.follow_add(user=user, target=scenario.call)
    services.followers_notify(target=scenario.call, event="calls.results", params={"title": "Appel X"})
    now = timezone.now()
    mail.outbox.clear()
    assert services.digest_send(now=now) == 2
    by_user = {m.to[0]: m for m in mail.outbox}
    assert "« Appel X » : les résultats sont publiés : https://tremplin.example.org/appels/" in by_user[french.email].body
    assert "\"Appel X\": results are published" in by_user[english.email].body
    assert by_user[english.email].subject == "[Tremplin] 1 update(s) in what you follow"
    assert quiet.email not in by_user
    assert not Notification.objects.filter(digested_at__isnull=True).exists()
    # A new event: the daily follower waits a day, the weekly one a week.
    services.followers_notify(target=scenario.call, event="calls.results", params={"title": "Appel X"})
    assert services.digest_send(now=now + timedelta(hours=2)) == 0
    assert services.digest_send(now=now + timedelta(days=1)) == 1
    assert services.digest_send(now=now + timedelta(days=7)) == 1
    assert OutgoingMail.objects.filter(kind="notifications.digest").count() == 4
