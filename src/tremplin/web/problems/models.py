"""Problems reported by the care network, endorsements, consultations."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tremplin.web.accounts.models import Organisation, Territory

MAX_POPULATION = 2_147_483_647  # the column's range on PostgreSQL (SQLite would take 64 bits)


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

    audit_ignore_fields = ("updated_at",)

    title = models.CharField(_("titre"), max_length=200)
    description = models.TextField(_("description"))
    domain = models.CharField(_("domaine de soins"), max_length=32, choices=CareDomain.choices)
    territories = models.ManyToManyField(Territory, verbose_name=_("territoires"), related_name="problems",
                                         blank=True)
    affected_population = models.PositiveIntegerField(_("population concernée (estimation)"), null=True,
                                                      blank=True, validators=[MaxValueValidator(MAX_POPULATION)])
    burden = models.TextField(_("fardeau actuel"), blank=True)
    burden_cost_eur = models.DecimalField(_("coût estimé (€ par an)"), max_digits=14, decimal_places=2,
                                          null=True, blank=True, validators=[MinValueValidator(0)])
    evidence_links = models.TextField(_("liens vers des éléments de preuve"), blank=True,
                                      help_text=_("Une adresse par ligne."))
    status = models.CharField(_("statut"), max_length=20, choices=ProblemStatus.choices,
                              default=ProblemStatus.NEW, db_index=True)
    status_reason = models.TextField(_("motif du statut"), blank=True)
    strategic_fit = models.PositiveSmallIntegerField(
        _("adéquation stratégique (0 à 4)"), default=0,
        validators=[MinValueValidator(0), MaxValueValidator(4)],
        help_text=_("Fixée par la personne responsable du programme : 0 = hors priorités, 4 = priorité majeure."),
    )
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
        constraints = [
            models.CheckConstraint(condition=models.Q(burden_cost_eur__isnull=True) | models.Q(burden_cost_eur__gte=0),
                                   name="problems_problem_burden_cost_not_negative"),
            models.CheckConstraint(condition=models.Q(strategic_fit__gte=0, strategic_fit__lte=4),
                                   name="problems_problem_strategic_fit_0_4"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        """Evidence links: one http(s) address per line (never javascript: or data: links)."""
        from django.core.exceptions import ValidationError
        from django.core.validators import URLValidator

        validate = URLValidator(schemes=["http", "https"])
        for number, line in enumerate((self.evidence_links or "").splitlines(), start=1):
            if line.strip():
                try:
                    validate(line.strip())
                except ValidationError as exc:
                    raise ValidationError({"evidence_links": _("Ligne %(n)s : adresse web invalide (http ou https).")
                                           % {"n": number}}) from exc

    @property
    def evidence_link_list(self) -> list[str]:
        return [line.strip() for line in self.evidence_links.splitlines() if line.strip()]

    @property
    def is_open(self) -> bool:
        """Open problems can be endorsed, merged and ranked (not merged, declined nor addressed)."""
        return self.status in OPEN_STATUSES


OPEN_STATUSES = (ProblemStatus.NEW, ProblemStatus.QUALIFIED, ProblemStatus.IN_CALL)
STRATEGIC_FIT_MAX = 4


class Endorsement(models.Model):
    """An organisation's support for a problem reported by another organisation (one per organisation)."""

    problem = models.ForeignKey(Problem, verbose_name=_("problématique"), on_delete=models.CASCADE,
                                related_name="endorsements")
    organisation = models.ForeignKey(Organisation, verbose_name=_("organisation"), on_delete=models.CASCADE,
                                     related_name="problem_endorsements")
    comment = models.TextField(_("commentaire"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("par"), null=True,
                                   on_delete=models.SET_NULL, related_name="problem_endorsements")
    created_at = models.DateTimeField(_("le"), auto_now_add=True)

    class Meta:
        verbose_name = _("appui")
        verbose_name_plural = _("appuis")
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["problem", "organisation"], name="one_endorsement_per_organisation"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} → {self.problem}"


