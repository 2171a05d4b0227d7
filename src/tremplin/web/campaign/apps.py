from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignConfig(AppConfig):
    name = "tremplin.web.campaign"
    label = "campaign"
    verbose_name = _("Coalition et campagne")

    def ready(self) -> None:
        from tremplin.web.campaign.dashboard import campaign_dashboard_context
        from tremplin.web.core.dashboard import DashboardWidget
        from tremplin.web.core.dashboard import register as register_widget
        from tremplin.web.core.navigation import NavItem, register

        register(NavItem(_("Coalition et campagne"), "campaign:campaign-list", "campaign.view_campaigns", 70))
        register_widget(DashboardWidget("campaign/_dashboard_panel.html", campaign_dashboard_context, order=70))
