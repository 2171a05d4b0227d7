"""Datasets (validated care data kept as Parquet outside the database) and evaluation runs.

Thin models: writes live in services.py, the analysis in analysis.py (which only calls the engine). A run's
estimator is the name of one of the engine's registered estimators (`tremplin.engine.estimators()`): no
choices at the database level, the registry is the list (checked when a run is launched).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from tremplin.engine import EngineInputError, estimators, get_estimator


class DatasetFormat(models.TextChoices):
    OURS = "ours", _("Schéma Tremplin")
    OMOP = "omop", _("OMOP CDM")


class DatasetSource(models.TextChoices):
    UPLOAD = "upload", _("Fichier zip déposé")
    PATH = "path", _("Dossier sur le serveur")
    GENERATED = "generated", _("Région synthétique générée")


class DatasetStatus(models.TextChoices):
    PENDING = "pending", _("en attente de validation")
    VALIDATING = "validating", _("validation en cours")
    VALID = "valid", _("valide")
    INVALID = "invalid", _("invalide")
    FAILED = "failed", _("échec de la validation")


class Dataset(models.Model):
    """Care data registered by an evaluator. Valid data is copied as Parquet under DATASETS_DIR/<fingerprint>."""

    name = models.CharField(_("nom"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    format = models.CharField(_("format"), max_length=8, choices=DatasetFormat.choices, default=DatasetFormat.OURS)
    source = models.CharField(_("origine"), max_length=12, choices=DatasetSource.choices)
    source_path = models.CharField(_("chemin d'origine"), max_length=500, blank=True)
    status = models.CharField(_("statut"), max_length=12, choices=DatasetStatus.choices,
                              default=DatasetStatus.PENDING, db_index=True)
    fingerprint = models.CharField(_("empreinte (SHA-256)"), max_length=64, blank=True, db_index=True)
    storage = models.CharField(_("stockage"), max_length=200, blank=True,
                               help_text=_("Dossier relatif à DATASETS_DIR contenant les tables Parquet."))
    rows = models.JSONField(_("lignes par table"), default=dict, blank=True)
    report = models.JSONField(_("rapport de validation"), default=dict, blank=True)
    job = models.ForeignKey("jobs.Job", verbose_name=_("tâche de validation"), null=True, blank=True,
                            on_delete=models.SET_NULL, related_name="+")
    experiments = models.ManyToManyField("portfolio.Experiment", verbose_name=_("expérimentations liées"),
                                         related_name="datasets", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("déclaré par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("déclaré le"), auto_now_add=True)
    validated_at = models.DateTimeField(_("validé le"), null=True, blank=True)

    audit_ignore_fields = ("report", "rows")

    class Meta:
        verbose_name = _("jeu de données")
        verbose_name_plural = _("jeux de données")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_valid(self) -> bool:
        return self.status == DatasetStatus.VALID


def estimator_label(name: str) -> str:
    """A registered estimator's name in the active language (from the engine's registry); `name` otherwise."""
    try:
        return get_estimator(name).label(get_language())
    except EngineInputError:  # a run of an estimator no longer registered keeps its name
        return name


def estimator_choices() -> list[tuple[str, str]]:
    """The estimators offered for evaluation runs, as (name, label in the active language)."""
    return [(e.name, e.label(get_language())) for e in estimators(evaluation_runs=True)]


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("en attente")
    RUNNING = "running", _("en cours")
    SUCCEEDED = "succeeded", _("terminée")
    FAILED = "failed", _("échouée")
    CANCELLED = "cancelled", _("annulée")


class Run(models.Model):
    """One evaluation of an experiment's plan on a dataset; records everything needed to reproduce it."""

    plan = models.ForeignKey("portfolio.EvaluationPlan", verbose_name=_("plan d'évaluation"),
                             on_delete=models.PROTECT, related_name="runs")
    dataset = models.ForeignKey(Dataset, verbose_name=_("jeu de données"), on_delete=models.PROTECT,
                                related_name="runs")
    dataset_fingerprint = models.CharField(_("empreinte des données"), max_length=64)
    estimator = models.CharField(_("estimateur"), max_length=8)  # a registered name: see estimator_choices
    params = models.JSONField(_("paramètres"), default=dict)
    engine_version = models.CharField(_("version du moteur"), max_length=32)
    status = models.CharField(_("statut"), max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED,
                              db_index=True)
    job = models.ForeignKey("jobs.Job", verbose_name=_("tâche"), null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    result = models.JSONField(_("résultat"), null=True, blank=True)
    timings = models.JSONField(_("durées (s)"), default=dict, blank=True)
    error = models.TextField(_("erreur"), blank=True)
    started_at = models.DateTimeField(_("démarrée le"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finie le"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("lancée par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    published_at = models.DateTimeField(_("publiée le"), null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("publiée par"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    publication = models.JSONField(_("contenu publié (après contrôle du secret)"), null=True, blank=True)

    # Bulky computed content: not worth an audit entry (the status change is audited).
    audit_ignore_fields = ("result", "timings", "publication")

    class Meta:
        verbose_name = _("évaluation")
        verbose_name_plural = _("évaluations")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.plan} · {self.estimator_label} · {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def estimator_label(self) -> str:
        return estimator_label(self.estimator)

    @property
    def is_finished(self) -> bool:
        return self.status in {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}

    @property
    def is_published(self) -> bool:
        return self.published_at is not None
