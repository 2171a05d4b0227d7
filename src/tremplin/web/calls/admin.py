"""Read-mostly administration of calls (the pages and services are the normal way to change them)."""

from django.contrib import admin

from tremplin.web.calls.models import Assignment, Call, Conflict, Criterion, Decision, Proposal, Review


class CriterionInline(admin.TabularInline):
    model = Criterion
    extra = 0


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["title", "opens_at", "review_starts_at", "deliberation_starts_at", "results_at",
                    "decisions_released_at"]
    search_fields = ["title"]
    inlines = [CriterionInline]
    filter_horizontal = ["problems", "eligible_territories"]


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = ["title", "call", "organisation", "status", "requested_amount", "selected_at"]
    list_filter = ["status", "call"]
    search_fields = ["title", "organisation__name"]
    raw_id_fields = ["call", "organisation", "created_by"]
    filter_horizontal = ["partners", "territories"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["proposal", "reviewer", "source", "created_at"]
    raw_id_fields = ["proposal", "reviewer", "assigned_by"]


@admin.register(Conflict)
class ConflictAdmin(admin.ModelAdmin):
    list_display = ["reviewer", "call", "proposal", "organisation", "reason", "status", "decided_at"]
    list_filter = ["status"]
    raw_id_fields = ["reviewer", "call", "proposal", "organisation", "decided_by"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["proposal", "reviewer", "status", "weighted_score", "submitted_at", "withdrawn_at"]
    list_filter = ["status"]
    raw_id_fields = ["proposal", "reviewer", "withdrawn_for"]


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["proposal", "outcome", "decided_by", "decided_at", "notified_at"]
    list_filter = ["outcome"]
    raw_id_fields = ["proposal", "decided_by"]
