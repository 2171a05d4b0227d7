"""REST API for organisations, territories and memberships (same permissions as the UI)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.shortcuts import get_object_or_404
from rest_framework import mixins, serializers, viewsets

from tremplin.web.accounts import selectors, services
from tremplin.web.accounts.models import TERRITORY_LEVEL_ORDER, Membership, Organisation, Territory, User
from tremplin.web.core.access import Expect
from tremplin.web.core.api import RulesPermission


class TerritorySerializer(serializers.ModelSerializer):
    parent_code = serializers.SlugRelatedField(
        source="parent", slug_field="code", queryset=Territory.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Territory
        fields = ["id", "code", "name", "level", "parent_code", "population"]

    def validate(self, attrs):
        parent = attrs.get("parent", getattr(self.instance, "parent", None))
        level = attrs.get("level", getattr(self.instance, "level", None))
        if parent is not None:
            rank = {lvl.value: i for i, lvl in enumerate(TERRITORY_LEVEL_ORDER)}
            if self.instance is not None and parent.pk == self.instance.pk:
                raise serializers.ValidationError({"parent_code": "A territory cannot be its own parent."})
            if rank.get(parent.level, 99) >= rank.get(level, -1):
                raise serializers.ValidationError(
                    {"parent_code": f"The parent ({parent.level}) must be of a higher level than {level}."})
        return attrs


class OrganisationSerializer(serializers.ModelSerializer):
    territory_code = serializers.SlugRelatedField(
        source="territory", slug_field="code", queryset=Territory.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Organisation
        fields = ["id", "name", "sector", "kind", "territory_code", "website"]


class MembershipSerializer(serializers.ModelSerializer):
    user_email = serializers.SlugRelatedField(source="user", slug_field="email", queryset=User.objects.all())
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())

    class Meta:
        model = Membership
        fields = ["id", "user_email", "organisation", "role", "is_organisation_admin"]

    def validate(self, attrs):
        request = self.context["request"]
        if not request.user.has_perm("accounts.manage_memberships", attrs["organisation"]):
            raise serializers.ValidationError({"organisation": "You cannot manage this organisation's members."})
        return attrs  # which roles the user may grant: services.membership_grant


class TerritoryViewSet(viewsets.ModelViewSet):
    """Territories (country, region, department, community area)."""

    serializer_class = TerritorySerializer
    permission_classes = [RulesPermission]
    permission_map = {
        "list": "accounts.view_territory_list", "retrieve": "accounts.view_territory",
        "create": "accounts.change_territory", "update": "accounts.change_territory",
        "partial_update": "accounts.change_territory", "destroy": "accounts.change_territory",
    }
    access_expect = Expect(anonymous=403, default=200, sample="territory")
    queryset = Territory.objects.select_related("parent").order_by("code")

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError as exc:
            raise serializers.ValidationError(
                {"detail": "This territory is used by other territories or organisations."}) from exc


class OrganisationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                          mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Organisations of every sector, equal partners of the network."""

    serializer_class = OrganisationSerializer
    permission_classes = [RulesPermission]
    permission_map = {
        "list": "accounts.view_organisation_list", "retrieve": "accounts.view_organisation",
        "create": "accounts.add_organisation", "update": "accounts.change_organisation",
        "partial_update": "accounts.change_organisation",
    }
    access_expect = Expect(anonymous=403, default=200, sample="organisation")

    def get_queryset(self):
        return selectors.organisation_list()

    def perform_create(self, serializer):
        serializer.instance = services.organisation_create(**serializer.validated_data)


class MembershipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Memberships: who belongs to which organisation, with which role."""

    serializer_class = MembershipSerializer
    permission_classes = [RulesPermission]
    permission_map = {
        "list": None,  # filtered to the user's organisations (admins see all)
        "retrieve": "accounts.view_membership_list_item",
        "create": None,  # checked per organisation in the serializer
        "destroy": "accounts.manage_membership_item",
    }
    access_expect = Expect(anonymous=403, default=200)
    # The sample membership belongs to an organisation none of the personas is in: only admins see it.
    access_expect_detail = Expect(anonymous=403, default=404, roles={"admin": 200}, sample="membership")

    def get_queryset(self):
        return selectors.membership_list_for_user(user=self.request.user).order_by("pk")

    def perform_create(self, serializer):
        try:
            serializer.instance = services.membership_grant(granted_by=self.request.user,
                                                            **serializer.validated_data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc

    def perform_destroy(self, instance):
        get_object_or_404(Membership, pk=instance.pk)
        services.membership_revoke(revoked_by=self.request.user, membership=instance)