class PriorityWeights(models.Model):
    """Weights of the prioritisation score (a singleton, pk=1, edited by programme managers)."""

    audit_ignore_fields = ("updated_at",)

    burden = models.DecimalField(_("poids du fardeau (coût)"), max_digits=5, decimal_places=2, default=1,
                                 validators=[MinValueValidator(0)])
    population = models.DecimalField(_("poids de la population concernée"), max_digits=5, decimal_places=2, default=1,
                                     validators=[MinValueValidator(0)])
    endorsements = models.DecimalField(_("poids des appuis"), max_digits=5, decimal_places=2, default=1,
                                       validators=[MinValueValidator(0)])
    strategic_fit = models.DecimalField(_("poids de l'adéquation stratégique"), max_digits=5, decimal_places=2,
                                        default=1, validators=[MinValueValidator(0)])
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("modifié par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        verbose_name = _("pondération de la priorisation")
        verbose_name_plural = _("pondérations de la priorisation")
        constraints = [
            models.CheckConstraint(condition=models.Q(burden__gte=0, population__gte=0, endorsements__gte=0,
                                                      strategic_fit__gte=0),
                                   name="problems_priorityweights_not_negative"),
        ]

    def __str__(self) -> str:
        return str(self._meta.verbose_name)

    @classmethod
    def load(cls) -> PriorityWeights:
        weights, _created = cls.objects.get_or_create(pk=1)
        return weights


class Consultation(models.Model):
    """A structured public consultation, open between two instants (time-zone aware).

    Access policy: everyone (even anonymous visitors) reads the consultation and its tallies; every
    signed-in user may answer once (one ConsultationResponse per user, enforced by a constraint).
    Anonymous answers are not accepted: a per-browser guard would be trivial to bypass.
    Free-text answers are read by programme managers only; exports are pseudonymous.
    """

    title = models.CharField(_("titre"), max_length=200)
    description = models.TextField(_("présentation"), blank=True)
    problem = models.ForeignKey(Problem, verbose_name=_("problématique"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="consultations")
    starts_at = models.DateTimeField(_("ouverture"))
    ends_at = models.DateTimeField(_("clôture"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("créée par"), null=True,
                                   on_delete=models.SET_NULL, related_name="consultations")
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("consultation")
        verbose_name_plural = _("consultations")
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                   name="consultation_ends_after_start"),
        ]

    def __str__(self) -> str:
        return self.title


class QuestionKind(models.TextChoices):
    CHOICE = "choice", _("Choix unique")
    SCALE = "scale", _("Échelle de 1 à 5")
    TEXT = "text", _("Texte libre")


class Question(models.Model):
    consultation = models.ForeignKey(Consultation, verbose_name=_("consultation"), on_delete=models.CASCADE,
                                     related_name="questions")
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)
    text = models.CharField(_("question"), max_length=300)
    kind = models.CharField(_("type"), max_length=10, choices=QuestionKind.choices, default=QuestionKind.CHOICE)
    choices = models.TextField(_("choix proposés"), blank=True, help_text=_("Un choix par ligne (choix unique)."))
    required = models.BooleanField(_("réponse obligatoire"), default=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["consultation", "position", "pk"]

    def __str__(self) -> str:
        return self.text

    @property
    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]


class ConsultationResponse(models.Model):
    """One respondent's answers; a signed-in user answers a consultation once."""

    consultation = models.ForeignKey(Consultation, verbose_name=_("consultation"), on_delete=models.CASCADE,
                                     related_name="responses")
    respondent = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("répondant"), on_delete=models.CASCADE,
                                   related_name="consultation_responses")
    submitted_at = models.DateTimeField(_("envoyée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("réponse à une consultation")
        verbose_name_plural = _("réponses aux consultations")
        ordering = ["submitted_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["consultation", "respondent"], name="one_response_per_respondent"),
        ]

    def __str__(self) -> str:
        return f"{self.consultation} #{self.pk}"


class Answer(models.Model):
    response = models.ForeignKey(ConsultationResponse, verbose_name=_("réponse"), on_delete=models.CASCADE,
                                 related_name="answers")
    question = models.ForeignKey(Question, verbose_name=_("question"), on_delete=models.CASCADE,
                                 related_name="answers")
    choice = models.CharField(_("choix"), max_length=200, blank=True)
    scale = models.PositiveSmallIntegerField(_("note"), null=True, blank=True)
    text = models.TextField(_("texte"), blank=True)

    class Meta:
        verbose_name = _("réponse à une question")
        verbose_name_plural = _("réponses aux questions")
        constraints = [
            models.UniqueConstraint(fields=["response", "question"], name="one_answer_per_question"),
        ]

    def __str__(self) -> str:
        return self.value

    @property
    def value(self) -> str:
        if self.scale is not None:
            return str(self.scale)
        return self.choice or self.text


class CommentStatus(models.TextChoices):
    PUBLISHED = "published", _("publié")
    HIDDEN = "hidden", _("masqué par la modération")


class ProblemComment(models.Model):
    """A comment on a problem, published at once and moderated by programme managers afterwards (anyone can flag
    a comment; a manager hides it with a reason, or keeps it)."""

    problem = models.ForeignKey(Problem, verbose_name=_("problématique"), on_delete=models.CASCADE,
                                related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("auteur"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="problem_comments")
    text = models.TextField(_("commentaire"), max_length=3000)
    status = models.CharField(_("statut"), max_length=16, choices=CommentStatus.choices,
                              default=CommentStatus.PUBLISHED, db_index=True)
    created_at = models.DateTimeField(_("écrit le"), auto_now_add=True)
    moderated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("modéré par"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    moderated_at = models.DateTimeField(_("modéré le"), null=True, blank=True)
    moderation_reason = models.CharField(_("motif de la modération"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("commentaire")
        verbose_name_plural = _("commentaires")
        ordering = ["problem", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.problem_id} #{self.pk}"


class CommentFlag(models.Model):
    """A user's report of a comment to the moderators (once per user); resolved when a manager decides."""

    comment = models.ForeignKey(ProblemComment, verbose_name=_("commentaire"), on_delete=models.CASCADE,
                                related_name="flags")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("signalé par"), on_delete=models.CASCADE,
                             related_name="+")
    reason = models.CharField(_("motif du signalement"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("signalé le"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("traité le"), null=True, blank=True)

    class Meta:
        verbose_name = _("signalement")
        verbose_name_plural = _("signalements")
        ordering = ["comment", "created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["comment", "user"], name="problems_one_flag_per_user")]

    def __str__(self) -> str:
        return f"{self.comment_id} ⚑ {self.user_id}"
