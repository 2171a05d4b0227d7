"""Writes for jobs: enqueue, run (called by the worker), cancel."""

from __future__ import annotations

import logging
import traceback

from django.db import transaction
from django.utils import timezone

from tremplin.web.jobs.models import FINISHED_STATUSES, Job, JobOutput, JobStatus
from tremplin.web.jobs.registry import get_handler

logger = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a handler's progress callback when a cancel was requested."""


def job_enqueue(*, kind: str, params: dict | None = None, label: str = "", user=None, sync: bool = False) -> Job:
    """Create a job and hand it to the django-q2 broker (after the surrounding transaction commits)."""
    get_handler(kind)  # fail fast on an unknown kind
    job = Job.objects.create(kind=kind, params=params or {}, label=label or kind, created_by=user)
    if sync:
        job_run(job_id=str(job.pk))
        job.refresh_from_db()
        return job
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("tremplin.web.jobs.services.job_run", str(job.pk),
                                             task_name=f"{kind}:{job.pk}", group=kind))
    return job


def _progress_callback(job_id):
    last = {"value": -1.0}

    def progress(fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        percent = int(round(fraction * 100))
        if percent == last["value"] and not message:
            return
        last["value"] = percent
        Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
            progress=min(percent, 99), message=(message or "")[:300], updated_at=timezone.now()
        )
        if Job.objects.filter(pk=job_id, cancel_requested=True).exists():
            raise JobCancelled

    return progress


def job_run(*, job_id: str) -> str:
    """Run a job (called by the worker). Idempotent: a finished job is not run again.

    A re-delivered job (worker killed mid-run) starts over; its result and output are written with the
    final status in one transaction, guarded so that only one completion can ever be recorded.
    """
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return "missing"
    if job.status in FINISHED_STATUSES:
        return job.status
    if job.cancel_requested:
        Job.objects.filter(pk=job_id).exclude(status__in=FINISHED_STATUSES).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now(), message="cancelled before start")
        return JobStatus.CANCELLED
    attempts = job.attempts + 1
    Job.objects.filter(pk=job_id).update(status=JobStatus.RUNNING, attempts=attempts, started_at=timezone.now(),
                                         progress=0, message="", error="")
    handler = get_handler(job.kind)
    try:
        result = handler(dict(job.params), _progress_callback(job_id))
    except JobCancelled:
        Job.objects.filter(pk=job_id).exclude(status__in=FINISHED_STATUSES).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now())
        return JobStatus.CANCELLED
    except Exception as exc:  # the job failed: record the error for the user
        logger.exception("job %s failed", job_id)
        Job.objects.filter(pk=job_id).exclude(status__in=FINISHED_STATUSES).update(
            status=JobStatus.FAILED, finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=5)}"[:10000],
        )
        return JobStatus.FAILED
    with transaction.atomic():
        finished = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempts).update(
            status=JobStatus.SUCCEEDED, progress=100, finished_at=timezone.now(), result=result, message="")
        if finished:
            JobOutput.objects.create(job_id=job_id, payload=result or {})
    return JobStatus.SUCCEEDED if finished else "superseded"


def job_cancel(*, job: Job) -> Job:
    """Ask a job to stop: queued jobs stop at once, running ones at their next progress report."""
    Job.objects.filter(pk=job.pk).exclude(status__in=FINISHED_STATUSES).update(cancel_requested=True)
    Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now())
    job.refresh_from_db()
    return job
