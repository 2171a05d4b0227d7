"""API viewsets of this app; `register(router)` is called by tremplin/web/api_urls.py."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tremplin.web.accounts.models import Organisation, Territory
from tremplin.web.core.access import Expect
from tremplin.web.core.api import RulesPermission
from tremplin.web.core.audit import audit_access_denied
from tremplin.web.core.querystring import api_filters
from tremplin.web.problems import selectors, services
from tremplin.web.problems.models import Endorsement, Problem, ProblemStatus


def _drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


class EndorsementSerializer(serializers.ModelSerializer):
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)

    class Meta:
        model = Endorsement
        fields = ["id", "organisation", "organisation_name", "comment", "created_at"]
        read_only_fields = ["created_at"]


class ProblemSerializer(serializers.ModelSerializer):
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    territory_codes = serializers.SlugRelatedField(source="territories", slug_field="code", many=True,
                                                   queryset=Territory.objects.all(), required=False)
    endorsement_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Problem
        fields = ["id", "title", "description", "domain", "territory_codes", "affected_population", "burden",
                  "burden_cost_eur", "evidence_links", "organisation", "status", "status_reason", "merged_into",
                  "strategic_fit", "endorsement_count", "created_at", "updated_at"]
        read_only_fields = ["status", "status_reason", "merged_into", "strategic_fit", "created_at", "updated_at"]


class ProblemFilters(serializers.Serializer):
    """Query-string filters of the list (validated: an unknown value is a 400 naming the parameter)."""

    status = serializers.ChoiceField(choices=ProblemStatus.choices, required=False,
                                     help_text="Only the problems in this status.")


@extend_schema_view(list=extend_schema(parameters=[ProblemFilters]))
class ProblemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     viewsets.GenericViewSet):
    """Problems reported by the network. `endorse`: GET lists the endorsements, POST endorses."""

    serializer_class = ProblemSerializer
    permission_classes = [RulesPermission]
    permission_map = {
        "list": "problems.view_problem_list",
        "retrieve": "problems.view_problem",
        "create": "problems.add_problem",
        "endorse": "problems.view_problem",  # POST also checks problems.endorse_problem on the object
    }
    access_expect = Expect(anonymous=403, default=200, sample="problem")

    def get_queryset(self):
        qs = selectors.problem_list_for_user(user=self.request.user).prefetch_related("territories")
        if self.action == "list":
            filters = api_filters(self.request, ProblemFilters)
            if "status" in filters:
                qs = qs.filter(status=filters["status"])
        return qs.order_by("-created_at", "-pk")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        territories = data.pop("territories", [])
        try:
            problem = services.problem_create(user=self.request.user, territories=territories, **data)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from exc
        serializer.instance = Problem.objects.annotate(endorsement_count=Count("endorsements")).get(pk=problem.pk)

    @extend_schema(methods=["GET"], responses={200: EndorsementSerializer(many=True)})
    @extend_schema(methods=["POST"], request=EndorsementSerializer, responses={201: EndorsementSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None)  # the whole list, not a page
    def endorse(self, request, pk=None, format=None):  # noqa: A002 (DRF format suffix)
        problem = self.get_object()
        if request.method == "GET":
            endorsements = problem.endorsements.select_related("organisation")
            return Response(EndorsementSerializer(endorsements, many=True).data)
        if not request.user.has_perm("problems.endorse_problem", problem):
            audit_access_denied(request=request, permission="problems.endorse_problem", obj=problem)
            self.permission_denied(request, message="You cannot endorse this problem.")
        serializer = EndorsementSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            endorsement = services.endorsement_create(problem=problem, user=request.user,
                                                      organisation=serializer.validated_data["organisation"],
                                                      comment=serializer.validated_data["comment"])
        except DjangoValidationError as exc:
            raise _drf_error(exc) from exc
        return Response(EndorsementSerializer(endorsement).data, status=status.HTTP_201_CREATED)


def register(router) -> None:
    """Register this app's viewsets on the v1 router."""
    router.register("problems", ProblemViewSet, basename="problem")
