from __future__ import annotations

from django.db.models import QuerySet

from tremplin.web.jobs.models import Job


def job_list_for_user(*, user) -> QuerySet[Job]:
    """Admins see every job; other users see the jobs they launched."""
    qs = Job.objects.select_related("created_by").defer("result", "params")
    if user.is_superuser or user.has_role("admin"):
        return qs
    return qs.filter(created_by=user)
