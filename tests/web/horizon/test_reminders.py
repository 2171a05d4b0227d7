"""Review reminders: a signal not reviewed for N months (HORIZON_REVIEW_MONTHS) is flagged; the background worker's
daily schedule e-mails its steward, once per due date (not every run), and again only after the next due date."""

from __future__ import annotations

import pydoc
from datetime import date

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django_q.models import Schedule

from tests.web.horizon.conftest import make_signal
from tremplin.web.horizon import schedules, selectors, services
from tremplin.web.horizon.models import ReviewReminder

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 15)


def test_due_date_is_n_calendar_months_after_the_last_review(personas, settings):
    settings.HORIZON_REVIEW_MONTHS = 6
    signal = make_signal(by=personas.manager, reviewed_on=date(2025, 8, 31))
    assert selectors.review_due_on(signal) == date(2026, 2, 28)  # clamped to the month's end
    assert selectors.review_overdue(signal, today=date(2026, 2, 27)) is False
    assert selectors.review_overdue(signal, today=date(2026, 2, 28)) is True  # due today: flagged
    settings.HORIZON_REVIEW_MONTHS = 12
    assert selectors.review_due_on(signal) == date(2026, 8, 31)


def test_only_watched_signals_due_today_or_before(personas, settings):
    settings.HORIZON_REVIEW_MONTHS = 6
    due = make_signal(by=personas.manager, reviewed_on=date(2025, 12, 15))  # due 15 June: today
    make_signal(by=personas.manager, reviewed_on=date(2025, 12, 16))  # due tomorrow
    make_signal(by=personas.manager, reviewed_on=date(2025, 1, 1), status="archived")
    late = make_signal(by=personas.manager, reviewed_on=date(2025, 8, 31))  # due 28 Feb
    found = selectors.signals_due_for_review(today=TODAY)
    assert [(s.pk, d) for s, d in found] == [(due.pk, date(2026, 6, 15)), (late.pk, date(2026, 2, 28))]


def test_one_mail_per_due_date_whatever_the_number_of_runs(personas, settings):
    settings.HORIZON_REVIEW_MONTHS = 6
    signal = make_signal(by=personas.manager, title="Exosquelettes", reviewed_on=date(2025, 11, 1))
    assert services.review_reminders_send(today=TODAY) == 1
    assert services.review_reminders_send(today=TODAY) == 0
    assert services.review_reminders_send(today=date(2026, 6, 16)) == 0  # the next day: same due date
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [personas.manager.email] and "Exosquelettes" in message.subject
    assert f"/veille/{signal.pk}/revue/" in message.body and "01/05/2026" in message.body
    assert list(ReviewReminder.objects.values_list("signal_id", "due_on")) == [(signal.pk, date(2026, 5, 1))]
    # Reviewed: the clock restarts; nothing until the new due date, then one more mail.
    services.signal_review(signal=signal, by=personas.manager, on=date(2026, 6, 1))
    assert services.review_reminders_send(today=date(2026, 11, 30)) == 0
    assert services.review_reminders_send(today=date(2026, 12, 1)) == 1
    assert len(mail.outbox) == 2 and ReviewReminder.objects.count() == 2


def test_the_steward_gets_it_and_nobody_without_an_address(personas, settings, make_user):
    settings.HORIZON_REVIEW_MONTHS = 1
    steward = make_user("decision_maker")
    make_signal(by=personas.manager, steward=steward, reviewed_on=date(2026, 1, 1))
    orphan = make_signal(by=None, reviewed_on=date(2026, 1, 1))
    assert orphan.steward is None
    assert services.review_reminders_send(today=TODAY) == 1
    assert [m.to for m in mail.outbox] == [[steward.email]]
    assert not ReviewReminder.objects.filter(signal=orphan).exists()  # still flagged on the pages


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("SMTP unreachable")


def test_a_failed_mail_is_not_recorded_and_is_retried(personas, settings):
    settings.HORIZON_REVIEW_MONTHS = 6
    signal = make_signal(by=personas.manager, reviewed_on=date(2025, 11, 1))
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    assert services.review_reminders_send(today=TODAY) == 0
    assert not ReviewReminder.objects.filter(signal=signal).exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert services.review_reminders_send(today=TODAY) == 1


def test_a_review_moves_the_clock_and_keeps_the_history(personas):
    signal = make_signal(by=personas.manager, reviewed_on=date(2025, 1, 1), horizon="long", likelihood=1)
    review = services.signal_review(signal=signal, by=personas.manager, note="Accélère", horizon="medium",
                                    likelihood=3, on=date(2025, 7, 1))
    signal.refresh_from_db()
    assert (signal.last_reviewed_on, signal.horizon, signal.likelihood) == (date(2025, 7, 1), "medium", 3)
    assert (review.horizon, review.likelihood, review.note) == ("medium", 3, "Accélère")
    with pytest.raises(ValidationError):
        services.signal_review(signal=signal, by=personas.manager, on=date(2025, 6, 1))  # before the last one
    with pytest.raises(ValidationError):
        services.signal_review(signal=signal, by=personas.manager, on=date(2999, 1, 1))


def test_the_worker_has_a_daily_schedule_for_it():
    # Created after migrate (post_migrate), once: the test database was just migrated.
    schedule = Schedule.objects.get(name=schedules.REVIEW_REMINDERS)
    assert schedule.schedule_type == Schedule.DAILY and schedule.repeats < 0
    from tremplin.web.horizon.tasks import send_review_reminders

    assert pydoc.locate(schedule.func) is send_review_reminders
    schedules.ensure_schedules()
    assert Schedule.objects.filter(name=schedules.REVIEW_REMINDERS).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_hands_the_task_to_the_broker_and_it_sends(personas, settings):
    """django-q2's own scheduler queues the function on the database broker; running what it queued sends.
    Real commits: the scheduler closes the connection it finds inside a transaction (django-q2's
    close_old_django_connections), which a test transaction would be on PostgreSQL."""
    from django.utils import timezone
    from django_q.brokers import get_broker
    from django_q.scheduler import scheduler
    from django_q.signing import SignedPackage

    settings.HORIZON_REVIEW_MONTHS = 6
    make_signal(by=personas.manager, reviewed_on=timezone.localdate().replace(year=timezone.localdate().year - 1))
    Schedule.objects.filter(name=schedules.REVIEW_REMINDERS).update(next_run=timezone.now())
    # other apps' schedules (notifications' hourly run) are not due in this test
    Schedule.objects.exclude(name=schedules.REVIEW_REMINDERS).update(
        next_run=timezone.now() + timezone.timedelta(days=1))
    broker = get_broker()
    broker.purge_queue()
    scheduler(broker=broker)
    queued = broker.dequeue()
    assert queued, "the schedule was not queued"
    task = SignedPackage.loads(queued[0][1])
    assert task["func"] == schedules.REVIEW_REMINDERS_FUNC
    assert pydoc.locate(task["func"])(*task["args"], **task["kwargs"]) == 1
    assert len(mail.outbox) == 1
    assert Schedule.objects.get(name=schedules.REVIEW_REMINDERS).next_run > timezone.now()
