from django.contrib import admin

from tremplin.web.core.models import AuditLog


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nobody adds, changes or deletes these rows through the admin (they are written by the application)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    """Read-only: nobody can add, change or delete audit entries through the application."""

    list_display = ["at", "actor_repr", "action", "model", "object_pk", "object_repr", "ip_address"]
    list_filter = ["action", "model"]
    search_fields = ["actor_repr", "object_repr", "object_pk"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditLog._meta.fields]
