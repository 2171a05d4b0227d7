"""Read-only REST API for datasets and evaluation runs (same permissions as the pages).

Runs are launched from the pages (a background job); the API exposes their provenance and result.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets

from tremplin.web.core.access import Expect
from tremplin.web.core.api import RulesPermission
from tremplin.web.evaluations import selectors
from tremplin.web.evaluations.models import Dataset, Run

EVALUATORS_ONLY = Expect(anonymous=403, default=403, roles={"evaluator": 200, "admin": 200})


class DatasetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "format", "source", "status", "fingerprint", "rows", "report",
                  "created_at", "validated_at"]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    result = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = ["id", "plan", "dataset", "dataset_fingerprint", "estimator", "params", "engine_version", "status",
                  "error", "timings", "started_at", "finished_at", "published_at", "result"]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(allow_null=True, help_text="the estimate, without its figures"))
    def get_result(self, obj):
        if not obj.result:
            return None
        return {k: v for k, v in obj.result.items() if k != "figures"}


class DatasetViewSet(viewsets.ReadOnlyModelViewSet):
    care_data = True  # core.api.RulesPermission: no token created without a second factor
    serializer_class = DatasetSerializer
    permission_classes = [RulesPermission]
    permission_map = {"list": "evaluations.view_dataset_list", "retrieve": "evaluations.view_dataset"}
    access_expect = EVALUATORS_ONLY
    access_expect_detail = Expect(anonymous=403, default=404, roles={"evaluator": 200, "admin": 200},
                                  sample="dataset")

    def get_queryset(self):
        return selectors.dataset_list_for_user(user=self.request.user)


class RunViewSet(viewsets.ReadOnlyModelViewSet):
    care_data = True  # core.api.RulesPermission: no token created without a second factor
    serializer_class = RunSerializer
    permission_classes = [RulesPermission]
    permission_map = {"list": "evaluations.view_run_list", "retrieve": "evaluations.view_run"}
    access_expect = EVALUATORS_ONLY
    # Other users only see the runs they launched: the sample (an outsider's) is not found for them.
    access_expect_detail = Expect(anonymous=403, default=404, roles={"evaluator": 200, "admin": 200}, sample="run")

    def get_queryset(self):
        return selectors.run_list_for_user(user=self.request.user)


def register(router) -> None:
    """Register this app's viewsets on the v1 router."""
    router.register("evaluation-datasets", DatasetViewSet, basename="evaluation-dataset")
    router.register("evaluation-runs", RunViewSet, basename="evaluation-run")
