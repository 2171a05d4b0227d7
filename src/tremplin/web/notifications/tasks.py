"""The periodic task django-q2's scheduler runs every hour (the Schedule row is created by this app's migration
0002): each app's registered periodic work — review reminders, call phase changes, e-mail digests. Each part is
idempotent and runs even when another fails."""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone

logger = logging.getLogger(__name__)
SCHEDULE_NAME = "tremplin: notifications (reminders, follows, digests)"
SCHEDULE_FUNC = "tremplin.web.notifications.tasks.periodic"


def periodic(now: datetime | None = None) -> dict[str, object]:
    """Run every registered periodic function once; returns {name: result or "error: ..."}."""
    from tremplin.web.notifications.registry import PERIODIC

    now = now or timezone.now()
    results: dict[str, object] = {}
    # Digests last: they include what the other tasks just notified.
    for name in sorted(PERIODIC, key=lambda n: (n == "notifications.digest", n)):
        try:
            results[name] = PERIODIC[name](now=now)
        except Exception as exc:  # noqa: BLE001  (one failing part must not stop the others)
            logger.exception("periodic task %s failed", name)
            results[name] = f"error: {exc}"
    return results
