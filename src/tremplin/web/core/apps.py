from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "tremplin.web.core"
    label = "core"
    verbose_name = _("Plateforme")

    def ready(self) -> None:
        from tremplin.web.core import audit  # noqa: F401  (connects audit signal handlers)
        from tremplin.web.core.security import connect_mfa_signals

        connect_mfa_signals()


class TremplinAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin whose site signs in through allauth only (see core/admin_site.py)."""

    default = False  # "tremplin.web.core" in INSTALLED_APPS still means CoreConfig

    default_site = "tremplin.web.core.admin_site.TremplinAdminSite"
