from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ProblemsConfig(AppConfig):
    name = "tremplin.web.problems"
    label = "problems"
    verbose_name = _("Problématiques et consultations")

    def ready(self) -> None:
        from tremplin.web.core.navigation import NavItem, register
        from tremplin.web.problems.search import ensure_sqlite_index

        post_migrate.connect(ensure_sqlite_index, sender=self, dispatch_uid="problems-fts")
        register(NavItem(_("Problématiques"), "problems:problem-list", "problems.view_problem_list", 20))
        register(NavItem(_("Consultations"), "problems:consultation-list", None, 21))

        from tremplin.web.core.dashboard import DashboardWidget
        from tremplin.web.core.dashboard import register as register_widget

        def hints(request):
            from tremplin.web.problems.selectors import problem_dashboard_hints

            return {"problem_hints": problem_dashboard_hints(user=request.user)}

        register_widget(DashboardWidget("problems/_dashboard_panel.html", hints, order=20))

        from tremplin.web.problems import notify  # noqa: F401  (follows and their events: notifications app)
