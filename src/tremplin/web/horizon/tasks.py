"""Functions the background worker runs on a schedule (see schedules.py)."""

from __future__ import annotations


def send_review_reminders() -> int:
    """Send the reminders of the signals whose review is due (once per due date); returns how many were sent."""
    from tremplin.web.horizon.services import review_reminders_send

    return review_reminders_send()
