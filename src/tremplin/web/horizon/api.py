"""REST API of horizon scanning: `/api/v1/signals/` (read-only) and `/api/v1/signals/radar/` (the radar's points).

Same permissions as the pages (`horizon.view_signals`); typed nested serializers, so that the OpenAPI schema
describes every field. No personal data: neither the steward nor the panel's individual scores are exposed.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tremplin.web.calls.models import Call
from tremplin.web.core.access import Expect
from tremplin.web.core.api import PageContextMixin, RulesPermission
from tremplin.web.core.querystring import api_filters
from tremplin.web.horizon import selectors
from tremplin.web.horizon.models import Horizon, Signal, SignalDomain, SignalStatus
from tremplin.web.horizon.radar import radar_points
from tremplin.web.problems.models import Problem

VIEWERS = dict.fromkeys(("admin", "programme_manager", "decision_maker", "evaluator", "reviewer"), 200)


class ProblemRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Problem
        fields = ["id", "title"]
        read_only_fields = fields


class CallRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Call
        fields = ["id", "title"]
        read_only_fields = fields


class ImpactSerializer(serializers.Serializer):
    """Expected impact on care organisation, per dimension: 0 none, 1 low, 2 moderate, 3 high, 4 transformative."""

    workforce = serializers.IntegerField(source="impact_workforce", min_value=0, max_value=4, read_only=True)
    pathways = serializers.IntegerField(source="impact_pathways", min_value=0, max_value=4, read_only=True)
    costs = serializers.IntegerField(source="impact_costs", min_value=0, max_value=4, read_only=True)
    skills_transfer = serializers.IntegerField(source="impact_skills", min_value=0, max_value=4, read_only=True)
    notes = serializers.CharField(source="impact_notes", read_only=True)


class PanelAggregateSerializer(serializers.Serializer):
    """The panel's aggregate: mean of the scores (0–4), mean scorer-normalised z-score, spread (population
    standard deviation), disagreement flag (spread ≥ 1 point with two scores or more)."""

    n = serializers.IntegerField(read_only=True)
    mean = serializers.FloatField(read_only=True, allow_null=True)
    normalised = serializers.FloatField(read_only=True, allow_null=True)
    spread = serializers.FloatField(read_only=True, allow_null=True)
    disagreement = serializers.BooleanField(read_only=True)


class SignalSerializer(serializers.ModelSerializer):
    impacts = ImpactSerializer(source="*", read_only=True)
    sources = serializers.ListField(child=serializers.URLField(), source="source_link_list", read_only=True)
    problems = ProblemRefSerializer(many=True, read_only=True)
    calls = CallRefSerializer(many=True, read_only=True)
    review_due_on = serializers.SerializerMethodField()
    review_overdue = serializers.SerializerMethodField()
    panel = serializers.SerializerMethodField()

    class Meta:
        model = Signal
        fields = ["id", "title", "summary", "domain", "horizon", "likelihood", "impacts", "sources", "problems",
                  "calls", "is_public", "status", "last_reviewed_on", "review_due_on", "review_overdue", "panel"]
        read_only_fields = fields

    @extend_schema_field(serializers.DateField())
    def get_review_due_on(self, obj):
        return selectors.review_due_on(obj)

    @extend_schema_field(serializers.BooleanField())
    def get_review_overdue(self, obj) -> bool:
        return selectors.review_overdue(obj)

    @extend_schema_field(PanelAggregateSerializer(allow_null=True))
    def get_panel(self, obj):
        if "_panel" not in self.context:
            page = self.context.get("_page") or [obj]
            self.context["_panel"] = selectors.panel_aggregates(signal_ids=[s.pk for s in page])
        aggregate = self.context["_panel"].get(obj.pk)
        return None if aggregate is None else PanelAggregateSerializer(aggregate).data


class RadarPointSerializer(serializers.Serializer):
    """A signal on the radar: its sector (domain), ring (horizon), position (x, y; radius in rings, angle in
    degrees clockwise from the top) and marker (symbol for the likelihood, size for the strongest impact)."""

    signal = serializers.IntegerField(source="signal.pk")
    number = serializers.IntegerField(source="signal.number")
    title = serializers.CharField(source="signal.title")
    domain = serializers.CharField(source="signal.domain")
    horizon = serializers.CharField(source="signal.horizon")
    likelihood = serializers.IntegerField(source="signal.likelihood")
    impact = serializers.IntegerField(source="signal.impact")
    panel_mean = serializers.FloatField(source="signal.panel_mean", allow_null=True)
    radius = serializers.FloatField()
    angle = serializers.FloatField()
    x = serializers.FloatField()
    y = serializers.FloatField()
    symbol = serializers.CharField()
    size = serializers.FloatField()


class SignalFilters(serializers.Serializer):
    """Query-string filters of the list and the radar (validated: a bad value is a 400 naming the parameter)."""

    status = serializers.ChoiceField(choices=[*SignalStatus.values, "all"], required=False,
                                     help_text="watching (default), archived or all.")
    domain = serializers.ChoiceField(choices=SignalDomain.choices, required=False, help_text="Only this domain.")
    horizon = serializers.ChoiceField(choices=Horizon.choices, required=False, help_text="Only this horizon.")


@extend_schema_view(list=extend_schema(parameters=[SignalFilters]))
class SignalViewSet(PageContextMixin, viewsets.ReadOnlyModelViewSet):
    """Signals of the horizon scanning (watched ones by default; `?status=archived` or `all`)."""

    serializer_class = SignalSerializer
    permission_classes = [RulesPermission]
    permission_map = {"list": "horizon.view_signals", "retrieve": "horizon.view_signal",
                      "radar": "horizon.view_signals"}
    access_expect = Expect(anonymous=403, default=403, roles=VIEWERS)
    access_expect_detail = Expect(anonymous=403, default=404, roles=VIEWERS, sample="signal")

    def get_queryset(self):
        filters = {"status": "all"} if self.action == "retrieve" else api_filters(self.request, SignalFilters)
        return selectors.with_visible_links(selectors.signal_filtered(user=self.request.user, **filters),
                                            user=self.request.user).order_by("pk")

    @extend_schema(parameters=[SignalFilters], responses=RadarPointSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def radar(self, request, *args, **kwargs):
        """The radar's points (the same placement as the page's chart) for the watched signals."""
        signals = list(self.get_queryset().order_by("domain", "horizon", "-likelihood", "title", "pk"))
        aggregates = selectors.panel_aggregates(signal_ids=[s.pk for s in signals])
        points = radar_points(selectors.radar_signals(signals, aggregates=aggregates))
        return Response(RadarPointSerializer(points, many=True).data)


def register(router) -> None:
    router.register("signals", SignalViewSet, basename="signal")
