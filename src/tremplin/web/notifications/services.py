"""Writes for e-mail and notifications: templates, the outbox, sending, follows, notifications, digests.

Any app queues a mail with `mail_queue(kind=..., recipients=..., context=...)`: it is rendered in each
recipient's language from the template in force (the object's own, else the platform's, else the kind's
default), logged as an `OutgoingMail`, then sent at once or held in the outbox for a manager to review.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tremplin.web.core.audit import write_entry
from tremplin.web.core.models import AuditAction
from tremplin.web.notifications import registry, templating
from tremplin.web.notifications.models import (
    MAX_BODY,
    MAX_SUBJECT,
    Checkpoint,
    Digest,
    Follow,
    Language,
    MailStatus,
    MailTemplate,
    Notification,
    NotificationPreference,
    OutgoingMail,
)

logger = logging.getLogger(__name__)
TEXT_FIELDS = ("subject_fr", "body_fr", "subject_en", "body_en")
SEND_CHUNK = 200


# --- templates -------------------------------------------------------------------------------------------------


def _scope_key(scope) -> tuple[ContentType | None, int | None]:
    if scope is None:
        return None, None
    return ContentType.objects.get_for_model(scope), scope.pk


def template_for(*, kind: str, scope=None) -> MailTemplate | None:
    """The template in force: the object's own, else the platform-wide one, else None (the kind's default)."""
    if scope is not None:
        scope_type, scope_id = _scope_key(scope)
        found = MailTemplate.objects.filter(kind=kind, scope_type=scope_type, scope_id=scope_id).first()
        if found is not None:
            return found
    return MailTemplate.objects.filter(kind=kind, scope_type__isnull=True).first()


def template_values(*, kind: str, scope=None) -> dict:
    """The texts, hold flag and options in force, and where they come from ("scope", "platform", "default")."""
    mail_kind = registry.kind(kind)
    template = template_for(kind=kind, scope=scope)
    if template is not None:
        source = "scope" if template.scope_id is not None else "platform"
        return {**{f: getattr(template, f) for f in TEXT_FIELDS}, "hold": template.hold,
                "options": {**_default_options(mail_kind), **template.options}, "source": source}
    fr, en = mail_kind.default("fr"), mail_kind.default("en")
    return {"subject_fr": fr.subject, "body_fr": fr.body, "subject_en": en.subject, "body_en": en.body,
            "hold": mail_kind.hold, "options": _default_options(mail_kind), "source": "default"}


def _default_options(mail_kind: registry.MailKind) -> dict:
    return dict(mail_kind.option_defaults) if mail_kind.option_defaults else {}


def template_errors(*, kind: str, values: Mapping[str, str]) -> dict[str, list[str]]:
    """Errors per field of the four texts (missing text, unknown placeholder, malformed syntax)."""
    allowed = list(registry.kind(kind).placeholders)
    errors: dict[str, list[str]] = {}
    for name in TEXT_FIELDS:
        text = values.get(name) or ""
        problems = [] if text.strip() else [_("Ce texte est obligatoire (français et anglais).")]
        problems += templating.template_errors(text, allowed)
        if "\x00" in text:
            problems.append(_("caractère nul interdit"))
        limit = MAX_SUBJECT if name.startswith("subject") else MAX_BODY
        if len(text) > limit:
            problems.append(_("%(n)s caractères au plus.") % {"n": limit})
        if name.startswith("subject") and ("\n" in text or "\r" in text):
            problems.append(_("L'objet tient sur une ligne."))
        if problems:
            errors[name] = problems
    return errors


def mail_template_save(*, kind: str, scope=None, subject_fr: str, body_fr: str, subject_en: str, body_en: str,
                       hold: bool | None = None, options: Mapping | None = None, by=None) -> MailTemplate:
    """Save the template of `kind` for `scope` (None: platform-wide). Unknown placeholders are refused."""
    mail_kind = registry.kind(kind)
    if scope is not None and (mail_kind.scope is None
                              or registry.SCOPES[mail_kind.scope].model != scope._meta.label_lower):
        raise ValidationError(_("Ce type de courriel ne se règle pas pour cet objet."))
    values = {"subject_fr": subject_fr, "body_fr": body_fr, "subject_en": subject_en, "body_en": body_en}
    errors = template_errors(kind=kind, values=values)
    cleaned_options = {}
    if mail_kind.clean_options is not None:
        try:
            cleaned_options = mail_kind.clean_options(dict(options or {}))
        except ValidationError as exc:
            errors.update(exc.message_dict if hasattr(exc, "error_dict") else {"options": exc.messages})
    if errors:
        raise ValidationError(errors)
    scope_type, scope_id = _scope_key(scope)
    template = MailTemplate.objects.filter(kind=kind, scope_type=scope_type, scope_id=scope_id).first() \
        or MailTemplate(kind=kind, scope_type=scope_type, scope_id=scope_id)
    for name, value in values.items():
        setattr(template, name, value.strip() if name.startswith("subject") else value.replace("\r\n", "\n"))
    template.hold = mail_kind.hold if hold is None else bool(hold)
    template.options = cleaned_options
    template.updated_by = by
    template.full_clean()
    template.save()
    return template


def mail_template_reset(*, kind: str, scope=None) -> bool:
    """Back to the platform's (or default) texts for `scope`: the object's own template is deleted."""
    scope_type, scope_id = _scope_key(scope)
    qs = MailTemplate.objects.filter(kind=kind, scope_type=scope_type, scope_id=scope_id) if scope is not None \
        else MailTemplate.objects.filter(kind=kind, scope_type__isnull=True)
    template = qs.first()
    if template is None:
        return False
    template.delete()
    return True


# --- rendering and queueing ------------------------------------------------------------------------------------


def absolute_url(path: str) -> str:
    """`path` prefixed with SITE_URL (the platform's public address) when it is set."""
    base = getattr(settings, "SITE_URL", "") or ""
    return f"{base.rstrip('/')}{path}" if path.startswith("/") else path


def _resolve(value) -> str:
    if callable(value):
        value = value()
    return "" if value is None else str(value)


def render_texts(subject: str, body: str, context: Mapping[str, object]) -> tuple[str, str]:
    """Subject on one line (at most 300 characters) and body, with their placeholders replaced."""
    subject = " ".join(templating.render(subject, context).split())[:300]
    return subject, templating.render(body, context)


def mail_render(*, kind: str, language: str, context: Mapping[str, object], scope=None,
                values: Mapping | None = None) -> tuple[str, str]:
    """Subject and body of `kind` in `language` for `context` (values resolved in that language)."""
    values = values or template_values(kind=kind, scope=scope)
    language = language if language in registry.LANGUAGES else "fr"
    with translation.override(language):
        resolved = {k: _resolve(v) for k, v in context.items()}
    return render_texts(values[f"subject_{language}"], values[f"body_{language}"], resolved)


def languages_of(users: Iterable) -> dict[int, str]:
    """Each user's e-mail language (their preference, else the platform's language)."""
    ids = [u.pk for u in users]
    chosen = dict(NotificationPreference.objects.filter(user_id__in=ids).values_list("user_id", "language"))
    default = settings.LANGUAGE_CODE if settings.LANGUAGE_CODE in registry.LANGUAGES else "fr"
    return {pk: chosen.get(pk, default) for pk in ids}


def mail_queue(*, kind: str, recipients: Iterable, context: Mapping | Callable[[object], Mapping],
               scope=None, by=None, hold: bool | None = None, dedupe_key: str | Callable[[object], str] | None = None,
               send: bool = True) -> list[OutgoingMail]:
    """Render and log one mail per recipient (users with an e-mail address) in their language.

    `context` maps placeholders to values (strings, lazy translations or callables resolved in the recipient's
    language); `name` is the recipient's name unless given. Held mails (the template's setting unless `hold`
    is given) wait in the outbox; the others are sent now. A `dedupe_key` already used skips that recipient.
    """
    mail_kind = registry.kind(kind)
    values = template_values(kind=kind, scope=scope)
    template = template_for(kind=kind, scope=scope)
    held = values["hold"] if hold is None else hold
    recipients = [u for u in recipients if getattr(u, "email", "")]
    languages = languages_of(recipients)
    scope_type, scope_id = _scope_key(scope)
    created: list[OutgoingMail] = []
    for user in recipients:
        language = languages[user.pk]
        base = context(user) if callable(context) else context
        with translation.override(language):
            resolved = {"name": str(user), **{k: _resolve(v) for k, v in base.items()}}
        resolved = {k: v for k, v in resolved.items() if k in mail_kind.placeholders}
        subject, body = render_texts(values[f"subject_{language}"], values[f"body_{language}"], resolved)
        key = dedupe_key(user) if callable(dedupe_key) else dedupe_key
        mail = OutgoingMail(kind=kind, scope_type=scope_type, scope_id=scope_id, template=template, recipient=user,
                            to_email=user.email, language=language, subject=subject, body=body, context=resolved,
                            status=MailStatus.HELD if held else MailStatus.QUEUED, dedupe_key=key, created_by=by)
        if key is not None:
            if OutgoingMail.objects.filter(dedupe_key=key).exists():
                continue
            try:
                with transaction.atomic():
                    mail.save()
            except IntegrityError:  # a concurrent run queued it first
                continue
        else:
            mail.save()
        created.append(mail)
    if send and not held:
        mail_send(mails=created)
    return created


def mail_send(*, mails: Iterable[OutgoingMail], by=None) -> tuple[int, int]:
    """Send queued (or held) mails through the configured backend, one connection; each result is recorded.
    Returns (sent, failed)."""
    sent = failed = 0
    mails = [m for m in mails if m.status in (MailStatus.QUEUED, MailStatus.HELD)]
    if not mails:
        return 0, 0
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as exc:  # noqa: BLE001  (SMTP down: every mail records the error, none is lost)
        for mail in mails:
            _record(mail, error=exc, by=by)
        return 0, len(mails)
    try:
        for mail in mails:
            message = EmailMessage(mail.subject, mail.body, settings.DEFAULT_FROM_EMAIL, [mail.to_email],
                                   connection=connection)
            try:
                message.send()
            except Exception as exc:  # noqa: BLE001
                _record(mail, error=exc, by=by)
                failed += 1
            else:
                _record(mail, error=None, by=by)
                sent += 1
    finally:
        connection.close()
    return sent, failed


def _record(mail: OutgoingMail, *, error, by) -> None:
    mail.attempts += 1
    if error is None:
        mail.status, mail.sent_at, mail.error = MailStatus.SENT, timezone.now(), ""
    else:
        logger.warning("mail %s to %s failed: %s", mail.pk, mail.to_email, error)
        mail.status, mail.error = MailStatus.FAILED, str(error)[:2000] or error.__class__.__name__
    if by is not None and mail.sent_by_id is None:
        mail.sent_by = by
    mail.save(update_fields=["status", "sent_at", "error", "attempts", "sent_by"])


def outbox_send(*, mails, by, label: str = "") -> tuple[int, object | None]:
    """Send held (or failed) mails: they are marked "being sent" now and sent by a background job (the worker).
    Returns (count, job)."""
    from tremplin.web.jobs.services import job_enqueue

    ids = list(mails.filter(status__in=(MailStatus.HELD, MailStatus.FAILED)).values_list("pk", flat=True))
    if not ids:
        return 0, None
    with transaction.atomic():
        OutgoingMail.objects.filter(pk__in=ids).update(status=MailStatus.QUEUED, sent_by=by)
        write_entry(action=AuditAction.UPDATE, model="notifications.outgoingmail", object_pk=",".join(
            map(str, ids[:20])) + ("…" if len(ids) > 20 else ""), object_repr=_("Envoi de %(n)s courriels")
            % {"n": len(ids)}, changes={"status": ["held", "queued"], "ids": ids}, actor=by)
        job = job_enqueue(kind="notifications.send", params={"ids": ids, "by": by.pk if by else None},
                          label=label or _("Envoi de %(n)s courriels") % {"n": len(ids)}, user=by)
    return len(ids), job


def mails_send_job(params: dict, progress) -> dict:
    """Job handler: send the queued mails among `params["ids"]` (idempotent: sent ones are skipped)."""
    from tremplin.web.accounts.models import User

    ids = [int(i) for i in params.get("ids", [])]
    by = User.objects.filter(pk=params.get("by")).first() if params.get("by") else None
    sent = failed = 0
    for start in range(0, len(ids), SEND_CHUNK):
        chunk = list(OutgoingMail.objects.filter(pk__in=ids[start:start + SEND_CHUNK], status=MailStatus.QUEUED))
        s, f = mail_send(mails=chunk, by=by)
        sent, failed = sent + s, failed + f
        progress(min(1.0, (start + SEND_CHUNK) / max(len(ids), 1)), f"{sent + failed}/{len(ids)}")
    return {"sent": sent, "failed": failed, "total": len(ids)}


def outbox_cancel(*, mails, by=None) -> int:
    """Cancel held mails (they stay in the log as cancelled)."""
    count = 0
    for mail in mails.filter(status=MailStatus.HELD):
        mail.status = MailStatus.CANCELLED
        mail.sent_by = by
        mail.save(update_fields=["status", "sent_by"])
        count += 1
    return count


def outbox_rerender(*, mails) -> int:
    """Render held mails again from the template now in force (after it was edited), with their values."""
    count = 0
    for mail in mails.filter(status=MailStatus.HELD):
        scope = mail.scope_type.get_object_for_this_type(pk=mail.scope_id) if mail.scope_type_id else None
        values = template_values(kind=mail.kind, scope=scope)
        subject, body = render_texts(values[f"subject_{mail.language}"], values[f"body_{mail.language}"],
                                     mail.context)
        if (subject, body) != (mail.subject, mail.body):
            mail.subject, mail.body = subject, body
            mail.template = template_for(kind=mail.kind, scope=scope)
            mail.save(update_fields=["subject", "body", "template"])
            count += 1
    return count


# --- follows and notifications ---------------------------------------------------------------------------------


def _followable(target) -> registry.Followable:
    followable = registry.followable_for_model(target._meta.label_lower)
    if followable is None:
        raise ValidationError(_("Cet objet ne peut pas être suivi."))
    return followable


def follow_add(*, user, target) -> Follow:
    """`user` follows `target` (idempotent); they must be allowed to see it."""
    followable = _followable(target)
    if not user.is_authenticated or not user.has_perm(followable.permission, target):
        raise PermissionDenied
    target_type = ContentType.objects.get_for_model(target)
    existing = Follow.objects.filter(user=user, target_type=target_type, target_id=target.pk).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Follow.objects.create(user=user, target_type=target_type, target_id=target.pk)
    except IntegrityError:  # a concurrent click
        return Follow.objects.get(user=user, target_type=target_type, target_id=target.pk)


def follow_remove(*, user, target) -> bool:
    follow = Follow.objects.filter(user=user, target_type=ContentType.objects.get_for_model(target),
                                   target_id=target.pk).first()
    if follow is None:
        return False
    follow.delete()
    return True


def follows_move(*, source, target) -> int:
    """Followers of `source` now follow `target` (a merge); returns how many follows moved."""
    source_type = ContentType.objects.get_for_model(source)
    target_type = ContentType.objects.get_for_model(target)
    already = set(Follow.objects.filter(target_type=target_type, target_id=target.pk).values_list("user_id",
                                                                                                 flat=True))
    moved = 0
    for follow in Follow.objects.filter(target_type=source_type, target_id=source.pk):
        if follow.user_id in already:
            continue
        Follow.objects.create(user_id=follow.user_id, target_type=target_type, target_id=target.pk)
        moved += 1
    return moved


def followers_notify(*, target, event: str, params: Mapping | None = None, actor=None) -> int:
    """Tell every follower of `target` (but the actor) about `event`: on their dashboard now, then in their
    e-mail digest. Returns the number of notifications."""
    if event not in registry.EVENTS:
        raise LookupError(f"unknown notification event {event!r}")
    followable = _followable(target)
    target_type = ContentType.objects.get_for_model(target)
    followers = Follow.objects.filter(target_type=target_type, target_id=target.pk)
    if actor is not None and getattr(actor, "pk", None):
        followers = followers.exclude(user_id=actor.pk)
    user_ids = list(followers.values_list("user_id", flat=True))
    url = followable.url(target)
    Notification.objects.bulk_create([
        Notification(user_id=u, event=event, params=dict(params or {}), target_type=target_type,
                     target_id=target.pk, url=url) for u in user_ids])
    return len(user_ids)


def notifications_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


def preference_save(*, user, language: str, digest: str) -> NotificationPreference:
    if language not in Language.values:
        raise ValidationError({"language": _("Langue inconnue (permises : %(allowed)s).")
                               % {"allowed": ", ".join(Language.values)}})
    if digest not in Digest.values:
        raise ValidationError({"digest": _("Fréquence inconnue (permises : %(allowed)s).")
                               % {"allowed": ", ".join(Digest.values)}})
    preference = NotificationPreference.objects.filter(user=user).first() or NotificationPreference(user=user)
    preference.language, preference.digest = language, digest
    preference.full_clean()
    preference.save()
    return preference


DIGEST_PERIOD = {Digest.DAILY: timedelta(hours=23), Digest.WEEKLY: timedelta(days=7) - timedelta(hours=1)}
DIGEST_MAX_ITEMS = 50


def digest_send(*, now: datetime | None = None) -> int:
    """E-mail each user the notifications not yet sent in a digest, at most once per their period (daily by
    default). Returns the number of digests queued."""
    from tremplin.web.accounts.models import User

    now = now or timezone.now()
    pending_users = list(Notification.objects.filter(digested_at__isnull=True).order_by()
                         .values_list("user_id", flat=True).distinct())
    if not pending_users:
        return 0
    preferences = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=pending_users)}
    users = User.objects.in_bulk(pending_users)
    queued = 0
    for user_id in pending_users:
        user = users.get(user_id)
        preference = preferences.get(user_id)
        digest = preference.digest if preference else Digest.DAILY
        pending = Notification.objects.filter(user_id=user_id, digested_at__isnull=True)
        if user is None or not user.is_active or digest == Digest.NEVER:
            pending.update(digested_at=now)  # dashboard only: never e-mailed later
            continue
        last = preference.last_digest_at if preference else None
        if last is not None and now - last < DIGEST_PERIOD[digest]:
            continue
        top = pending.order_by("-pk").values_list("pk", flat=True).first()
        pending = pending.filter(pk__lte=top)  # what arrives meanwhile waits for the next digest
        count = pending.count()
        shown = list(pending.order_by("created_at", "pk")[:DIGEST_MAX_ITEMS])

        def lines(shown=shown, count=count):
            text = "\n".join(f"- {n.message} : {absolute_url(n.url)}" if n.url else f"- {n.message}" for n in shown)
            if count > len(shown):
                text += "\n" + _("… et %(n)s autres.") % {"n": count - len(shown)}
            return text

        with transaction.atomic():
            mail_queue(kind="notifications.digest", recipients=[user], context={
                "items": lines, "count": str(count),
                "notifications_url": absolute_url(reverse("notifications:notification-list"))})
            pending.update(digested_at=now)
            preference = preference or NotificationPreference(user=user)
            preference.last_digest_at = now
            preference.save()
        queued += 1
    return queued


def checkpoint_advance(*, name: str, now: datetime) -> datetime:
    """The previous time `name` ran (`now` on its first run: nothing before is replayed), then record `now`."""
    checkpoint = Checkpoint.objects.filter(name=name).first()
    if checkpoint is None:
        Checkpoint.objects.create(name=name, at=now)
        return now
    previous = checkpoint.at
    checkpoint.at = max(previous, now)
    checkpoint.save(update_fields=["at"])
    return previous
