"""Experiments of the portfolio: stages, gates, budget, milestones, KPIs, evaluation plan, deadlines.

Thin models: rules live in services.py (writes) and selectors.py / deadlines.py / alerts.py (reads).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tremplin.web.accounts.models import Organisation, Territory
from tremplin.web.problems.models import CareDomain

# A deadline's offsets stay within a century, so that every resolved date is in the calendar.
MAX_OFFSET_MONTHS = 1200
MAX_OFFSET_DAYS = 36_600


class Stage(models.IntegerChoices):
    TRAINING = 1, _("1 · Formation et confiance")
    RESEARCH = 2, _("2 · Recherche et technologies clés")
    MATURATION = 3, _("3 · Maturation")
    REAL_LIFE = 4, _("4 · Expérimentation en vie réelle")
    DEPLOYMENT = 5, _("5 · Déploiement à grande échelle")


class ExperimentStatus(models.TextChoices):
    ACTIVE = "active", _("En cours")
    STOPPED = "stopped", _("Arrêtée")


class LegalFramework(models.TextChoices):
    ARTICLE_51 = "article_51", _("Dérogation « article 51 »")
    RESEARCH_PROTOCOL = "research_protocol", _("Protocole de recherche")
    COMMON_LAW = "common_law", _("Droit commun")
    OTHER = "other", _("Autre cadre")


class FundingType(models.TextChoices):
    PUBLIC = "public", _("Public")
    PRIVATE = "private", _("Privé")
    MIXED = "mixed", _("Mixte")


class Experiment(models.Model):
    title = models.CharField(_("titre"), max_length=200)
    summary = models.TextField(_("résumé"), blank=True)
    lead_organisation = models.ForeignKey(Organisation, verbose_name=_("organisation porteuse"),
                                          on_delete=models.PROTECT, related_name="led_experiments")
    partners = models.ManyToManyField(Organisation, verbose_name=_("partenaires"), related_name="partner_experiments",
                                      blank=True)
    proposal = models.OneToOneField("calls.Proposal", verbose_name=_("proposition d'origine"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="experiment")
    care_domain = models.CharField(_("domaine de soins"), max_length=32, choices=CareDomain.choices,
                                   default=CareDomain.OTHER)
    stage = models.PositiveSmallIntegerField(_("étape"), choices=Stage.choices, default=Stage.TRAINING, db_index=True)
    status = models.CharField(_("statut"), max_length=16, choices=ExperimentStatus.choices,
                              default=ExperimentStatus.ACTIVE, db_index=True)
    ended_on = models.DateField(_("arrêtée le"), null=True, blank=True)
    territories = models.ManyToManyField(Territory, verbose_name=_("territoires"), related_name="experiments",
                                         blank=True)
    start_date = models.DateField(_("date de début"), null=True, blank=True)
    legal_framework = models.CharField(_("cadre juridique"), max_length=32, choices=LegalFramework.choices,
                                       default=LegalFramework.COMMON_LAW)
    authorisation_end = models.DateField(_("fin de l'autorisation"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("créée par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("mise à jour le"), auto_now=True)

    audit_ignore_fields = ("updated_at",)

    class Meta:
        verbose_name = _("expérimentation")
        verbose_name_plural = _("expérimentations")
        ordering = ["stage", "title"]

    def __str__(self) -> str:
        return self.title


class TestSite(models.Model):
    """A named test site (a "tiers-lieu" of experimentation) in a territory."""

    __test__ = False  # not a pytest class
    experiment = models.ForeignKey(Experiment, verbose_name=_("expérimentation"), on_delete=models.CASCADE,
                                   related_name="sites")
    name = models.CharField(_("nom"), max_length=200)
    territory = models.ForeignKey(Territory, verbose_name=_("territoire"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("lieu d'expérimentation")
        verbose_name_plural = _("lieux d'expérimentation")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BudgetLine(models.Model):
    experiment = models.ForeignKey(Experiment, verbose_name=_("expérimentation"), on_delete=models.CASCADE,
                                   related_name="budget_lines")
    label = models.CharField(_("poste"), max_length=200)
    funder = models.CharField(_("financeur"), max_length=200, blank=True)
    funding_type = models.CharField(_("type de financement"), max_length=16, choices=FundingType.choices,
                                    default=FundingType.PUBLIC)
    committed = models.DecimalField(_("engagé (€)"), max_digits=14, decimal_places=2, default=0,
                                    validators=[MinValueValidator(0)])
    spent = models.DecimalField(_("dépensé (€)"), max_digits=14, decimal_places=2, default=0,
                                validators=[MinValueValidator(0)])

    class Meta:
        verbose_name = _("ligne budgétaire")
        verbose_name_plural = _("lignes budgétaires")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(committed__gte=0, spent__gte=0),
                                   name="portfolio_budgetline_not_negative"),
        ]

    def __str__(self) -> str:
        return self.label


class Milestone(models.Model):
    experiment = models.ForeignKey(Experiment, verbose_name=_("expérimentation"), on_delete=models.CASCADE,
                                   related_name="milestones")
    name = models.CharField(_("jalon"), max_length=200)
    due_date = models.DateField(_("échéance"))
    done_on = models.DateField(_("atteint le"), null=True, blank=True)

    class Meta:
        verbose_name = _("jalon")
        verbose_name_plural = _("jalons")
        ordering = ["due_date", "pk"]
        constraints = [models.UniqueConstraint(fields=["experiment", "name"], name="portfolio_milestone_unique_name")]

    def __str__(self) -> str:
        return self.name

    def state_on(self, today) -> str:
        """done, late (due date passed, not done) or due."""
        if self.done_on is not None:
            return "done"
        return "late" if self.due_date < today else "due"


class Kpi(models.Model):
    experiment = models.ForeignKey(Experiment, verbose_name=_("expérimentation"), on_delete=models.CASCADE,
                                   related_name="kpis")
    name = models.CharField(_("indicateur"), max_length=200)
    unit = models.CharField(_("unité"), max_length=50, blank=True)
    target = models.DecimalField(_("cible"), max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("indicateur de suivi")
        verbose_name_plural = _("indicateurs de suivi")
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["experiment", "name"], name="portfolio_kpi_unique_name")]

    def __str__(self) -> str:
        return self.name


class KpiValue(models.Model):
    kpi = models.ForeignKey(Kpi, verbose_name=_("indicateur"), on_delete=models.CASCADE, related_name="values")
    date = models.DateField(_("date"))
    value = models.DecimalField(_("valeur"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("valeur d'indicateur")
        verbose_name_plural = _("valeurs d'indicateurs")
        ordering = ["kpi", "date"]
        constraints = [models.UniqueConstraint(fields=["kpi", "date"], name="portfolio_kpivalue_unique_date")]

    def __str__(self) -> str:
        return f"{self.kpi} {self.date}: {self.value}"


class GateCriterion(models.Model):
    """Criteria template of a stage gate (edited by programme managers)."""

    stage = models.PositiveSmallIntegerField(_("étape"), choices=Stage.choices, db_index=True)
    text = models.CharField(_("critère"), max_length=300)
    order = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        verbose_name = _("critère de passage")
        verbose_name_plural = _("critères de passage")
        ordering = ["stage", "order", "pk"]

    def __str__(self) -> str:
        return self.text


class GateDecision(models.TextChoices):
    ADVANCE = "advance", _("Passer à l'étape suivante")
    EXTEND = "extend", _("Prolonger l'étape")
    ADAPT = "adapt", _("Adapter")
    STOP = "stop", _("Arrêter")


class GateReview(models.Model):
    experiment = models.ForeignKey(Experiment, verbose_name=_("expérimentation"), on_delete=models.CASCADE,
                                   related_name="gate_reviews")
    stage = models.PositiveSmallIntegerField(_("étape revue"), choices=Stage.choices)
    stage_after = models.PositiveSmallIntegerField(_("étape après la revue"), choices=Stage.choices)
    decision = models.CharField(_("décision"), max_length=16, choices=GateDecision.choices)
    rationale = models.TextField(_("motifs"))
    deciders = models.CharField(_("décideurs"), max_length=500)
    criteria_met = models.JSONField(_("critères remplis"), default=list, blank=True)
    decided_on = models.DateField(_("date de la décision"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("enregistrée par"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("enregistrée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("revue de passage")
        verbose_name_plural = _("revues de passage")
        ordering = ["experiment", "decided_on", "pk"]

    def __str__(self) -> str:
        return f"{self.experiment} · {self.get_stage_display()} · {self.get_decision_display()}"


class Design(models.TextChoices):
    DID = "did", _("Différence de différences")
    STAGGERED = "staggered", _("Déploiement échelonné")
    SYNTHETIC_CONTROL = "synthetic_control", _("Contrôle synthétique")
    ITS = "its", _("Série temporelle interrompue")


class EvaluationPlan(models.Model):
    """Registered before results exist; locked once data is in (`locked_at`), then changed by amendments."""

    experiment = models.OneToOneField(Experiment, verbose_name=_("expérimentation"), on_delete=models.CASCADE,
                                      related_name="evaluation_plan")
    primary_outcome = models.CharField(_("critère de jugement principal"), max_length=64)
    design = models.CharField(_("schéma d'évaluation"), max_length=32, choices=Design.choices, default=Design.DID)
    treated_territories = models.ManyToManyField(Territory, verbose_name=_("territoires expérimentateurs"),
                                                 related_name="+")
    comparison_territories = models.ManyToManyField(Territory, verbose_name=_("territoires de comparaison"),
                                                    related_name="+", blank=True)
    expected_effect = models.FloatField(_("effet attendu (relatif, ex. -0,10)"), default=-0.10)
    baseline_mean = models.FloatField(_("moyenne de référence"))
    baseline_sd = models.FloatField(_("écart-type de référence"))
    autocorrelation = models.FloatField(_("autocorrélation mensuelle"), default=0.0)
    pre_months = models.PositiveSmallIntegerField(_("mois avant l'intervention"), default=12)
    expand_criteria = models.TextField(_("critères pour généraliser"))
    stop_criteria = models.TextField(_("critères pour arrêter"))
    months_required = models.PositiveIntegerField(_("mois de suivi nécessaires"), null=True, blank=True)
    power_result = models.JSONField(_("calcul de puissance"), default=dict, blank=True)
    registered_at = models.DateTimeField(_("enregistré le"), auto_now_add=True)
    locked_at = models.DateTimeField(_("verrouillé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("plan d'évaluation")
        verbose_name_plural = _("plans d'évaluation")

    def __str__(self) -> str:
        return f"{self.experiment} · {self.primary_outcome}"


class PlanAmendment(models.Model):
    plan = models.ForeignKey(EvaluationPlan, verbose_name=_("plan"), on_delete=models.CASCADE,
                             related_name="amendments")
    changes = models.JSONField(_("modifications"))  # {field: [before, after]}
    reason = models.TextField(_("motif"))
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(_("le"), auto_now_add=True)

    class Meta:
        verbose_name = _("avenant au plan")
        verbose_name_plural = _("avenants au plan")
        ordering = ["plan", "changed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.plan} · {self.changed_at:%Y-%m-%d}"


class Deadline(models.Model):
    """A dated obligation: either a fixed date or relative to another deadline (months then days)."""

    experiment = models.ForeignKey(Experiment, verbose_name=_("expérimentation"), on_delete=models.CASCADE,
                                   related_name="deadlines")
    name = models.CharField(_("échéance"), max_length=200)
    fixed_date = models.DateField(_("date fixe"), null=True, blank=True)
    relative_to = models.ForeignKey("self", verbose_name=_("relative à"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="dependents")
    offset_months = models.IntegerField(_("décalage (mois)"), default=0, validators=[
        MinValueValidator(-MAX_OFFSET_MONTHS), MaxValueValidator(MAX_OFFSET_MONTHS)])
    offset_days = models.IntegerField(_("décalage (jours)"), default=0, validators=[
        MinValueValidator(-MAX_OFFSET_DAYS), MaxValueValidator(MAX_OFFSET_DAYS)])
    done_on = models.DateField(_("réalisée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("échéance")
        verbose_name_plural = _("échéances")
        ordering = ["experiment", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(fixed_date__isnull=False, relative_to__isnull=True)
                           | models.Q(fixed_date__isnull=True, relative_to__isnull=False)),
                name="portfolio_deadline_fixed_xor_relative"),
            models.CheckConstraint(
                condition=models.Q(offset_months__gte=-MAX_OFFSET_MONTHS, offset_months__lte=MAX_OFFSET_MONTHS,
                                   offset_days__gte=-MAX_OFFSET_DAYS, offset_days__lte=MAX_OFFSET_DAYS),
                name="portfolio_deadline_offsets_in_range"),
        ]

    def __str__(self) -> str:
        return self.name
