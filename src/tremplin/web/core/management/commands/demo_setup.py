"""Load the demo region, organisations and one user per role. Idempotent: a second run adds nothing."""

from __future__ import annotations

import csv
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tremplin.web.accounts.models import Membership, Organisation, Territory, User
from tremplin.web.accounts.services import membership_create, territories_import_csv
from tremplin.web.core.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, DEMO_USERS

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
DEMO_APP_COMMANDS = ("demo_problems", "demo_calls", "demo_portfolio", "demo_evaluations", "demo_horizon",
                     "demo_campaign")


class Command(BaseCommand):
    help = "Load demo data (territories, ~30 organisations of every sector, one user per role). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Allow running with DEBUG off (not for production).")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("demo_setup creates accounts with a public password: run it with DEBUG=1 "
                               "(make demo does) or pass --force on a throw-away instance.")
        with transaction.atomic():
            created = self._load()
        # Capability apps add their own demo data (each command is idempotent).
        from django.core.management import call_command, get_commands

        available = get_commands()
        for name in DEMO_APP_COMMANDS:
            if name in available:
                call_command(name, stdout=self.stdout, stderr=self.stderr)
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready: {Territory.objects.count()} territories, {Organisation.objects.count()} "
            f"organisations, {User.objects.count()} users ({created} objects created this run)."))

    def _load(self) -> int:
        created = 0
        before = Territory.objects.count()
        report = territories_import_csv(content=(DEMO_DIR / "territories.csv").read_bytes())
        if not report.ok:
            raise CommandError("demo territories are invalid: " + "; ".join(str(e) for e in report.errors))
        created += Territory.objects.count() - before
        territories = {t.code: t for t in Territory.objects.all()}
        with (DEMO_DIR / "organisations.csv").open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                _, was_created = Organisation.objects.get_or_create(
                    name=row["name"],
                    defaults={"sector": row["sector"], "kind": row["kind"],
                              "territory": territories.get(row["territory_code"]), "website": row["website"]},
                )
                created += was_created
        for email, display_name, role, organisation_name, org_admin in DEMO_USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(username=email.split("@")[0], email=email,
                                                password=DEMO_PASSWORD, display_name=display_name)
                created += 1
            self._verified_email(user)
            organisation = Organisation.objects.get(name=organisation_name)
            if not Membership.objects.filter(user=user, organisation=organisation, role=role).exists():
                membership_create(user=user, organisation=organisation, role=role,
                                  is_organisation_admin=org_admin)
                created += 1
            if role in settings.MFA_REQUIRED_ROLES:
                created += self._demo_totp(user)
        return created

    @staticmethod
    def _verified_email(user) -> None:
        from allauth.account.models import EmailAddress

        EmailAddress.objects.get_or_create(user=user, email=user.email,
                                           defaults={"verified": True, "primary": True})

    @staticmethod
    def _demo_totp(user) -> int:
        from allauth.mfa.models import Authenticator
        from allauth.mfa.totp.internal.auth import TOTP

        if Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            return 0
        TOTP.activate(user, DEMO_TOTP_SECRET)
        return 1
