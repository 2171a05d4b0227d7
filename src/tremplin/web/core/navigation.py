"""Role-aware navigation: each capability app registers its entries here."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    permission: str | None = None  # shown when user.has_perm(permission); None = every signed-in user
    order: int = 100


NAV_ITEMS: list[NavItem] = [
    NavItem(_("Tableau de bord"), "core:dashboard", None, 0),
    NavItem(_("Organisations"), "accounts:organisation-list", "accounts.view_organisation_list", 80),
    NavItem(_("Territoires"), "accounts:territory-list", "accounts.view_territory_list", 81),
    NavItem(_("Tâches"), "jobs:job-list", "jobs.view_job_list", 90),
    NavItem(_("Journal d'audit"), "core:audit-log", "core.view_auditlog", 95),
]


def register(item: NavItem) -> None:
    NAV_ITEMS.append(item)


def items_for(user) -> list[NavItem]:
    if not user.is_authenticated:
        return []
    return sorted(
        (i for i in NAV_ITEMS if i.permission is None or user.has_perm(i.permission)), key=lambda i: i.order
    )
