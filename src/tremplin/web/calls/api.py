"""REST API for calls and proposals (same permissions as the pages; blind review respected)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import PermissionDenied

from tremplin.web.accounts.models import Organisation, Territory
from tremplin.web.calls import selectors, services
from tremplin.web.calls.models import Call, Criterion, EvidenceLevel, Outcome, Proposal
from tremplin.web.core.access import Expect
from tremplin.web.core.api import RulesPermission
from tremplin.web.core.openapi import OrganisationBriefSerializer
from tremplin.web.core.querystring import MAX_ID, api_filters


class CriterionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Criterion
        fields = ["id", "name", "description", "weight", "rubric", "order"]


class CallSerializer(serializers.ModelSerializer):
    phase = serializers.CharField(read_only=True)
    criteria = CriterionSerializer(many=True, read_only=True)
    problems = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    eligible_territories = serializers.SlugRelatedField(many=True, read_only=True, slug_field="code")

    class Meta:
        model = Call
        fields = ["id", "title", "text", "phase", "problems", "eligible_sectors", "eligible_territories",
                  "budget_envelope", "max_amount_per_proposal", "opens_at", "review_starts_at",
                  "deliberation_starts_at", "results_at", "reviewers_per_proposal", "blind_review",
                  "visibility_during_review", "visibility_after_review", "decisions_released_at", "criteria"]
        read_only_fields = fields


class ProposalBudgetLineSerializer(serializers.Serializer):
    label = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class AttachmentBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="piece-jointe-<id>.pdf for blind reviewers")
    size = serializers.IntegerField()


class DecisionBriefSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    reason = serializers.CharField()


class ProposalSerializer(serializers.ModelSerializer):
    """Applicant identity (organisation, partners, author, attachment names) is omitted for blind reviewers."""

    organisation = serializers.SerializerMethodField()
    partners = serializers.SerializerMethodField()
    territories = serializers.SlugRelatedField(many=True, read_only=True, slug_field="code")
    budget_lines = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()
    decision = serializers.SerializerMethodField()

    class Meta:
        model = Proposal
        fields = ["id", "call", "title", "summary", "description", "organisation", "partners", "territories",
                  "requested_amount", "budget_lines", "evidence_level", "status", "submitted_at", "attachments",
                  "decision"]
        read_only_fields = fields

    def _blind(self, obj) -> bool:
        cache = self.context.setdefault("_blind", {})
        if obj.pk not in cache:
            cache[obj.pk] = selectors.identity_hidden(user=self.context["request"].user, proposal=obj)
        return cache[obj.pk]

    @extend_schema_field(OrganisationBriefSerializer(allow_null=True, help_text="null for blind reviewers"))
    def get_organisation(self, obj):
        if self._blind(obj):
            return None
        return OrganisationBriefSerializer(obj.organisation).data

    @extend_schema_field(OrganisationBriefSerializer(many=True, allow_null=True, help_text="null for blind reviewers"))
    def get_partners(self, obj):
        if self._blind(obj):
            return None
        return OrganisationBriefSerializer(obj.partners.all(), many=True).data

    @extend_schema_field(ProposalBudgetLineSerializer(many=True))
    def get_budget_lines(self, obj):
        return ProposalBudgetLineSerializer(obj.budget_lines.all(), many=True).data

    @extend_schema_field(AttachmentBriefSerializer(many=True))
    def get_attachments(self, obj):
        blind = self._blind(obj)
        return AttachmentBriefSerializer([
            {"id": a.pk, "name": f"piece-jointe-{a.pk}.pdf" if blind else a.original_name, "size": a.size}
            for a in obj.attachments.all()], many=True).data

    @extend_schema_field(DecisionBriefSerializer(allow_null=True, help_text="null until released, or when hidden"))
    def get_decision(self, obj):
        user = self.context["request"].user
        if not (obj.call.released or selectors.is_manager(user)) or selectors.identity_hidden(user=user, proposal=obj):
            return None
        decision = getattr(obj, "decision", None) if hasattr(obj, "decision") else None
        return DecisionBriefSerializer(decision).data if decision else None


class BudgetLineSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=200)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)


class ProposalWriteSerializer(serializers.Serializer):
    """Create or edit a draft (the phase, eligibility and budget rules are the services')."""

    call = serializers.PrimaryKeyRelatedField(queryset=Call.objects.all())
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    title = serializers.CharField(max_length=200)
    summary = serializers.CharField(max_length=2000)
    description = serializers.CharField()
    evidence_level = serializers.ChoiceField(choices=EvidenceLevel.choices, default=EvidenceLevel.IDEA)
    partners = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all(), many=True, required=False)
    territories = serializers.SlugRelatedField(queryset=Territory.objects.all(), slug_field="code", many=True,
                                               required=False)
    budget_lines = BudgetLineSerializer(many=True, required=False)


