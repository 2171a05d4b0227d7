"""Horizon scanning: signals of coming innovations, their periodic reviews, the scoring panel (thin models)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tremplin.web.core.validators import validate_url_lines


class Horizon(models.TextChoices):
    """When the innovation is expected to reach care (the radar's rings, inner to outer)."""

    SHORT = "short", _("≤ 3 ans")
    MEDIUM = "medium", _("3 à 5 ans")
    LONG = "long", _("5 à 10 ans")


class SignalDomain(models.TextChoices):
    """The radar's sectors."""

    AI = "ai", _("Intelligence artificielle")
    DIGITAL = "digital", _("Santé numérique et télésanté")
    GENOMICS = "genomics", _("Génomique et médecine de précision")
    DEVICES = "devices", _("Dispositifs médicaux et robotique")
    THERAPIES = "therapies", _("Médicaments et thérapies")
    DATA = "data", _("Données et interopérabilité")
    ORGANISATION = "organisation", _("Organisation et modèles de soins")


class Likelihood(models.IntegerChoices):
    LOW = 1, _("Faible")
    MODERATE = 2, _("Moyenne")
    HIGH = 3, _("Élevée")
    VERY_HIGH = 4, _("Très élevée")


class ImpactLevel(models.IntegerChoices):
    NONE = 0, _("Aucun")
    LOW = 1, _("Faible")
    MODERATE = 2, _("Modéré")
    HIGH = 3, _("Fort")
    MAJOR = 4, _("Transformateur")


class SignalStatus(models.TextChoices):
    WATCHING = "watching", _("En veille")
    ARCHIVED = "archived", _("Archivé")


IMPACT_FIELDS = ("impact_workforce", "impact_pathways", "impact_costs", "impact_skills")


def _impact(label):
    return models.PositiveSmallIntegerField(label, choices=ImpactLevel.choices, default=ImpactLevel.NONE)


class Signal(models.Model):
    """An innovation that may change care in 3, 5 or 10 years, watched by a steward and scored by the panel."""

    audit_ignore_fields = ("updated_at",)

    title = models.CharField(_("innovation"), max_length=200)
    summary = models.TextField(_("résumé"), max_length=2000,
                               help_text=_("Publié tel quel si le signal est public : aucune donnée personnelle."))
    domain = models.CharField(_("domaine"), max_length=20, choices=SignalDomain.choices)
    horizon = models.CharField(_("horizon"), max_length=10, choices=Horizon.choices)
    likelihood = models.PositiveSmallIntegerField(_("probabilité"), choices=Likelihood.choices)
    impact_workforce = _impact(_("impact sur les effectifs et les métiers"))
    impact_pathways = _impact(_("impact sur les parcours de soins"))
    impact_costs = _impact(_("impact sur les coûts"))
    impact_skills = _impact(_("transfert de compétences entre professions"))
    impact_notes = models.TextField(
        _("effets attendus sur l'organisation des soins"), blank=True,
        help_text=_("Par exemple : un prédiagnostic par IA qui déplace des tâches entre professions."))
    source_links = models.TextField(_("sources"), blank=True, help_text=_("Une adresse web par ligne."))
    problems = models.ManyToManyField("problems.Problem", verbose_name=_("problématiques liées"),
                                      related_name="signals", blank=True)
    calls = models.ManyToManyField("calls.Call", verbose_name=_("appels liés"), related_name="signals", blank=True)
    is_public = models.BooleanField(_("public"), default=False,
                                    help_text=_("Affiché dans la veille publique, sans données personnelles."))
    status = models.CharField(_("statut"), max_length=10, choices=SignalStatus.choices, default=SignalStatus.WATCHING,
                              db_index=True)
    steward = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("responsable de veille"), null=True,
                                blank=True, on_delete=models.SET_NULL, related_name="stewarded_signals",
                                help_text=_("Reçoit le rappel quand le signal n'a pas été revu à temps."))
    last_reviewed_on = models.DateField(_("dernière revue le"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("créé par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("mis à jour le"), auto_now=True)

    class Meta:
        verbose_name = _("signal")
        verbose_name_plural = _("signaux")
        ordering = ["domain", "horizon", "title", "pk"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        """Sources: one http(s) address per line (never javascript: or data: links)."""
        validate_url_lines(self.source_links, field="source_links")

    @property
    def source_link_list(self) -> list[str]:
        return [line.strip() for line in (self.source_links or "").splitlines() if line.strip()]

    @property
    def impact_level(self) -> int:
        """The strongest expected impact on care organisation (0–4): the radar's marker size."""
        return max(getattr(self, name) for name in IMPACT_FIELDS)

    def impacts(self) -> list[tuple[str, int, str]]:
        """(label, level, level label) of each dimension of the impact on care organisation."""
        return [(self._meta.get_field(name).verbose_name, getattr(self, name), ImpactLevel(getattr(self, name)).label)
                for name in IMPACT_FIELDS]


class SignalReview(models.Model):
    """A periodic review of a signal: is it still current, are its horizon and likelihood still right?"""

    signal = models.ForeignKey(Signal, verbose_name=_("signal"), on_delete=models.CASCADE, related_name="reviews")
    reviewed_on = models.DateField(_("revu le"))
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("revu par"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    horizon = models.CharField(_("horizon"), max_length=10, choices=Horizon.choices)
    likelihood = models.PositiveSmallIntegerField(_("probabilité"), choices=Likelihood.choices)
    note = models.TextField(_("note de revue"), max_length=5000, blank=True)

    class Meta:
        verbose_name = _("revue de signal")
        verbose_name_plural = _("revues de signaux")
        ordering = ["signal", "-reviewed_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.signal_id} @ {self.reviewed_on}"


class ReviewReminder(models.Model):
    """The reminder sent for one due date of a signal's review: at most one per (signal, due date)."""

    signal = models.ForeignKey(Signal, verbose_name=_("signal"), on_delete=models.CASCADE, related_name="reminders")
    due_on = models.DateField(_("revue attendue le"))
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("destinataire"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField(_("envoyé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("rappel de revue")
        verbose_name_plural = _("rappels de revue")
        ordering = ["signal", "-due_on"]
        constraints = [models.UniqueConstraint(fields=["signal", "due_on"], name="horizon_one_reminder_per_due_date")]

    def __str__(self) -> str:
        return f"{self.signal_id} @ {self.due_on}"


class PanelMember(models.Model):
    """A member of the horizon-scanning panel: scores the signals."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("membre"), on_delete=models.CASCADE,
                                related_name="horizon_panel")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("ajouté par"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(_("ajouté le"), auto_now_add=True)

    class Meta:
        verbose_name = _("membre du panel de veille")
        verbose_name_plural = _("membres du panel de veille")
        ordering = ["user__display_name", "user__email"]

    def __str__(self) -> str:
        return str(self.user_id)


def _criterion(label):
    return models.PositiveSmallIntegerField(label, validators=[MinValueValidator(0), MaxValueValidator(4)])


class SignalScore(models.Model):
    """One panel member's score of a signal on the panel's criteria (0–4 each; `score` is their weighted mean)."""

    signal = models.ForeignKey(Signal, verbose_name=_("signal"), on_delete=models.CASCADE, related_name="scores")
    scorer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("membre du panel"), on_delete=models.CASCADE,
                               related_name="horizon_scores")
    likelihood = _criterion(_("probabilité à l'horizon annoncé (0–4)"))
    impact = _criterion(_("ampleur de l'impact sur l'organisation des soins (0–4)"))
    relevance = _criterion(_("pertinence pour les problématiques du réseau (0–4)"))
    score = models.FloatField(_("note (0–4)"))
    comment = models.TextField(_("commentaire"), max_length=5000, blank=True)
    updated_at = models.DateTimeField(_("mise à jour le"), auto_now=True)

    class Meta:
        verbose_name = _("note de signal")
        verbose_name_plural = _("notes de signaux")
        ordering = ["signal", "pk"]
        constraints = [models.UniqueConstraint(fields=["signal", "scorer"], name="horizon_one_score_per_scorer")]

    def __str__(self) -> str:
        return f"{self.signal_id} / {self.scorer_id}: {self.score:.2f}"
