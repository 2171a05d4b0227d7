"""Periodic work of the horizon app, run by the background worker (django-q2 schedules, database broker).

`ensure_schedules` runs after every `migrate` (post_migrate): the schedule exists once, whatever the number of
migrations, and comes back if someone deleted it. The scheduled function is idempotent (see
`services.review_reminders_send`): running it twice a day sends nothing twice.
"""

from __future__ import annotations

REVIEW_REMINDERS = "horizon: rappels de revue des signaux"
REVIEW_REMINDERS_FUNC = "tremplin.web.horizon.tasks.send_review_reminders"


def ensure_schedules(sender=None, using: str = "default", **kwargs) -> None:
    from django_q.models import Schedule

    schedule, created = Schedule.objects.using(using).get_or_create(
        name=REVIEW_REMINDERS, defaults={"func": REVIEW_REMINDERS_FUNC, "schedule_type": Schedule.DAILY,
                                         "repeats": -1})
    if not created and schedule.func != REVIEW_REMINDERS_FUNC:
        schedule.func = REVIEW_REMINDERS_FUNC
        schedule.save(update_fields=["func"])
