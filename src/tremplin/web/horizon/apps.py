from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class HorizonConfig(AppConfig):
    name = "tremplin.web.horizon"
    label = "horizon"
    verbose_name = _("Veille prospective")

    def ready(self) -> None:
        from tremplin.web.core.dashboard import DashboardWidget
        from tremplin.web.core.dashboard import register as register_widget
        from tremplin.web.core.navigation import NavItem, register
        from tremplin.web.horizon.dashboard import horizon_dashboard_context
        from tremplin.web.horizon.schedules import ensure_schedules

        # Everyone signed in: those who may not read the internal scanning are sent to the public listing.
        register(NavItem(_("Veille prospective"), "horizon:signal-list", None, 60))
        register(NavItem(_("Signaux à noter"), "horizon:score-queue", "horizon.view_score_queue", 61))
        register_widget(DashboardWidget("horizon/_dashboard_panel.html", horizon_dashboard_context, order=60))
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="horizon_ensure_schedules")
