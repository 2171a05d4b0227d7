from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EvaluationsConfig(AppConfig):
    name = "tremplin.web.evaluations"
    label = "evaluations"
    verbose_name = _("Évaluations d'impact")

    def ready(self) -> None:
        from tremplin.web.core.navigation import NavItem, register
        from tremplin.web.evaluations import handlers  # noqa: F401  (registers the job handlers)

        register(NavItem(_("Évaluations"), "evaluations:run-list", "evaluations.view_run_list", 50))
        register(NavItem(_("Données d'évaluation"), "evaluations:dataset-list", "evaluations.view_dataset_list", 51))
