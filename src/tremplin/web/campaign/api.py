"""REST API of coalitions and campaigns.

- `/api/v1/campaigns/`: campaigns with their totals, costs per result, goals' progress and the comparison with
  the previous campaign (read-only);
- `/api/v1/campaign-kpis/`: KPI values (`?campaign=<id>`); POST records one value (a total to date) with the
  import's checks — for analytics tools that push figures;
- `/api/v1/coalitions/`: coalitions and their organisations' funnel status (no contact person).

Money and totals are decimal strings (exact), ratios too. Typed nested serializers throughout.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import PermissionDenied

from tremplin.web.accounts.models import Organisation
from tremplin.web.campaign import selectors, services
from tremplin.web.campaign.models import Campaign, Coalition, CoalitionMember, KpiEntry, KpiSource, Metric
from tremplin.web.core.access import Expect
from tremplin.web.core.api import PageContextMixin, RulesPermission
from tremplin.web.core.querystring import MAX_ID, api_filters

VIEWERS = dict.fromkeys(("admin", "programme_manager", "decision_maker"), 200)
MONEY = {"max_digits": 18, "decimal_places": 6, "read_only": True, "allow_null": True}


def _decimal(**extra):
    return serializers.DecimalField(**{**MONEY, **extra})


class OrganisationRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "sector"]
        read_only_fields = fields


class CoalitionRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Coalition
        fields = ["id", "name"]
        read_only_fields = fields


class CampaignRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        fields = ["id", "name", "starts_on", "ends_on", "currency"]
        read_only_fields = fields


class TotalsSerializer(serializers.Serializer):
    """Latest totals to date of each KPI (null when never entered) and the budget spent."""

    as_of = serializers.DateField(allow_null=True)
    unique_visits = _decimal()
    complete_views = _decimal()
    unique_reach = _decimal()
    impressions = _decimal()
    press_interviews = _decimal()
    budget = _decimal(help_text="Budget spent: the latest budget KPI, else the sum of the actions' costs.")
    budget_source = serializers.ChoiceField(choices=["kpi", "actions", "none"])

    def to_representation(self, totals):
        data = {"as_of": totals.as_of, "budget": totals.budget, "budget_source": totals.budget_source}
        data.update({m: totals.get(m) for m in Metric.values if m != Metric.BUDGET})
        return super().to_representation(data)


class CostsSerializer(serializers.Serializer):
    """Costs per result (budget spent / result; per thousand impressions: × 1000), null when undefined."""

    per_reach = _decimal()
    per_complete_view = _decimal()
    per_interview = _decimal()
    per_visit = _decimal()
    per_thousand_impressions = _decimal()


class GoalProgressSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="goal.pk")
    metric = serializers.ChoiceField(source="goal.metric", choices=Metric.choices)
    target = serializers.DecimalField(source="goal.target", max_digits=14, decimal_places=2)
    target_date = serializers.DateField(source="goal.target_date")
    label = serializers.CharField(source="goal.label")
    current = _decimal(source="progress.current")
    fraction = _decimal(source="progress.fraction", help_text="current / target")
    expected = _decimal(source="progress.expected", help_text="Share of the time to the goal's date elapsed.")
    status = serializers.ChoiceField(source="progress.status",
                                     choices=["achieved", "on_track", "behind", "missed", "not_started"])


class ComparisonSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="A KPI or a cost per result.")
    current = _decimal()
    previous = _decimal()
    change = _decimal(help_text="current / previous - 1")
    better = serializers.BooleanField(allow_null=True, help_text="True when this campaign does better.")


class CampaignComparisonSerializer(serializers.Serializer):
    previous = CampaignRefSerializer()
    comparable_costs = serializers.BooleanField(help_text="False when the two campaigns' currencies differ.")
    results = ComparisonSerializer(many=True, help_text="Totals to date against the previous campaign's.")
    projected = ComparisonSerializer(many=True, help_text="Linear projections at this campaign's end against the "
                                                          "previous campaign's final results.")
    costs = ComparisonSerializer(many=True)


class CampaignSerializer(serializers.ModelSerializer):
    coalition = CoalitionRefSerializer(read_only=True)
    totals = serializers.SerializerMethodField()
    costs = serializers.SerializerMethodField()
    goals = serializers.SerializerMethodField()
    comparison = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = ["id", "name", "objective", "coalition", "starts_on", "ends_on", "currency", "planned_budget",
                  "totals", "costs", "goals", "comparison"]
        read_only_fields = fields

    def _figures(self, obj) -> selectors.CampaignFigures:
        """The figures of the whole page at once (PageContextMixin), so that a list costs the same few queries."""
        cache = self.context.setdefault("_figures", {})
        if obj.pk not in cache:
            cache.update(selectors.campaigns_figures(self.context.get("_page") or [obj]))
        return cache[obj.pk]

    @extend_schema_field(TotalsSerializer)
    def get_totals(self, obj):
        return TotalsSerializer(self._figures(obj).totals).data

    @extend_schema_field(CostsSerializer)
    def get_costs(self, obj):
        return CostsSerializer(self._figures(obj).costs).data

    @extend_schema_field(GoalProgressSerializer(many=True))
    def get_goals(self, obj):
        return GoalProgressSerializer(self._figures(obj).goals, many=True).data

    @extend_schema_field(CampaignComparisonSerializer(allow_null=True))
    def get_comparison(self, obj):
        f = self._figures(obj)
        if f.previous is None:
            return None
        return CampaignComparisonSerializer({"previous": f.previous, "comparable_costs": f.comparable_costs,
                                             "results": f.results, "projected": f.projected,
                                             "costs": f.cost_comparison}).data


class CampaignViewSet(PageContextMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = CampaignSerializer
    permission_classes = [RulesPermission]
    permission_map = {"list": "campaign.view_campaigns", "retrieve": "campaign.view_campaign"}
    access_expect = Expect(anonymous=403, default=403, roles=VIEWERS)
    access_expect_detail = Expect(anonymous=403, default=404, roles=VIEWERS, sample="campaign")

    def get_queryset(self):
        return selectors.campaign_list_for_user(user=self.request.user).order_by("-starts_on", "pk")


class KpiEntrySerializer(serializers.ModelSerializer):
    campaign = serializers.PrimaryKeyRelatedField(queryset=Campaign.objects.all())
    value = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0,
                                     help_text="The total to date (cumulative since the campaign's start).")

    class Meta:
        model = KpiEntry
        fields = ["id", "campaign", "metric", "on", "value", "source", "entered_at"]
        read_only_fields = ["id", "source", "entered_at"]


class KpiEntryFilters(serializers.Serializer):
    """Query-string filters of the KPI values (validated: a bad value is a 400 naming the parameter)."""

    campaign = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False,
                                        help_text="Only this campaign's values (its id).")


@extend_schema_view(list=extend_schema(parameters=[KpiEntryFilters]))
class KpiEntryViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """KPI values of the campaigns one may read; POST records a value of a campaign one runs."""

    serializer_class = KpiEntrySerializer
    permission_classes = [RulesPermission]
    permission_map = {"list": "campaign.view_campaigns", "create": "campaign.add_campaign"}
    access_expect = Expect(anonymous=403, default=403, roles=VIEWERS)

    def get_queryset(self):
        qs = KpiEntry.objects.filter(campaign__in=selectors.campaign_list_for_user(user=self.request.user))
        if self.action == "list":
            filters = api_filters(self.request, KpiEntryFilters)
            if "campaign" in filters:
                qs = qs.filter(campaign_id=filters["campaign"])
        return qs.order_by("campaign_id", "on", "metric")

    def perform_create(self, serializer):
        campaign = serializer.validated_data["campaign"]
        if not self.request.user.has_perm("campaign.change_campaign", campaign):
            raise PermissionDenied
        data = serializer.validated_data
        try:
            services.kpi_record(campaign=campaign, on=data["on"], values={data["metric"]: data["value"]},
                                by=self.request.user, source=KpiSource.API)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages
                                              ) from exc
        serializer.instance = KpiEntry.objects.get(campaign=campaign, metric=data["metric"], on=data["on"])


class CoalitionMemberSerializer(serializers.ModelSerializer):
    organisation = OrganisationRefSerializer(read_only=True)

    class Meta:
        model = CoalitionMember
        fields = ["id", "organisation", "status", "status_changed_on", "governance_role", "commitments"]
        read_only_fields = fields


class CoalitionSerializer(serializers.ModelSerializer):
    lead_organisation = OrganisationRefSerializer(read_only=True)
    members = CoalitionMemberSerializer(many=True, read_only=True)

    class Meta:
        model = Coalition
        fields = ["id", "name", "purpose", "lead_organisation", "members"]
        read_only_fields = fields


class CoalitionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CoalitionSerializer
    permission_classes = [RulesPermission]
    permission_map = {"list": "campaign.view_coalition", "retrieve": "campaign.view_coalition"}
    access_expect = Expect(anonymous=403, default=403, roles=VIEWERS)
    access_expect_detail = Expect(anonymous=403, default=404, roles=VIEWERS, sample="coalition")

    def get_queryset(self):
        return (selectors.coalition_list_for_user(user=self.request.user)
                .prefetch_related("members__organisation").order_by("name"))


def register(router) -> None:
    router.register("campaigns", CampaignViewSet, basename="campaign")
    router.register("campaign-kpis", KpiEntryViewSet, basename="campaign-kpi")
    router.register("coalitions", CoalitionViewSet, basename="coalition")
