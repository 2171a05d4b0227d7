"""REST API of the portfolio: `/api/v1/experiments/` (read-only, same permissions as the pages).

Every signed-in user gets the public summary; budget, milestones, KPIs, plan and alert are only filled in for
those allowed to see the full experiment (`portfolio.view_experiment`), otherwise they are `null`.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets

from tremplin.web.core.access import Expect
from tremplin.web.core.api import RulesPermission
from tremplin.web.core.openapi import OrganisationBriefSerializer
from tremplin.web.core.querystring import api_filters
from tremplin.web.portfolio import selectors
from tremplin.web.portfolio.models import Design, Experiment, LegalFramework, Stage


class MilestoneBriefSerializer(serializers.Serializer):
    name = serializers.CharField()
    due_date = serializers.DateField()
    done_on = serializers.DateField(allow_null=True)


class KpiValueBriefSerializer(serializers.Serializer):
    date = serializers.DateField()
    value = serializers.DecimalField(max_digits=14, decimal_places=2)


class KpiBriefSerializer(serializers.Serializer):
    name = serializers.CharField()
    unit = serializers.CharField(allow_blank=True)
    target = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    values = KpiValueBriefSerializer(many=True)


class PlanBriefSerializer(serializers.Serializer):
    primary_outcome = serializers.CharField()
    design = serializers.ChoiceField(choices=Design.choices)
    expected_effect = serializers.FloatField()
    months_required = serializers.IntegerField(allow_null=True)
    locked_at = serializers.DateTimeField(allow_null=True)


class AlertBriefSerializer(serializers.Serializer):
    available_months = serializers.IntegerField()
    months_required = serializers.IntegerField(allow_null=True, help_text="null: not reachable")
    months_short = serializers.IntegerField(allow_null=True)


class ExperimentDetailsSerializer(serializers.Serializer):
    """What those allowed to see the full experiment get (`details` is null for the others)."""

    start_date = serializers.DateField(allow_null=True)
    legal_framework = serializers.ChoiceField(choices=LegalFramework.choices)
    authorisation_end = serializers.DateField(allow_null=True)
    committed = serializers.DecimalField(max_digits=None, decimal_places=2)  # sums of 14-digit amounts
    spent = serializers.DecimalField(max_digits=None, decimal_places=2)
    milestones = MilestoneBriefSerializer(many=True)
    kpis = KpiBriefSerializer(many=True)
    evaluation_plan = PlanBriefSerializer(allow_null=True)
    alert = AlertBriefSerializer(allow_null=True)


class ExperimentSerializer(serializers.ModelSerializer):
    lead_organisation = serializers.SerializerMethodField()
    partners = serializers.SerializerMethodField()
    territories = serializers.SlugRelatedField(many=True, read_only=True, slug_field="code")
    details = serializers.SerializerMethodField()

    class Meta:
        model = Experiment
        fields = ["id", "title", "summary", "stage", "status", "care_domain", "lead_organisation", "partners",
                  "territories", "details"]
        read_only_fields = fields

    @extend_schema_field(OrganisationBriefSerializer)
    def get_lead_organisation(self, obj):
        return OrganisationBriefSerializer(obj.lead_organisation).data

    @extend_schema_field(OrganisationBriefSerializer(many=True))
    def get_partners(self, obj):
        return OrganisationBriefSerializer(obj.partners.all(), many=True).data

    def _full(self, obj) -> bool:
        user = self.context["request"].user
        if self.context.get("_details") is None:
            self.context["_details"] = user.has_perm("portfolio.view_portfolio_details")
            self.context["_involved"] = selectors.involved_experiment_ids(user=user)
        return self.context["_details"] or obj.pk in self.context["_involved"]

    @extend_schema_field(ExperimentDetailsSerializer(allow_null=True))
    def get_details(self, obj):
        if not self._full(obj):
            return None
        if "_budgets" not in self.context:
            page = self.context.get("_page") or [obj]
            self.context["_budgets"] = selectors.budget_totals(experiment_ids=[e.pk for e in page])
        budget = self.context["_budgets"].get(obj.pk)
        alert = selectors.evaluation_alert(obj)
        plan = selectors.plan_of(obj)
        return ExperimentDetailsSerializer({
            "start_date": obj.start_date, "legal_framework": obj.legal_framework,
            "authorisation_end": obj.authorisation_end,
            "committed": budget.committed if budget else 0, "spent": budget.spent if budget else 0,
            "milestones": obj.milestones.all(),
            "kpis": [{"name": k.name, "unit": k.unit, "target": k.target, "values": k.values.all()}
                     for k in obj.kpis.all()],
            "evaluation_plan": plan, "alert": alert,
        }).data


class ExperimentFilters(serializers.Serializer):
    """Query-string filters of the list (validated: a bad value is a 400 naming the parameter)."""

    stage = serializers.ChoiceField(choices=Stage.choices, required=False,
                                    help_text="Only the experiments at this stage (1 to 5).")


@extend_schema_view(list=extend_schema(parameters=[ExperimentFilters]))
class ExperimentViewSet(viewsets.ReadOnlyModelViewSet):
    """Experiments of the portfolio (summary for every signed-in user, details for those allowed)."""

    serializer_class = ExperimentSerializer
    permission_classes = [RulesPermission]
    permission_map = {"list": "portfolio.view_portfolio", "retrieve": "portfolio.view_portfolio"}
    access_expect = Expect(anonymous=403, default=200)
    access_expect_detail = Expect(anonymous=403, default=200, sample="experiment")

    def get_queryset(self):
        qs = (selectors.experiment_list_for_user(user=self.request.user)
              .select_related("lead_organisation", "evaluation_plan")
              .prefetch_related("partners", "territories", "milestones", "kpis__values").order_by("stage", "pk"))
        if self.action == "list":
            filters = api_filters(self.request, ExperimentFilters)
            if "stage" in filters:
                qs = qs.filter(stage=filters["stage"])
        return qs

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self._page = page
        return page

    def get_serializer_context(self):
        context = super().get_serializer_context()
        page = getattr(self, "_page", None)
        if page is not None:
            context["_page"] = page
        return context


def register(router) -> None:
    """Register this app's viewsets on the v1 router."""
    router.register("experiments", ExperimentViewSet, basename="experiment")
