from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from tremplin.web.accounts.models import ApiToken, Membership, Organisation, Territory, User
from tremplin.web.core.admin import ReadOnlyAdmin


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["organisation"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline]
    list_display = ["email", "display_name", "is_active", "is_staff", "last_login"]
    search_fields = ["email", "display_name", "first_name", "last_name"]
    ordering = ["email"]
    fieldsets = (*BaseUserAdmin.fieldsets, ("Tremplin", {"fields": ("display_name",)}))


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "sector", "kind", "territory"]
    list_filter = ["sector", "kind"]
    search_fields = ["name"]


@admin.register(Territory)
class TerritoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent", "population"]
    list_filter = ["level"]
    search_fields = ["code", "name"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role", "is_organisation_admin"]
    list_filter = ["role"]
    autocomplete_fields = ["organisation"]
    search_fields = ["user__email", "organisation__name"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Read-only (tokens are created by their owners, after the second factor), with a revoke action."""

    list_display = ["name", "user", "prefix", "scope", "mfa_verified", "created_at", "expires_at", "last_used_at",
                    "revoked_at"]
    list_filter = ["scope", "mfa_verified"]
    search_fields = ["name", "prefix", "user__email"]
    readonly_fields = [f.name for f in ApiToken._meta.fields if f.name != "key_hash"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    @admin.action(description=_("Révoquer les jetons choisis"), permissions=["view"])
    def revoke(self, request, queryset):
        from tremplin.web.accounts.services import api_token_revoke

        for token in queryset.filter(revoked_at__isnull=True):
            api_token_revoke(token=token)
