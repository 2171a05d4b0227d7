"""Writes for jobs: enqueue, run (called by the worker), cancel."""

from __future__ import annotations

import logging
import traceback

from django.conf import settings
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

    # job_run is keyword-only: the job id travels as a keyword argument.
    transaction.on_commit(lambda: async_task("tremplin.web.jobs.services.job_run", job_id=str(job.pk),
                                             task_name=f"{kind[:60]}:{job.pk}", group=kind))
    return job


def _progress_callback(job_id, attempts: int):
    """The `progress(fraction, message)` callback given to handlers; raises JobCancelled on request."""
    last = {"value": -1.0}

    def progress(fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        percent = int(round(fraction * 100))
        if percent == last["value"] and not message:
            return
        last["value"] = percent
        Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempts).update(
            progress=min(percent, 99), message=(message or "")[:300], updated_at=timezone.now()
        )
        if Job.objects.filter(pk=job_id, cancel_requested=True).exists():
            raise JobCancelled

    return progress


def _max_attempts() -> int:
    """Deliveries allowed before giving up on a job whose worker keeps dying (0: no limit)."""
    return int(getattr(settings, "Q_CLUSTER", {}).get("max_attempts", 0) or 0)


def _mark_failed(job_id, error: str, *, attempts: int) -> None:
    """Record a failure, unless the job finished or a newer attempt took over meanwhile."""
    Job.objects.filter(pk=job_id, attempts=attempts).exclude(status__in=FINISHED_STATUSES).update(
        status=JobStatus.FAILED, finished_at=timezone.now(), error=error[:10000])


def job_run(*, job_id: str) -> str:
    """Run a job (called by the worker). Idempotent: a finished job is not run again.

    A re-delivered job (worker killed mid-run) starts over; its result and output are written with the
    final status in one transaction, guarded so that only one completion can ever be recorded.
    Every outcome is recorded on the job (never left "running" by an exception escaping to the broker);
    a job whose worker died `Q_CLUSTER["max_attempts"]` times is marked failed instead of run again.
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
    limit = _max_attempts()
    if limit and job.attempts >= limit:
        _mark_failed(job_id, f"Gave up after {job.attempts} attempts: the worker running this job stopped "
                             f"(killed or timed out) each time.", attempts=job.attempts)
        return JobStatus.FAILED
    attempts = job.attempts + 1
    # Claim this attempt only if nothing happened since we read the job (another delivery finishing it).
    claimed = Job.objects.filter(pk=job_id, attempts=job.attempts).exclude(status__in=FINISHED_STATUSES).update(
        status=JobStatus.RUNNING, attempts=attempts, started_at=timezone.now(), progress=0, message="", error="")
    if not claimed:
        return "superseded"
    try:
        handler = get_handler(job.kind)
        result = handler(dict(job.params), _progress_callback(job_id, attempts))
    except JobCancelled:
        Job.objects.filter(pk=job_id, attempts=attempts).exclude(status__in=FINISHED_STATUSES).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now())
        return JobStatus.CANCELLED
    except Exception as exc:  # the job failed: record the error for the user
        logger.exception("job %s failed", job_id)
        _mark_failed(job_id, f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=5)}", attempts=attempts)
        return JobStatus.FAILED
    try:
        with transaction.atomic():
            finished = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempts).update(
                status=JobStatus.SUCCEEDED, progress=100, finished_at=timezone.now(), result=result,
                message="")
            if finished:
                JobOutput.objects.create(job_id=job_id, payload=result or {})
    except Exception as exc:  # e.g. a result that is not JSON-serialisable
        logger.exception("job %s: could not save its result", job_id)
        _mark_failed(job_id, f"Could not save the result: {type(exc).__name__}: {exc}", attempts=attempts)
        return JobStatus.FAILED
    return JobStatus.SUCCEEDED if finished else "superseded"


def job_cancel(*, job: Job) -> Job:
    """Ask a job to stop: queued jobs stop at once, running ones at their next progress report."""
    Job.objects.filter(pk=job.pk).exclude(status__in=FINISHED_STATUSES).update(cancel_requested=True)
    Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now())
    job.refresh_from_db()
    return job
