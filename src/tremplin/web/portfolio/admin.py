"""Admin (platform admins): experiments with their budget lines and milestones, gate criteria templates.

Gate reviews, evaluation plans and amendments are not in the admin: they change only through the services
(transitions, power computation, amendments), from the portfolio pages.
"""

from django.contrib import admin

from tremplin.web.portfolio.models import BudgetLine, Experiment, GateCriterion, Milestone, TestSite


class BudgetLineInline(admin.TabularInline):
    model = BudgetLine
    extra = 0


class TestSiteInline(admin.TabularInline):
    model = TestSite
    extra = 0


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ("title", "stage", "status", "lead_organisation", "legal_framework", "authorisation_end")
    list_filter = ("stage", "status", "legal_framework", "care_domain")
    search_fields = ("title",)
    raw_id_fields = ("proposal",)
    readonly_fields = ("stage", "status", "ended_on")
    inlines = [TestSiteInline, BudgetLineInline, MilestoneInline]


@admin.register(GateCriterion)
class GateCriterionAdmin(admin.ModelAdmin):
    list_display = ("stage", "order", "text")
    list_filter = ("stage",)
