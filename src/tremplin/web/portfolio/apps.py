from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortfolioConfig(AppConfig):
    name = "tremplin.web.portfolio"
    label = "portfolio"
    verbose_name = _("Portefeuille d'expérimentations")

    def ready(self) -> None:
        from tremplin.web.core.dashboard import DashboardWidget
        from tremplin.web.core.dashboard import register as register_widget
        from tremplin.web.core.navigation import NavItem, register
        from tremplin.web.portfolio.dashboard import portfolio_dashboard_context

        register(NavItem(_("Expérimentations"), "portfolio:portfolio", "portfolio.view_portfolio", 40))
        register_widget(DashboardWidget("portfolio/_dashboard_panel.html", portfolio_dashboard_context, order=40))
