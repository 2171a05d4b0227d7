"""Print the current second-factor code of the demo accounts (admin, evaluator)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tremplin.web.core.demo import DEMO_TOTP_SECRET


def current_code(secret: str = DEMO_TOTP_SECRET, at: float | None = None) -> str:
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    counter = int((at if at is not None else time.time()) // 30)
    return format_hotp_value(hotp_value(secret, counter))


class Command(BaseCommand):
    help = "Show the current TOTP code of the demo admin and evaluator accounts (demo only)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_totp is only available with DEBUG=1 (the demo).")
        remaining = 30 - int(time.time()) % 30
        self.stdout.write(f"{current_code()}  (valid {remaining} more seconds; secret {DEMO_TOTP_SECRET})")
