from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from tremplin.web.accounts.models import Membership, Organisation, Territory, User


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