def _service_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


class CallViewSet(viewsets.ReadOnlyModelViewSet):
    """Calls for solutions (drafts are visible to programme managers only)."""

    serializer_class = CallSerializer
    permission_classes = [RulesPermission]
    permission_map = {"list": "calls.view_call_list", "retrieve": "calls.view_call"}
    access_expect = Expect(anonymous=403, default=200)
    access_expect_detail = Expect(anonymous=403, default=200, sample="call")

    def get_queryset(self):
        return selectors.call_list_for_user(user=self.request.user).prefetch_related(
            "criteria", "problems", "eligible_territories")


class ProposalFilters(serializers.Serializer):
    """Query-string filters of the list (validated: a bad value is a 400 naming the parameter)."""

    call = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False,
                                    help_text="Only the proposals to this call (its id).")


@extend_schema_view(
    list=extend_schema(parameters=[ProposalFilters]),
    create=extend_schema(request=ProposalWriteSerializer, responses={201: ProposalSerializer}),
    update=extend_schema(request=ProposalWriteSerializer, responses={200: ProposalSerializer}),
    partial_update=extend_schema(request=ProposalWriteSerializer(partial=True), responses={200: ProposalSerializer}),
)
class ProposalViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Proposals: managers see all, applicants their organisations', reviewers only those assigned to them.

    Innovators create drafts (POST) and edit them until the deadline (PUT/PATCH); submission and attachments
    go through the pages.
    """

    serializer_class = ProposalSerializer
    permission_classes = [RulesPermission]
    permission_map = {"list": "calls.view_call_list", "retrieve": "calls.view_proposal",
                      "create": "calls.view_my_proposals",  # + calls.add_proposal on the call, below
                      "update": "calls.change_proposal", "partial_update": "calls.change_proposal"}
    access_expect = Expect(anonymous=403, default=200)
    # The sample proposal belongs to an organisation none of the personas is in and is assigned to nobody.
    access_expect_detail = Expect(anonymous=403, default=404, roles={"admin": 200, "programme_manager": 200},
                                  sample="proposal")

    def get_queryset(self):
        qs = selectors.proposal_list_for_user(user=self.request.user).select_related("decision").prefetch_related(
            "partners", "territories", "budget_lines", "attachments").order_by("pk")
        if self.action == "list":
            filters = api_filters(self.request, ProposalFilters)
            if "call" in filters:
                qs = qs.filter(call_id=filters["call"])
        return qs

    def get_serializer_class(self):
        return ProposalWriteSerializer if self.action in {"create", "update", "partial_update"} else ProposalSerializer

    @staticmethod
    def _kwargs(data: dict, instance: Proposal | None = None) -> dict:
        def pick(name, default):
            if name in data:
                return data[name]
            return default

        return {
            "organisation": pick("organisation", getattr(instance, "organisation", None)),
            "title": pick("title", getattr(instance, "title", "")),
            "summary": pick("summary", getattr(instance, "summary", "")),
            "description": pick("description", getattr(instance, "description", "")),
            "evidence_level": pick("evidence_level", getattr(instance, "evidence_level", EvidenceLevel.IDEA)),
            "partners": pick("partners", list(instance.partners.all()) if instance else []),
            "territories": pick("territories", list(instance.territories.all()) if instance else []),
            "budget_lines": pick("budget_lines", list(instance.budget_lines.values("label", "amount"))
                                 if instance else []),
        }

    def _respond(self, proposal: Proposal):
        from rest_framework.response import Response

        proposal = self.get_queryset().get(pk=proposal.pk)
        return Response(ProposalSerializer(proposal, context=self.get_serializer_context()).data,
                        status=201 if self.action == "create" else 200)

    def create(self, request, *args, **kwargs):
        serializer = ProposalWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        call = serializer.validated_data["call"]
        if not request.user.has_perm("calls.add_proposal", call):
            raise PermissionDenied("This call does not accept proposals from you now.")
        try:
            proposal = services.proposal_create(call=call, user=request.user,
                                                **self._kwargs(serializer.validated_data))
        except DjangoValidationError as exc:
            raise _service_errors(exc) from exc
        return self._respond(proposal)

    def update(self, request, *args, **kwargs):
        instance = self.get_object()
        serializer = ProposalWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if k != "call"}
        if not kwargs.get("partial"):
            ProposalWriteSerializer(data=request.data).is_valid(raise_exception=True)
        try:
            proposal = services.proposal_update(proposal=instance, user=request.user, **self._kwargs(data, instance))
        except DjangoValidationError as exc:
            raise _service_errors(exc) from exc
        return self._respond(proposal)


def register(router) -> None:
    """Register this app's viewsets on the v1 router."""
    router.register("calls", CallViewSet, basename="call")
    router.register("proposals", ProposalViewSet, basename="proposal")
