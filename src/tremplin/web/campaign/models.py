"""Coalition and campaign: organisations rallied (approached → engaged → members), campaigns with goals, actions
and KPIs entered over time (thin models; the arithmetic is in metrics.py)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tremplin.web.accounts.models import Organisation


class MemberStatus(models.TextChoices):
    APPROACHED = "approached", _("Approchée")
    ENGAGED = "engaged", _("Engagée")
    MEMBER = "member", _("Membre")
    DECLINED = "declined", _("A décliné")


FUNNEL = (MemberStatus.APPROACHED, MemberStatus.ENGAGED, MemberStatus.MEMBER)


class GovernanceRole(models.TextChoices):
    NONE = "none", _("Aucun")
    CHAIR = "chair", _("Présidence ou coprésidence")
    STEERING = "steering", _("Comité directeur")
    SPOKESPERSON = "spokesperson", _("Porte-parole")
    WORKING_GROUP = "working_group", _("Groupe de travail")
    FUNDER = "funder", _("Partenaire financier")


class InteractionKind(models.TextChoices):
    MEETING = "meeting", _("Rencontre")
    CALL = "call", _("Appel téléphonique")
    EMAIL = "email", _("Courriel")
    EVENT = "event", _("Événement")
    LETTER = "letter", _("Lettre ou entente")
    OTHER = "other", _("Autre")


class Coalition(models.Model):
    """Organisations rallied around a cause, led by one organisation (whose programme managers run it)."""

    name = models.CharField(_("nom"), max_length=200, unique=True)
    purpose = models.TextField(_("raison d'être"), max_length=5000, blank=True)
    lead_organisation = models.ForeignKey(Organisation, verbose_name=_("organisation porteuse"),
                                          on_delete=models.PROTECT, related_name="led_coalitions")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("créée par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("coalition")
        verbose_name_plural = _("coalitions")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CoalitionMember(models.Model):
    """An organisation in the coalition's funnel, with its contact person, commitments and governance role."""

    coalition = models.ForeignKey(Coalition, verbose_name=_("coalition"), on_delete=models.CASCADE,
                                  related_name="members")
    organisation = models.ForeignKey(Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT,
                                     related_name="coalition_memberships")
    status = models.CharField(_("statut"), max_length=12, choices=MemberStatus.choices,
                              default=MemberStatus.APPROACHED, db_index=True)
    status_changed_on = models.DateField(_("statut depuis le"))
    contact_name = models.CharField(_("personne contact"), max_length=200, blank=True)
    contact_role = models.CharField(_("fonction de la personne contact"), max_length=200, blank=True)
    contact_email = models.EmailField(_("courriel de la personne contact"), blank=True)
    commitments = models.TextField(_("engagements"), max_length=5000, blank=True,
                                   help_text=_("Ce que l'organisation apporte : signature, porte-parole, "
                                               "financement, relais auprès de ses membres…"))
    governance_role = models.CharField(_("rôle dans la gouvernance"), max_length=16, choices=GovernanceRole.choices,
                                       default=GovernanceRole.NONE)
    created_at = models.DateTimeField(_("ajoutée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("organisation de la coalition")
        verbose_name_plural = _("organisations de la coalition")
        ordering = ["coalition", "organisation__name"]
        constraints = [models.UniqueConstraint(fields=["coalition", "organisation"],
                                               name="campaign_one_member_per_organisation")]

    def __str__(self) -> str:
        return f"{self.coalition_id}: {self.organisation_id} ({self.status})"


class Interaction(models.Model):
    """One exchange with an organisation of the coalition (and the status change it led to, if any)."""

    member = models.ForeignKey(CoalitionMember, verbose_name=_("organisation"), on_delete=models.CASCADE,
                               related_name="interactions")
    on = models.DateField(_("date"))
    kind = models.CharField(_("type"), max_length=10, choices=InteractionKind.choices)
    summary = models.TextField(_("compte rendu"), max_length=5000)
    status_before = models.CharField(_("statut avant"), max_length=12, choices=MemberStatus.choices, blank=True)
    status_after = models.CharField(_("statut après"), max_length=12, choices=MemberStatus.choices, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("par"), null=True, blank=True,
                           on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("saisie le"), auto_now_add=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ["member", "-on", "-pk"]

    def __str__(self) -> str:
        return f"{self.member_id} @ {self.on}"


class Currency(models.TextChoices):
    CAD = "CAD", _("dollar canadien ($ CA)")
    EUR = "EUR", _("euro (€)")
    USD = "USD", _("dollar américain ($ US)")


class Metric(models.TextChoices):
    """KPIs entered over time, as totals to date (cumulative: they never go down)."""

    UNIQUE_VISITS = "unique_visits", _("Visites uniques du site web")
    COMPLETE_VIEWS = "complete_views", _("Vues complètes des vidéos")
    UNIQUE_REACH = "unique_reach", _("Personnes uniques atteintes")
    IMPRESSIONS = "impressions", _("Impressions")
    PRESS_INTERVIEWS = "press_interviews", _("Entrevues de presse")
    BUDGET = "budget", _("Budget dépensé")


COUNT_METRICS = tuple(m for m in Metric.values if m != Metric.BUDGET)


class Campaign(models.Model):
    """A campaign of a coalition, compared with a previous one."""

    coalition = models.ForeignKey(Coalition, verbose_name=_("coalition"), on_delete=models.PROTECT,
                                  related_name="campaigns")
    name = models.CharField(_("nom"), max_length=200)
    objective = models.TextField(_("objectif"), max_length=5000, blank=True)
    starts_on = models.DateField(_("début"))
    ends_on = models.DateField(_("fin"), null=True, blank=True)
    currency = models.CharField(_("devise"), max_length=3, choices=Currency.choices, default=Currency.EUR)
    planned_budget = models.DecimalField(_("budget prévu"), max_digits=14, decimal_places=2, null=True, blank=True,
                                         validators=[MinValueValidator(0)])
    previous = models.ForeignKey("self", verbose_name=_("campagne précédente (comparaison)"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="next_campaigns")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("créée par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("campagne")
        verbose_name_plural = _("campagnes")
        ordering = ["-starts_on", "pk"]
        constraints = [models.UniqueConstraint(fields=["coalition", "name"], name="campaign_unique_name")]

    def __str__(self) -> str:
        return self.name


class Goal(models.Model):
    """A target for one KPI by a date (e.g. before an election)."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campagne"), on_delete=models.CASCADE,
                                 related_name="goals")
    metric = models.CharField(_("indicateur"), max_length=20, choices=[(m, Metric(m).label) for m in COUNT_METRICS])
    target = models.DecimalField(_("cible"), max_digits=14, decimal_places=2, validators=[MinValueValidator(1)])
    target_date = models.DateField(_("échéance"))
    label = models.CharField(_("repère"), max_length=200, blank=True,
                             help_text=_("Par exemple : avant la campagne électorale."))

    class Meta:
        verbose_name = _("objectif")
        verbose_name_plural = _("objectifs")
        ordering = ["campaign", "target_date", "metric"]
        constraints = [models.UniqueConstraint(fields=["campaign", "metric", "target_date"],
                                               name="campaign_one_goal_per_metric_and_date")]

    def __str__(self) -> str:
        return f"{self.metric} ≥ {self.target} @ {self.target_date}"


class Channel(models.TextChoices):
    WEB = "web", _("Site web")
    VIDEO = "video", _("Vidéo")
    SOCIAL = "social", _("Réseaux sociaux")
    PRESS = "press", _("Relations de presse")
    EVENT = "event", _("Événement")
    OTHER = "other", _("Autre")


class Action(models.Model):
    """Something the campaign does, and what it costs."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campagne"), on_delete=models.CASCADE,
                                 related_name="actions")
    name = models.CharField(_("action"), max_length=200)
    channel = models.CharField(_("canal"), max_length=10, choices=Channel.choices)
    starts_on = models.DateField(_("début"))
    ends_on = models.DateField(_("fin"), null=True, blank=True)
    cost = models.DecimalField(_("coût"), max_digits=14, decimal_places=2, default=0,
                               validators=[MinValueValidator(0)])
    notes = models.TextField(_("notes"), max_length=5000, blank=True)

    class Meta:
        verbose_name = _("action")
        verbose_name_plural = _("actions")
        ordering = ["campaign", "starts_on", "pk"]

    def __str__(self) -> str:
        return self.name


class KpiSource(models.TextChoices):
    MANUAL = "manual", _("saisie")
    CSV = "csv", _("import CSV")
    API = "api", _("API")


class KpiEntry(models.Model):
    """A KPI's total to date (cumulative since the campaign's start)."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campagne"), on_delete=models.CASCADE,
                                 related_name="kpi_entries")
    metric = models.CharField(_("indicateur"), max_length=20, choices=Metric.choices)
    on = models.DateField(_("date"))
    value = models.DecimalField(_("total à date"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)])
    source = models.CharField(_("origine"), max_length=8, choices=KpiSource.choices, default=KpiSource.MANUAL)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("saisi par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    entered_at = models.DateTimeField(_("saisi le"), auto_now=True)

    class Meta:
        verbose_name = _("valeur d'indicateur")
        verbose_name_plural = _("valeurs d'indicateurs")
        ordering = ["campaign", "on", "metric"]
        constraints = [models.UniqueConstraint(fields=["campaign", "metric", "on"],
                                               name="campaign_one_value_per_metric_and_date")]

    def __str__(self) -> str:
        return f"{self.metric}@{self.on}={self.value}"
