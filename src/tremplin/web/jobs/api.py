from __future__ import annotations

from rest_framework import serializers, viewsets

from tremplin.web.accounts.rules import is_platform_admin
from tremplin.web.core.access import Expect
from tremplin.web.core.api import RulesPermission
from tremplin.web.jobs import selectors
from tremplin.web.jobs.models import Job


class JobSerializer(serializers.ModelSerializer):
    """A job as its owner sees it: the error's first line only; the traceback (server code paths) for admins."""

    error = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "kind", "label", "status", "progress", "message", "error", "result", "attempts",
                  "created_at", "started_at", "finished_at"]
        read_only_fields = fields

    def get_error(self, job: Job) -> str:
        request = self.context.get("request")
        if request is not None and is_platform_admin(request.user):
            return job.error
        return job.error_summary


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    """Background jobs: status and progress of the jobs you launched (admins: all)."""

    serializer_class = JobSerializer
    permission_classes = [RulesPermission]
    permission_map = {"list": "jobs.view_job_list", "retrieve": "jobs.view_job"}
    access_expect = Expect(anonymous=403, default=200)
    # The sample job was launched by an outsider: only admins see it.
    access_expect_detail = Expect(anonymous=403, default=404, roles={"admin": 200}, sample="job")

    def get_queryset(self):
        return selectors.job_list_for_user(user=self.request.user).defer(None)
