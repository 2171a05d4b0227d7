from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "tremplin.web.core"
    label = "core"
    verbose_name = _("Plateforme")

    def ready(self) -> None:
        from tremplin.web.core import audit  # noqa: F401  (connects audit signal handlers)
