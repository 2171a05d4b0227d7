"""Background jobs with status and progress (run by django-q2 workers, at-least-once)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("en attente")
    RUNNING = "running", _("en cours")
    SUCCEEDED = "succeeded", _("terminée")
    FAILED = "failed", _("échouée")
    CANCELLED = "cancelled", _("annulée")


FINISHED_STATUSES = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}


class Job(models.Model):
    """One unit of background work. `kind` names a registered handler (see jobs/registry.py).

    Handlers must be idempotent: a job whose worker died is delivered again by the broker.
    The result is written together with the final status, in one transaction, exactly once.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("type"), max_length=100)
    label = models.CharField(_("libellé"), max_length=200, blank=True)
    params = models.JSONField(_("paramètres"), default=dict, blank=True)
    status = models.CharField(_("statut"), max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED,
                              db_index=True)
    progress = models.PositiveSmallIntegerField(_("avancement (%)"), default=0)
    message = models.CharField(_("message"), max_length=300, blank=True)
    error = models.TextField(_("erreur"), blank=True)
    result = models.JSONField(_("résultat"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    cancel_requested = models.BooleanField(_("annulation demandée"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("lancée par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="jobs")
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    started_at = models.DateTimeField(_("démarrée le"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finie le"), null=True, blank=True)
    updated_at = models.DateTimeField(_("mise à jour"), auto_now=True)

    # Progress updates are frequent: they are not worth an audit entry each.
    audit_ignore_fields = ("progress", "message", "updated_at")

    class Meta:
        verbose_name = _("tâche de fond")
        verbose_name_plural = _("tâches de fond")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.label or self.kind

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def error_summary(self) -> str:
        """The error's first line (the traceback that follows is shown to platform admins only)."""
        return self.error.strip().splitlines()[0] if self.error.strip() else ""


class JobOutput(models.Model):
    """Rows a job writes as its output (one per job at most): used to prove exactly-once completion."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="output")
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"output of {self.job_id}"
