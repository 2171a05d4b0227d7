"""The hourly django-q2 schedule that runs `tasks.periodic` in the worker (`manage.py qcluster`): review
reminders, call phase changes for followers, e-mail digests. Idempotent (found by name)."""

from django.db import migrations

NAME = "tremplin: notifications (reminders, follows, digests)"
FUNC = "tremplin.web.notifications.tasks.periodic"


def create(apps, schema_editor):
    from django.utils import timezone

    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(name=NAME, defaults={
        "func": FUNC, "schedule_type": "H", "repeats": -1, "next_run": timezone.now()})


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create, remove)]
