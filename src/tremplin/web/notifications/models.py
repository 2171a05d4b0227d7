"""E-mail templates, the outbox and mail log, follows and notifications (thin models)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

MAX_SUBJECT = 200
MAX_BODY = 20_000


class Language(models.TextChoices):
    FR = "fr", _("Français")
    EN = "en", _("English")


class MailTemplate(models.Model):
    """A programme manager's text for one kind of e-mail, in French and English: for one object (a call) when
    `scope` is set, platform-wide otherwise. Without a row the kind's default texts are used."""

    kind = models.CharField(_("type de courriel"), max_length=100)
    scope_type = models.ForeignKey(ContentType, verbose_name=_("type de l'objet"), null=True, blank=True,
                                   on_delete=models.CASCADE, related_name="+")
    scope_id = models.PositiveBigIntegerField(_("identifiant de l'objet"), null=True, blank=True)
    subject_fr = models.CharField(_("objet (français)"), max_length=MAX_SUBJECT)
    body_fr = models.TextField(_("texte (français)"), max_length=MAX_BODY)
    subject_en = models.CharField(_("objet (anglais)"), max_length=MAX_SUBJECT)
    body_en = models.TextField(_("texte (anglais)"), max_length=MAX_BODY)
    hold = models.BooleanField(_("relire dans la boîte d'envoi avant l'envoi"), default=False)
    options = models.JSONField(_("réglages"), default=dict, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("modifié par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    audit_ignore_fields = ("updated_at",)

    class Meta:
        verbose_name = _("modèle de courriel")
        verbose_name_plural = _("modèles de courriel")
        ordering = ["kind", "scope_type", "scope_id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "scope_type", "scope_id"], name="notifications_template_scoped",
                                    condition=models.Q(scope_type__isnull=False)),
            models.UniqueConstraint(fields=["kind"], name="notifications_template_platform",
                                    condition=models.Q(scope_type__isnull=True)),
            models.CheckConstraint(condition=models.Q(scope_type__isnull=True, scope_id__isnull=True)
                                   | models.Q(scope_type__isnull=False, scope_id__isnull=False),
                                   name="notifications_template_scope_complete"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.scope_type_id or ''}:{self.scope_id or ''}"

    def text(self, language: str) -> tuple[str, str]:
        if language == Language.EN:
            return self.subject_en, self.body_en
        return self.subject_fr, self.body_fr


class MailStatus(models.TextChoices):
    HELD = "held", _("à relire (boîte d'envoi)")
    QUEUED = "queued", _("en cours d'envoi")
    SENT = "sent", _("envoyé")
    FAILED = "failed", _("échec")
    CANCELLED = "cancelled", _("annulé")


class OutgoingMail(models.Model):
    """One e-mail to one recipient, rendered in the recipient's language when it was queued: the outbox (held
    ones) and the log of every mail the platform sends (sent, failed, cancelled ones stay)."""

    kind = models.CharField(_("type de courriel"), max_length=100, db_index=True)
    scope_type = models.ForeignKey(ContentType, verbose_name=_("type de l'objet"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    scope_id = models.PositiveBigIntegerField(_("identifiant de l'objet"), null=True, blank=True)
    template = models.ForeignKey(MailTemplate, verbose_name=_("modèle"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="mails",
                                 help_text=_("Vide : texte par défaut."))
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("destinataire"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    to_email = models.EmailField(_("adresse"))
    language = models.CharField(_("langue"), max_length=8, choices=Language.choices, default=Language.FR)
    subject = models.CharField(_("objet"), max_length=300)
    body = models.TextField(_("texte"))
    context = models.JSONField(_("valeurs des variables"), default=dict, blank=True)
    status = models.CharField(_("statut"), max_length=16, choices=MailStatus.choices, default=MailStatus.QUEUED,
                              db_index=True)
    # Set for mails that must go once (e.g. "reminder 7 days before the deadline of call 3 to reviewer 12").
    dedupe_key = models.CharField(_("clé d'unicité"), max_length=200, null=True, blank=True, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("créé par"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("envoi décidé par"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(_("erreur"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)

    audit_ignore_fields = ("attempts",)

    class Meta:
        verbose_name = _("courriel")
        verbose_name_plural = _("courriels")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["scope_type", "scope_id", "status"], name="notifications_mail_scope")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} → {self.to_email}"


class Follow(models.Model):
    """A user follows an object (a problem, a call): they are notified of its changes."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("utilisateur"), on_delete=models.CASCADE,
                             related_name="follows")
    target_type = models.ForeignKey(ContentType, verbose_name=_("type suivi"), on_delete=models.CASCADE,
                                    related_name="+")
    target_id = models.PositiveBigIntegerField(_("identifiant suivi"))
    created_at = models.DateTimeField(_("suivi depuis"), auto_now_add=True)

    class Meta:
        verbose_name = _("abonnement")
        verbose_name_plural = _("abonnements")
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["user", "target_type", "target_id"],
                                               name="notifications_one_follow")]
        indexes = [models.Index(fields=["target_type", "target_id"], name="notifications_follow_target")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.target_type_id}:{self.target_id}"


class Notification(models.Model):
    """What a follower is told (dashboard, then the e-mail digest). Derived data: written in bulk for every
    follower of an object whose change is itself in the audit log, so not audited row by row."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("destinataire"), on_delete=models.CASCADE,
                             related_name="notifications")
    event = models.CharField(_("événement"), max_length=64)
    params = models.JSONField(_("paramètres"), default=dict, blank=True)
    target_type = models.ForeignKey(ContentType, verbose_name=_("type de l'objet"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    target_id = models.PositiveBigIntegerField(_("identifiant de l'objet"), null=True, blank=True)
    url = models.CharField(_("lien"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("le"), auto_now_add=True)
    read_at = models.DateTimeField(_("lue le"), null=True, blank=True)
    digested_at = models.DateTimeField(_("incluse dans un résumé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"], name="notifications_unread"),
                   models.Index(fields=["digested_at", "user"], name="notifications_digest")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.event}"

    @property
    def message(self) -> str:
        from tremplin.web.notifications.registry import EVENTS

        event = EVENTS.get(self.event)
        return event.message(self.params) if event else self.event


class Digest(models.TextChoices):
    DAILY = "daily", _("chaque jour")
    WEEKLY = "weekly", _("chaque semaine")
    NEVER = "never", _("jamais (tableau de bord seulement)")


class NotificationPreference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("utilisateur"), on_delete=models.CASCADE,
                                related_name="notification_preference")
    language = models.CharField(_("langue des courriels"), max_length=8, choices=Language.choices,
                                default=Language.FR)
    digest = models.CharField(_("résumé par courriel"), max_length=8, choices=Digest.choices, default=Digest.DAILY)
    last_digest_at = models.DateTimeField(_("dernier résumé"), null=True, blank=True)

    audit_ignore_fields = ("last_digest_at",)

    class Meta:
        verbose_name = _("préférences de notification")
        verbose_name_plural = _("préférences de notification")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language}, {self.digest}"


class Checkpoint(models.Model):
    """When a periodic task last looked (e.g. for call phase changes): bookkeeping."""

    name = models.CharField(max_length=100, unique=True)
    at = models.DateTimeField()

    audit_ignore_fields = ("at",)

    def __str__(self) -> str:
        return f"{self.name}: {self.at:%Y-%m-%d %H:%M}"
