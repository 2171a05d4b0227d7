from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallsConfig(AppConfig):
    name = "tremplin.web.calls"
    label = "calls"
    verbose_name = _("Appels de solutions")

    def ready(self) -> None:
        from tremplin.web.core.navigation import NavItem, register

        register(NavItem(_("Appels de solutions"), "calls:call-list", "calls.view_call_list", 30))
        register(NavItem(_("Mes propositions"), "calls:my-proposals", "calls.view_my_proposals", 31))
        register(NavItem(_("À évaluer"), "calls:review-queue", "calls.view_review_queue", 32))

        from tremplin.web.calls.dashboard import calls_dashboard_context
        from tremplin.web.core.dashboard import DashboardWidget
        from tremplin.web.core.dashboard import register as register_widget

        register_widget(DashboardWidget("calls/_dashboard_panel.html", calls_dashboard_context, order=30))

        from tremplin.web.calls import mails  # noqa: F401  (mail kinds, follows, reminders: notifications app)
