"""Writes for horizon scanning: keyword-only `<entity>_<action>` functions."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from tremplin.web.accounts.models import User
from tremplin.web.core.panel_scoring import weighted_mean
from tremplin.web.horizon import selectors
from tremplin.web.horizon.models import (
    IMPACT_FIELDS,
    PanelMember,
    ReviewReminder,
    Signal,
    SignalReview,
    SignalScore,
    SignalStatus,
)

logger = logging.getLogger(__name__)

SIGNAL_FIELDS = ("title", "summary", "domain", "horizon", "likelihood", *IMPACT_FIELDS, "impact_notes",
                 "source_links", "is_public", "status", "steward")
# The panel's criteria, equally weighted (each 0–4): the signal's score is their weighted mean.
SCORE_WEIGHTS = {"likelihood": 1, "impact": 1, "relevance": 1}


def _save(signal: Signal, *, problems: Iterable | None, calls: Iterable | None) -> Signal:
    signal.full_clean()
    with transaction.atomic():
        signal.save()
        if problems is not None:
            signal.problems.set(list(problems))
        if calls is not None:
            signal.calls.set(list(calls))
    return signal


def signal_create(*, created_by: User | None, title: str, summary: str, domain: str, horizon: str, likelihood: int,
                  problems: Iterable = (), calls: Iterable = (), reviewed_on: date | None = None,
                  **fields) -> Signal:
    """Record a signal; its creation counts as its first review (the reminder clock starts today)."""
    unknown = set(fields) - set(SIGNAL_FIELDS)
    if unknown:
        raise TypeError(f"unknown signal fields: {sorted(unknown)}")
    signal = Signal(created_by=created_by, title=title, summary=summary, domain=domain, horizon=horizon,
                    likelihood=likelihood, last_reviewed_on=reviewed_on or timezone.localdate(), **fields)
    if signal.steward is None and created_by is not None:
        signal.steward = created_by
    return _save(signal, problems=problems, calls=calls)


def signal_update(*, signal: Signal, problems: Iterable | None = None, calls: Iterable | None = None,
                  **fields) -> Signal:
    """Change a signal's description (a change is not a review: the review date stays)."""
    unknown = set(fields) - set(SIGNAL_FIELDS)
    if unknown:
        raise TypeError(f"unknown signal fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(signal, name, value)
    return _save(signal, problems=problems, calls=calls)


def signal_review(*, signal: Signal, by: User | None, note: str = "", horizon: str | None = None,
                  likelihood: int | None = None, on: date | None = None) -> SignalReview:
    """Record that the signal was reviewed (still current, horizon and likelihood confirmed or changed): the
    reminder clock starts again from `on` (today by default)."""
    if signal.status != SignalStatus.WATCHING:
        raise ValidationError(_("Un signal archivé n'est plus revu."))
    on = on or timezone.localdate()
    if on > timezone.localdate():
        raise ValidationError({"reviewed_on": _("La date de revue ne peut pas être dans le futur.")})
    if on < signal.last_reviewed_on:
        raise ValidationError({"reviewed_on": _("Le signal a déjà été revu le %(date)s.")
                               % {"date": signal.last_reviewed_on.isoformat()}})
    signal.horizon = horizon or signal.horizon
    signal.likelihood = likelihood or signal.likelihood
    signal.last_reviewed_on = on
    review = SignalReview(signal=signal, reviewed_on=on, reviewed_by=by, horizon=signal.horizon,
                          likelihood=signal.likelihood, note=note)
    review.full_clean()
    signal.full_clean()
    with transaction.atomic():
        signal.save()
        review.save()
    return review


# --- the panel -------------------------------------------------------------------------------------------------


def panel_member_add(*, user: User, by: User | None = None) -> PanelMember:
    if not user.is_active:
        raise ValidationError({"user": _("Ce compte est désactivé.")})
    if not user.memberships.exists():
        raise ValidationError({"user": _("Cette personne n'appartient à aucune organisation du réseau.")})
    member, _created = PanelMember.objects.get_or_create(user=user, defaults={"added_by": by})
    return member


def panel_member_remove(*, member: PanelMember) -> None:
    """Remove a member from the panel (their scores stay: they were given)."""
    member.delete()


def signal_score(*, signal: Signal, scorer: User, likelihood: int, impact: int, relevance: int,
                 comment: str = "") -> SignalScore:
    """Record (or change) a panel member's score of a signal."""
    if not PanelMember.objects.filter(user=scorer).exists():
        raise ValidationError(_("Seuls les membres du panel de veille notent les signaux."))
    if signal.status != SignalStatus.WATCHING:
        raise ValidationError(_("Un signal archivé n'est plus noté."))
    values = {"likelihood": likelihood, "impact": impact, "relevance": relevance}
    try:
        total = weighted_mean(values, SCORE_WEIGHTS)
    except ValueError as exc:
        raise ValidationError(_("Chaque critère est noté de 0 à 4.")) from exc
    score = SignalScore.objects.filter(signal=signal, scorer=scorer).first() or SignalScore(signal=signal,
                                                                                            scorer=scorer)
    for name, value in values.items():
        setattr(score, name, value)
    score.comment = comment
    score.score = total
    score.full_clean(validate_unique=False, validate_constraints=False)
    score.save()
    return score


# --- from a signal to a call -------------------------------------------------------------------------------------


def signal_prepare_call(*, signal: Signal, by: User, problems: Iterable | None = None, **call_fields):
    """Create a draft call for solutions from the signal through the calls app (its grid, its checks, the
    problems marked "in a call"), and link it to the signal. `call_fields` are `calls.services.call_create`'s."""
    from tremplin.web.calls.services import call_create

    if signal.status != SignalStatus.WATCHING:
        raise ValidationError(_("Un signal archivé ne donne plus lieu à un appel."))
    if problems is None:
        problems = selectors.call_problems(signal=signal)
    with transaction.atomic():
        call = call_create(created_by=by, problems=problems, **call_fields)
        signal.calls.add(call)
    return call


# --- review reminders (run by the background worker, see schedules.py) --------------------------------------------


def review_reminders_send(*, today: date | None = None, months: int | None = None) -> int:
    """E-mail the steward of every signal whose review is due, once per due date: a (signal, due date) that was
    already reminded is skipped (unique constraint), so running this every day, or twice, sends nothing twice.
    A failed e-mail is not recorded and is retried on the next run. Returns the number of e-mails sent."""
    today = today or timezone.localdate()
    sent = 0
    for signal, due in selectors.signals_due_for_review(today=today, months=months):
        recipient = signal.steward or signal.created_by
        if recipient is None or not recipient.email or not recipient.is_active:
            continue
        if ReviewReminder.objects.filter(signal=signal, due_on=due).exists():
            continue
        try:
            with transaction.atomic():
                ReviewReminder.objects.create(signal=signal, due_on=due, recipient=recipient)
                body = render_to_string("horizon/email/review_reminder.txt", {
                    "signal": signal, "due": due, "user": recipient, "today": today,
                    "url": reverse("horizon:signal-detail", args=[signal.pk]),
                    "review_url": reverse("horizon:signal-review", args=[signal.pk])})
                send_mail(_("[Tremplin] Signal à revoir : %(title)s") % {"title": signal.title}, body,
                          settings.DEFAULT_FROM_EMAIL, [recipient.email])
        except IntegrityError:  # another run sent it meanwhile
            continue
        except OSError:  # SMTP unreachable: nothing recorded, the next run tries again
            logger.exception("review reminder for signal %s not sent", signal.pk)
            continue
        sent += 1
    return sent
