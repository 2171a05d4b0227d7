from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "tremplin.web.notifications"
    label = "notifications"
    verbose_name = _("Courriels et notifications")

    def ready(self) -> None:
        from tremplin.web.core.dashboard import DashboardWidget
        from tremplin.web.core.dashboard import register as register_widget
        from tremplin.web.core.navigation import NavItem, register
        from tremplin.web.notifications import handlers, kinds  # noqa: F401  (job handler, the digest kind)
        from tremplin.web.notifications.registry import register_periodic
        from tremplin.web.notifications.services import digest_send

        register(NavItem(_("Notifications"), "notifications:notification-list", None, 85))
        register(NavItem(_("Courriels"), "notifications:mail-log", "notifications.manage_mail", 86))
        register_periodic("notifications.digest", digest_send)

        def widget(request):
            from tremplin.web.notifications.models import MailStatus, OutgoingMail
            from tremplin.web.notifications.selectors import notifications_for, unread_count

            unread = unread_count(user=request.user)
            held = OutgoingMail.objects.filter(status=MailStatus.HELD).count() \
                if request.user.has_perm("notifications.manage_mail") else 0
            if not unread and not held:
                return None
            return {"unread": unread, "held": held,
                    "latest": list(notifications_for(user=request.user).filter(read_at__isnull=True)[:5])}

        register_widget(DashboardWidget("notifications/_dashboard_panel.html", widget, order=5))
