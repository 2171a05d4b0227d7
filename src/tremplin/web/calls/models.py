"""Calls for solutions, proposals, reviewer assignments, reviews and decisions (thin models)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tremplin.web.accounts.models import Organisation, Sector, Territory


def all_sectors() -> list[str]:
    return list(Sector.values)


class Phase(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    OPEN = "open", _("Ouvert aux propositions")
    REVIEW = "review", _("Évaluation")
    DELIBERATION = "deliberation", _("Délibération")
    RESULTS = "results", _("Résultats")


class Visibility(models.TextChoices):
    NEVER = "never", _("jamais")
    AFTER_OWN = "after_own", _("après avoir soumis sa propre évaluation")
    ALWAYS = "always", _("toujours")


class Call(models.Model):
    """A call for solutions built from problems; its phases follow from the dates (server-side)."""

    title = models.CharField(_("titre"), max_length=200)
    text = models.TextField(_("texte de l'appel"))
    problems = models.ManyToManyField("problems.Problem", verbose_name=_("problématiques"), related_name="calls",
                                      blank=True)
    eligible_sectors = models.JSONField(_("secteurs éligibles"), default=all_sectors)
    eligible_territories = models.ManyToManyField(
        Territory, verbose_name=_("territoires éligibles"), related_name="+", blank=True,
        help_text=_("Aucun : tous les territoires. Un territoire inclut ceux qu'il contient."))
    budget_envelope = models.DecimalField(_("enveloppe budgétaire (€)"), max_digits=14, decimal_places=2,
                                          validators=[MinValueValidator(0)])
    max_amount_per_proposal = models.DecimalField(_("montant maximal par proposition (€)"), max_digits=14,
                                                  decimal_places=2, validators=[MinValueValidator(0)])
    opens_at = models.DateTimeField(_("ouverture des propositions"))
    review_starts_at = models.DateTimeField(_("clôture des propositions et début de l'évaluation"))
    deliberation_starts_at = models.DateTimeField(_("fin de l'évaluation et début de la délibération"))
    results_at = models.DateTimeField(_("date des résultats"))
    reviewers_per_proposal = models.PositiveSmallIntegerField(
        _("évaluateurs par proposition"), default=3, validators=[MinValueValidator(1), MaxValueValidator(20)])
    blind_review = models.BooleanField(_("évaluation à l'aveugle"), default=True,
                                       help_text=_("Les évaluateurs ne voient pas l'identité des candidats."))
    visibility_during_review = models.CharField(
        _("avis des autres évaluateurs pendant l'évaluation"), max_length=16, choices=Visibility.choices,
        default=Visibility.AFTER_OWN)
    visibility_after_review = models.CharField(
        _("avis des autres évaluateurs après l'évaluation"), max_length=16, choices=Visibility.choices,
        default=Visibility.ALWAYS)
    decisions_released_at = models.DateTimeField(_("décisions publiées le"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("créé par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("appel de solutions")
        verbose_name_plural = _("appels de solutions")
        ordering = ["-opens_at", "-pk"]

    def __str__(self) -> str:
        return self.title

    def phase_at(self, when=None) -> str:
        """The phase at `when` (default: now); time-zone aware comparisons."""
        when = when or timezone.now()
        if when < self.opens_at:
            return Phase.DRAFT
        if when < self.review_starts_at:
            return Phase.OPEN
        if when < self.deliberation_starts_at:
            return Phase.REVIEW
        if when < self.results_at:
            return Phase.DELIBERATION
        return Phase.RESULTS

    @property
    def phase(self) -> str:
        return self.phase_at()

    def get_phase_display(self) -> str:
        return str(Phase(self.phase).label)

    @property
    def released(self) -> bool:
        return self.decisions_released_at is not None


class Criterion(models.Model):
    """A criterion of the call's evaluation grid, scored 0–4 with a rubric."""

    call = models.ForeignKey(Call, verbose_name=_("appel"), on_delete=models.CASCADE, related_name="criteria")
    name = models.CharField(_("critère"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    weight = models.DecimalField(_("poids"), max_digits=6, decimal_places=2, default=1,
                                 validators=[MinValueValidator(0)])
    rubric = models.JSONField(_("grille 0–4"), default=list, blank=True,
                              help_text=_("Cinq descriptions, du niveau 0 au niveau 4."))
    order = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        verbose_name = _("critère")
        verbose_name_plural = _("critères")
        ordering = ["call", "order", "pk"]

    def __str__(self) -> str:
        return self.name


class EvidenceLevel(models.TextChoices):
    IDEA = "idea", _("Idée / concept")
    PROTOTYPE = "prototype", _("Prototype")
    PILOT = "pilot", _("Pilote réalisé")
    EVALUATED = "evaluated", _("Évaluation publiée")
    DEPLOYED = "deployed", _("Déployé à grande échelle ailleurs")


class ProposalStatus(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    SUBMITTED = "submitted", _("Soumise")
    WITHDRAWN = "withdrawn", _("Retirée")


class Proposal(models.Model):
    """An innovator's answer to a call, on behalf of an organisation (with partners)."""

    call = models.ForeignKey(Call, verbose_name=_("appel"), on_delete=models.PROTECT, related_name="proposals")
    title = models.CharField(_("titre"), max_length=200)
    summary = models.TextField(_("résumé"), max_length=2000)
    description = models.TextField(_("description"))
    organisation = models.ForeignKey(Organisation, verbose_name=_("organisation porteuse"), on_delete=models.PROTECT,
                                     related_name="proposals")
    partners = models.ManyToManyField(Organisation, verbose_name=_("organisations partenaires"),
                                      related_name="partner_proposals", blank=True)
    territories = models.ManyToManyField(Territory, verbose_name=_("territoires visés"), related_name="+",
                                         blank=True)
    requested_amount = models.DecimalField(_("montant demandé (€)"), max_digits=14, decimal_places=2, default=0)
    evidence_level = models.CharField(_("niveau de preuve"), max_length=16, choices=EvidenceLevel.choices,
                                      default=EvidenceLevel.IDEA)
    status = models.CharField(_("statut"), max_length=16, choices=ProposalStatus.choices,
                              default=ProposalStatus.DRAFT, db_index=True)
    submitted_at = models.DateTimeField(_("soumise le"), null=True, blank=True)
    selected_at = models.DateTimeField(
        _("retenue le"), null=True, blank=True,
        help_text=_("Renseigné à la publication des décisions : la proposition peut devenir une expérimentation."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("créée par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("mise à jour le"), auto_now=True)

    class Meta:
        verbose_name = _("proposition")
        verbose_name_plural = _("propositions")
        ordering = ["call", "pk"]
        indexes = [models.Index(fields=["call", "status"])]

    def __str__(self) -> str:
        # No applicant identity here: this text reaches the audit log and notifications (blind review).
        return f"#{self.pk} {self.title}"


class BudgetLine(models.Model):
    proposal = models.ForeignKey(Proposal, verbose_name=_("proposition"), on_delete=models.CASCADE,
                                 related_name="budget_lines")
    label = models.CharField(_("poste"), max_length=200)
    amount = models.DecimalField(_("montant (€)"), max_digits=14, decimal_places=2,
                                 validators=[MinValueValidator(0)])
    order = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        verbose_name = _("ligne budgétaire")
        verbose_name_plural = _("lignes budgétaires")
        ordering = ["proposal", "order", "pk"]

    def __str__(self) -> str:
        return f"{self.label}: {self.amount}"


def attachment_path(instance, filename: str) -> str:
    # A random name: the original file name (which may identify the applicant) is kept in the database only.
    return f"calls/{instance.proposal.call_id}/{uuid.uuid4().hex}.pdf"


class Attachment(models.Model):
    """A PDF attached to a proposal, stored in the private media directory and streamed by a checked view."""

    proposal = models.ForeignKey(Proposal, verbose_name=_("proposition"), on_delete=models.CASCADE,
                                 related_name="attachments")
    file = models.FileField(_("fichier"), upload_to=attachment_path, max_length=300)
    original_name = models.CharField(_("nom du fichier"), max_length=255)
    size = models.PositiveIntegerField(_("taille (octets)"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("déposée par"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(_("déposée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("pièce jointe")
        verbose_name_plural = _("pièces jointes")
        ordering = ["proposal", "pk"]

    def __str__(self) -> str:
        return f"#{self.pk} ({self.proposal_id})"


class ConflictStatus(models.TextChoices):
    REQUESTED = "requested", _("en attente du responsable de programme")
    ACCEPTED = "accepted", _("acceptée")
    DISMISSED = "dismissed", _("classée sans suite")


class Conflict(models.Model):
    """A reviewer's declared conflict of interest, for one proposal or a whole organisation.

    A conflict on an assigned proposal without a submitted review, while reviews are not final, is accepted at
    once (the assignment and draft review go). Any other conflict is a request the programme manager accepts or
    dismisses (`services.conflict_decide`); an organisation conflict never changes the reviewer's queue (it would
    tell them which proposal is that organisation's): see the calls README, "Conflicts of interest".
    """

    call = models.ForeignKey(Call, verbose_name=_("appel"), on_delete=models.CASCADE, related_name="conflicts")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("évaluateur"), on_delete=models.CASCADE,
                                 related_name="call_conflicts")
    proposal = models.ForeignKey(Proposal, verbose_name=_("proposition"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="conflicts")
    organisation = models.ForeignKey(Organisation, verbose_name=_("organisation"), null=True, blank=True,
                                     on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("motif"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("déclaré le"), auto_now_add=True)
    status = models.CharField(_("statut"), max_length=16, choices=ConflictStatus.choices,
                              default=ConflictStatus.REQUESTED)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("décidé par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   help_text=_("Vide pour un conflit accepté d'office."))
    decided_at = models.DateTimeField(_("décidé le"), null=True, blank=True)
    decision_note = models.CharField(_("note du responsable"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("conflit d'intérêts")
        verbose_name_plural = _("conflits d'intérêts")
        ordering = ["call", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(proposal__isnull=False, organisation__isnull=True)
                           | models.Q(proposal__isnull=True, organisation__isnull=False)),
                name="calls_conflict_one_target"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} ≠ {self.proposal_id or ''}{self.organisation_id or ''}"


class AssignmentSource(models.TextChoices):
    AUTO = "auto", _("automatique")
    MANUAL = "manual", _("manuelle")
    CSV = "csv", _("import CSV")


class Assignment(models.Model):
    proposal = models.ForeignKey(Proposal, verbose_name=_("proposition"), on_delete=models.CASCADE,
                                 related_name="assignments")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("évaluateur"), on_delete=models.CASCADE,
                                 related_name="call_assignments")
    source = models.CharField(_("origine"), max_length=8, choices=AssignmentSource.choices,
                              default=AssignmentSource.MANUAL)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("affectée par"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("affectée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("affectation")
        verbose_name_plural = _("affectations")
        ordering = ["proposal", "pk"]
        constraints = [models.UniqueConstraint(fields=["proposal", "reviewer"], name="calls_unique_assignment")]

    def __str__(self) -> str:
        return f"{self.proposal_id} → {self.reviewer_id}"


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    SUBMITTED = "submitted", _("Soumise")


class Review(models.Model):
    """One reviewer's evaluation of one assigned proposal."""

    proposal = models.ForeignKey(Proposal, verbose_name=_("proposition"), on_delete=models.CASCADE,
                                 related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("évaluateur"), on_delete=models.CASCADE,
                                 related_name="call_reviews")
    status = models.CharField(_("statut"), max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT,
                              db_index=True)
    comment = models.TextField(_("commentaire général"), blank=True)
    weighted_score = models.FloatField(_("note pondérée (0–4)"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("soumise le"), null=True, blank=True)
    updated_at = models.DateTimeField(_("mise à jour le"), auto_now=True)
    # Kept, with its scores, when a conflict of its reviewer is accepted: it no longer counts (ranking, z-scores,
    # other reviewers' view) but stays in the exports and the audit log. Its reviewer's pages do not change.
    withdrawn_at = models.DateTimeField(_("retirée le"), null=True, blank=True)
    withdrawn_for = models.ForeignKey(Conflict, verbose_name=_("retirée pour le conflit"), null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="withdrawn_reviews")

    class Meta:
        verbose_name = _("évaluation")
        verbose_name_plural = _("évaluations")
        ordering = ["proposal", "pk"]
        constraints = [models.UniqueConstraint(fields=["proposal", "reviewer"], name="calls_unique_review")]
        # Covers the ranking's aggregate (count and mean of the submitted, not withdrawn scores per proposal)
        # without reading the table, and sums each proposal's scores in a fixed order.
        indexes = [models.Index(fields=["proposal", "status", "weighted_score", "withdrawn_at"],
                                name="calls_review_scoring_idx")]

    def __str__(self) -> str:
        return f"{self.proposal_id} / {self.reviewer_id}"


class Score(models.Model):
    review = models.ForeignKey(Review, verbose_name=_("évaluation"), on_delete=models.CASCADE, related_name="scores")
    criterion = models.ForeignKey(Criterion, verbose_name=_("critère"), on_delete=models.CASCADE,
                                  related_name="scores")
    score = models.PositiveSmallIntegerField(_("note (0–4)"), validators=[MaxValueValidator(4)])
    comment = models.TextField(_("commentaire"), blank=True)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        ordering = ["review", "criterion__order", "criterion__pk"]
        constraints = [models.UniqueConstraint(fields=["review", "criterion"], name="calls_unique_score")]

    def __str__(self) -> str:
        return f"{self.criterion_id}: {self.score}"


class ReviewerNote(models.Model):
    """A private note between the reviewers of the same proposal (and the programme managers)."""

    proposal = models.ForeignKey(Proposal, verbose_name=_("proposition"), on_delete=models.CASCADE,
                                 related_name="reviewer_notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("auteur"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(_("note"), max_length=5000)
    created_at = models.DateTimeField(_("écrite le"), auto_now_add=True)

    class Meta:
        verbose_name = _("note entre évaluateurs")
        verbose_name_plural = _("notes entre évaluateurs")
        ordering = ["proposal", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.proposal_id} #{self.pk}"


class Outcome(models.TextChoices):
    SELECTED = "selected", _("Retenue")
    RESERVE = "reserve", _("Liste complémentaire")
    REJECTED = "rejected", _("Non retenue")


class Decision(models.Model):
    """The programme's decision on a proposal: held until the call's decisions are released together."""

    proposal = models.OneToOneField(Proposal, verbose_name=_("proposition"), on_delete=models.CASCADE,
                                    related_name="decision")
    outcome = models.CharField(_("décision"), max_length=16, choices=Outcome.choices)
    reason = models.TextField(_("motif"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("décidée par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(_("décidée le"), auto_now=True)
    notified_at = models.DateTimeField(_("notifiée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("décision")
        verbose_name_plural = _("décisions")
        ordering = ["proposal"]

    def __str__(self) -> str:
        return f"{self.proposal_id}: {self.outcome}"


class ScoreCache(models.Model):
    """Cache of a call's reviewer statistics (count, mean, standard deviation of each reviewer's submitted
    scores), the part of the z-scores that needs every review of the call. Bookkeeping only: written with
    `bulk_create`/`update` (not audited), rebuilt by `selectors.reviewer_stats` when stale.

    `version` is bumped in the same transaction as every change of one of the call's reviews or proposals
    (signals below); the statistics are valid when `stats_version == version`.
    """

    call = models.OneToOneField(Call, primary_key=True, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveBigIntegerField(default=0)
    stats_version = models.PositiveBigIntegerField(null=True, blank=True)
    reviewer_stats = models.JSONField(default=dict, blank=True)  # {reviewer id: [n, mean, sd]}

    audit_ignore_fields = ("version", "stats_version", "reviewer_stats")

    def __str__(self) -> str:
        return f"{self.call_id} v{self.version}"


def score_cache_invalidate(call_id) -> None:
    """Mark the call's reviewer statistics stale. The row is created first, then bumped: the bump holds the
    row until the writer's transaction ends, so a concurrent rebuild either sees the change or sees the new
    version afterwards (and rebuilds again)."""
    if call_id is None:
        return
    ScoreCache.objects.bulk_create([ScoreCache(call_id=call_id)], ignore_conflicts=True)
    ScoreCache.objects.filter(call_id=call_id).update(version=models.F("version") + 1)


@receiver(post_save, sender=Review, dispatch_uid="calls_review_saved_score_cache")
@receiver(post_delete, sender=Review, dispatch_uid="calls_review_deleted_score_cache")
def _review_changed(sender, instance: Review, raw=False, **kwargs) -> None:
    if raw:
        return
    if Review.proposal.is_cached(instance):
        call_id = instance.proposal.call_id
    else:
        call_id = Proposal.objects.filter(pk=instance.proposal_id).values_list("call_id", flat=True).first()
    score_cache_invalidate(call_id)


@receiver(post_save, sender=Proposal, dispatch_uid="calls_proposal_saved_score_cache")
@receiver(post_delete, sender=Proposal, dispatch_uid="calls_proposal_deleted_score_cache")
def _proposal_changed(sender, instance: Proposal, raw=False, **kwargs) -> None:
    # A status change (submitted, withdrawn) changes which reviews count.
    if not raw:
        score_cache_invalidate(instance.call_id)
