"""Problems reported by the care network, endorsements, consultations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tremplin.web.accounts.models import Organisation, Territory


class CareDomain(models.TextChoices):
    CHRONIC_DISEASE = "chronic_disease", _("Maladies chroniques")
    ELDERLY_CARE = "elderly_care", _("Personnes âgées")
    MENTAL_HEALTH = "mental_health", _("Santé mentale")
    EMERGENCY_CARE = "emergency_care", _("Urgences")
    PRIMARY_CARE_ACCESS = "primary_care_access", _("Accès aux soins de premier recours")
    MEDICATION = "medication", _("Médicament")
    IMAGING = "imaging", _("Imagerie")
    PREVENTION = "prevention", _("Prévention")
    CARE_COORDINATION = "care_coordination", _("Coordination des soins")
    OTHER = "other", _("Autre")


class ProblemStatus(models.TextChoices):
    NEW = "new", _("Nouvelle")
    QUALIFIED = "qualified", _("Qualifiée")
    IN_CALL = "in_call", _("Dans un appel")
    ADDRESSED = "addressed", _("Traitée")
    MERGED = "merged", _("Fusionnée")
    DECLINED = "declined", _("Écartée")


class Problem(models.Model):
    """A problem the network meets, reported by a member organisation."""

    title = models.CharField(_("titre"), max_length=200)
    description = models.TextField(_("description"))
    domain = models.CharField(_("domaine de soins"), max_length=32, choices=CareDomain.choices)
    territories = models.ManyToManyField(Territory, verbose_name=_("territoires"), related_name="problems",
                                         blank=True)
    affected_population = models.PositiveIntegerField(_("population concernée (estimation)"), null=True,
                                                      blank=True)
    burden = models.TextField(_("fardeau actuel"), blank=True)
    burden_cost_eur = models.DecimalField(_("coût estimé (€ par an)"), max_digits=14, decimal_places=2,
                                          null=True, blank=True)
    evidence_links = models.TextField(_("liens vers des éléments de preuve"), blank=True,
                                      help_text=_("Une adresse par ligne."))
    status = models.CharField(_("statut"), max_length=20, choices=ProblemStatus.choices,
                              default=ProblemStatus.NEW, db_index=True)
    status_reason = models.TextField(_("motif du statut"), blank=True)
    merged_into = models.ForeignKey("self", verbose_name=_("fusionnée dans"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="merged_problems")
    organisation = models.ForeignKey(Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT,
                                     related_name="problems")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("signalée par"), null=True,
                                   on_delete=models.SET_NULL, related_name="problems")
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("mise à jour le"), auto_now=True)

    class Meta:
        verbose_name = _("problématique")
        verbose_name_plural = _("problématiques")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title
