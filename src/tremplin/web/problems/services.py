"""Writes for problems, endorsements, prioritisation weights and consultations (keyword-only)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tremplin.web.accounts.models import Organisation, Territory, User
from tremplin.web.core import validation
from tremplin.web.problems import notify
from tremplin.web.problems.models import (
    STRATEGIC_FIT_MAX,
    Answer,
    CommentFlag,
    CommentStatus,
    Consultation,
    ConsultationResponse,
    Endorsement,
    PriorityWeights,
    Problem,
    ProblemComment,
    ProblemStatus,
    Question,
    QuestionKind,
)

S = ProblemStatus
# Allowed status changes by a programme manager. "merged" is reached only through problem_merge and
# "in_call" also through problem_mark_in_call (called by the calls app).
TRANSITIONS: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.QUALIFIED, S.DECLINED, S.IN_CALL}),
    S.QUALIFIED: frozenset({S.NEW, S.IN_CALL, S.DECLINED}),
    S.IN_CALL: frozenset({S.QUALIFIED, S.ADDRESSED}),
    S.ADDRESSED: frozenset({S.IN_CALL}),
    S.DECLINED: frozenset({S.NEW, S.QUALIFIED}),
    S.MERGED: frozenset(),
}
REASON_REQUIRED = frozenset({S.DECLINED, S.MERGED})
PROBLEM_FIELDS = ("title", "description", "domain", "affected_population", "burden", "burden_cost_eur",
                  "evidence_links")


def allowed_transitions(status: str) -> list[str]:
    """Statuses a manager may move a problem to from `status` (in the order of ProblemStatus)."""
    return [s for s in S.values if s in TRANSITIONS.get(status, ())]


def _check_member(user: User, organisation: Organisation) -> None:
    if not user.memberships.filter(organisation=organisation).exists():
        raise ValidationError({"organisation": _("Vous n'êtes pas membre de cette organisation.")})


def problem_create(*, user: User, organisation: Organisation, title: str, description: str, domain: str,
                   territories: Iterable[Territory] = (), affected_population: int | None = None,
                   burden: str = "", burden_cost_eur: Decimal | None = None, evidence_links: str = "") -> Problem:
    """Report a problem on behalf of one of the user's organisations."""
    _check_member(user, organisation)
    problem = Problem(organisation=organisation, created_by=user, title=title, description=description,
                      domain=domain, affected_population=affected_population, burden=burden,
                      burden_cost_eur=burden_cost_eur, evidence_links=evidence_links)
    problem.full_clean()
    with transaction.atomic():
        problem.save()
        problem.territories.set(territories)
    return problem


def problem_update(*, problem: Problem, territories: Iterable[Territory] | None = None, **fields) -> Problem:
    """Edit the description of a problem (fields in PROBLEM_FIELDS)."""
    unknown = set(fields) - set(PROBLEM_FIELDS)
    if unknown:
        raise TypeError(f"problem_update() got unexpected fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(problem, name, value)
    problem.full_clean()
    with transaction.atomic():
        problem.save()
        if territories is not None:
            problem.territories.set(territories)
    return problem


def problem_change_status(*, problem: Problem, status: str, reason: str = "", user: User | None = None) -> Problem:
    """Move a problem to another status, if the transition is allowed (see TRANSITIONS)."""
    if status == problem.status:
        raise ValidationError({"status": _("La problématique a déjà ce statut.")})
    if status not in TRANSITIONS.get(problem.status, ()):
        raise ValidationError({"status": _("Passage de « %(old)s » à « %(new)s » non permis.") % {
            "old": S(problem.status).label, "new": S(status).label if status in S.values else status}})
    reason = (reason or "").strip()
    if status in REASON_REQUIRED and not reason:
        raise ValidationError({"reason": _("Indiquez le motif.")})
    problem.status = status
    problem.status_reason = reason
    problem.save(update_fields=["status", "status_reason", "updated_at"])
    notify.status_changed(problem=problem, actor=user)
    return problem


def problem_set_status_reason(*, problem: Problem, reason: str) -> Problem:
    """Reword the reason of the current status (a declined problem keeps a non-empty reason)."""
    reason = (reason or "").strip()
    if problem.status in REASON_REQUIRED and not reason:
        raise ValidationError({"reason": _("Indiquez le motif.")})
    problem.status_reason = reason
    problem.save(update_fields=["status_reason", "updated_at"])
    return problem


def problem_mark_in_call(*, problem: Problem, call) -> Problem:
    """Record that a call for solutions addresses the problem (used by the calls app). Idempotent."""
    if problem.status == S.IN_CALL:
        return problem
    if problem.status not in {S.NEW, S.QUALIFIED, S.ADDRESSED}:
        raise ValidationError(_("Une problématique « %(status)s » ne peut pas entrer dans un appel.")
                              % {"status": S(problem.status).label})
    problem.status = S.IN_CALL
    problem.status_reason = _("Appel : %(call)s") % {"call": call}
    problem.save(update_fields=["status", "status_reason", "updated_at"])
    notify.entered_call(problem=problem, call=call, actor=getattr(call, "created_by", None))
    return problem


def problem_set_strategic_fit(*, problem: Problem, strategic_fit: int) -> Problem:
    if not 0 <= int(strategic_fit) <= STRATEGIC_FIT_MAX:
        raise ValidationError({"strategic_fit": _("Une valeur de 0 à 4 est attendue.")})
    problem.strategic_fit = int(strategic_fit)
    problem.save(update_fields=["strategic_fit", "updated_at"])
    return problem


def endorsement_create(*, problem: Problem, organisation: Organisation, user: User, comment: str) -> Endorsement:
    """An organisation endorses a problem: one endorsement per organisation, never the reporting one."""
    _check_member(user, organisation)
    if not problem.is_open:
        raise ValidationError(_("Cette problématique ne peut plus être appuyée."))
    if organisation.pk == problem.organisation_id:
        raise ValidationError({"organisation": _("L'organisation qui a signalé la problématique ne peut pas "
                                                 "l'appuyer.")})
    if not (comment or "").strip():
        raise ValidationError({"comment": _("Expliquez en quelques mots pourquoi vous appuyez cette problématique.")})
    if Endorsement.objects.filter(problem=problem, organisation=organisation).exists():
        raise ValidationError({"organisation": _("Cette organisation appuie déjà cette problématique.")})
    try:
        with transaction.atomic():
            return Endorsement.objects.create(problem=problem, organisation=organisation, created_by=user,
                                              comment=comment.strip())
    except IntegrityError as exc:  # a concurrent request endorsed first
        raise ValidationError({"organisation": _("Cette organisation appuie déjà cette problématique.")}) from exc


def endorsement_delete(*, endorsement: Endorsement, user: User) -> None:
    """Withdraw an endorsement (a member of the endorsing organisation)."""
    if not user.memberships.filter(organisation_id=endorsement.organisation_id).exists():
        raise PermissionDenied
    endorsement.delete()


# --- comments and their moderation (issue 18, item 10) -----------------------------------------------------


COMMENT_MAX_LENGTH = 3000


def comment_add(*, problem: Problem, user: User, text: str) -> ProblemComment:
    """A member of the network comments a problem (published at once; managers moderate afterwards)."""
    if not user.is_authenticated or not user.roles:
        raise PermissionDenied
    if problem.status == S.MERGED:
        raise ValidationError(_("Cette problématique a été fusionnée : commentez celle qui la remplace."))
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("Le commentaire est vide.")})
    if len(text) > COMMENT_MAX_LENGTH:  # a TextField's max_length is not checked by full_clean
        raise ValidationError({"text": _("%(n)s caractères au plus.") % {"n": COMMENT_MAX_LENGTH}})
    if validation.has_nul(text):
        raise ValidationError({"text": validation.nul_error()})
    comment = ProblemComment(problem=problem, author=user, text=text)
    comment.full_clean()
    comment.save()
    return comment


def comment_flag(*, comment: ProblemComment, user: User, reason: str = "") -> CommentFlag:
    """Report a comment to the moderators (once per user, never one's own)."""
    if comment.author_id == user.pk:
        raise ValidationError(_("Vous ne pouvez pas signaler votre propre commentaire."))
    if comment.status != CommentStatus.PUBLISHED:
        raise ValidationError(_("Ce commentaire est déjà masqué."))
    reason = (reason or "").strip()[:300]
    if validation.has_nul(reason):
        raise ValidationError({"reason": validation.nul_error()})
    if CommentFlag.objects.filter(comment=comment, user=user).exists():
        raise ValidationError(_("Vous avez déjà signalé ce commentaire."))
    try:
        with transaction.atomic():
            return CommentFlag.objects.create(comment=comment, user=user, reason=reason)
    except IntegrityError as exc:
        raise ValidationError(_("Vous avez déjà signalé ce commentaire.")) from exc


MODERATION_ACTIONS = ("hide", "restore", "keep")


def comment_moderate(*, comment: ProblemComment, action: str, by: User, reason: str = "") -> ProblemComment:
    """A manager hides a comment (a reason is required and shown in its place), restores it, or keeps it as it
    is; its open flags are resolved either way."""
    if action not in MODERATION_ACTIONS:
        raise ValidationError({"action": _("Action inconnue (permises : %(allowed)s).")
                               % {"allowed": ", ".join(MODERATION_ACTIONS)}})
    reason = (reason or "").strip()
    if action == "hide" and not reason:
        raise ValidationError({"reason": _("Indiquez le motif.")})
    if validation.has_nul(reason):
        raise ValidationError({"reason": validation.nul_error()})
    now = timezone.now()
    with transaction.atomic():
        if action != "keep":
            comment.status = CommentStatus.HIDDEN if action == "hide" else CommentStatus.PUBLISHED
            comment.moderation_reason = reason if action == "hide" else ""
        comment.moderated_by, comment.moderated_at = by, now
        comment.full_clean()
        comment.save()
        for flag in comment.flags.filter(resolved_at__isnull=True):  # one by one: audited
            flag.resolved_at = now
            flag.save(update_fields=["resolved_at"])
    return comment


def problem_merge(*, source: Problem, target: Problem, reason: str = "", user: User | None = None) -> Problem:
    """Merge the duplicate `source` into `target`.

    Endorsements move to the target unless the organisation already endorses it or reported it (one per
    organisation); the source's reporting organisation becomes an endorser of the target (unless it reported
    the target); territories are united; problems merged earlier into the source now point to the target;
    the source gets the status "merged" with `merged_into = target`.
    """
    if source.pk == target.pk:
        raise ValidationError({"target": _("Une problématique ne peut pas être fusionnée avec elle-même.")})
    if not source.is_open and source.status != S.ADDRESSED:
        raise ValidationError(_("Cette problématique ne peut pas être fusionnée (statut « %(status)s »).")
                              % {"status": S(source.status).label})
    if target.status in {S.MERGED, S.DECLINED}:
        raise ValidationError({"target": _("La problématique cible est « %(status)s ».")
                               % {"status": S(target.status).label}})
    with transaction.atomic():
        taken = set(target.endorsements.values_list("organisation_id", flat=True)) | {target.organisation_id}
        for endorsement in list(source.endorsements.all()):
            if endorsement.organisation_id in taken:
                endorsement.delete()
            else:
                endorsement.problem = target
                endorsement.save(update_fields=["problem"])
                taken.add(endorsement.organisation_id)
        if source.organisation_id not in taken:
            Endorsement.objects.create(
                problem=target, organisation_id=source.organisation_id, created_by=source.created_by,
                comment=_("Problématique signalée aussi : « %(title)s » (fusionnée).") % {"title": source.title})
        target.territories.add(*source.territories.all())
        Problem.objects.filter(merged_into=source).update(merged_into=target)
        source.status = S.MERGED
        source.merged_into = target
        source.status_reason = (reason or "").strip() or _("Doublon de « %(title)s ».") % {"title": target.title}
        source.save(update_fields=["status", "merged_into", "status_reason", "updated_at"])
        target.save(update_fields=["updated_at"])
        notify.merged(source=source, target=target, actor=user)
    return target


def weights_update(*, user: User | None = None, **weights: Decimal) -> PriorityWeights:
    """Change the prioritisation weights (burden, population, endorsements, strategic_fit; each ≥ 0)."""
    current = PriorityWeights.load()
    for name in ("burden", "population", "endorsements", "strategic_fit"):
        if name in weights:
            value = Decimal(str(weights[name]))
            if value < 0:
                raise ValidationError({name: _("Un poids est positif ou nul.")})
            setattr(current, name, value)
    current.updated_by = user
    current.full_clean()
    current.save()
    return current


# --- consultations -----------------------------------------------------------------------------------------


def consultation_create(*, user: User, title: str, starts_at: datetime, ends_at: datetime, description: str = "",
                        problem: Problem | None = None, questions: Iterable[Mapping] = ()) -> Consultation:
    """Open a consultation; `questions` are mappings with text, kind, choices (one per line), required."""
    consultation = Consultation(title=title, description=description, problem=problem, starts_at=starts_at,
                                ends_at=ends_at, created_by=user)
    _validate_dates(consultation)
    consultation.full_clean()
    with transaction.atomic():
        consultation.save()
        for position, data in enumerate(questions):
            question_add(consultation=consultation, position=position, **data)
    return consultation


def _validate_dates(consultation: Consultation) -> None:
    for name in ("starts_at", "ends_at"):
        value = getattr(consultation, name)
        if value is not None and timezone.is_naive(value):
            raise ValidationError({name: _("Une date avec fuseau horaire est attendue.")})
    if consultation.starts_at and consultation.ends_at and consultation.ends_at <= consultation.starts_at:
        raise ValidationError({"ends_at": _("La clôture doit suivre l'ouverture.")})


def consultation_update(*, consultation: Consultation, **fields) -> Consultation:
    for name in ("title", "description", "problem", "starts_at", "ends_at"):
        if name in fields:
            setattr(consultation, name, fields[name])
    _validate_dates(consultation)
    consultation.full_clean()
    consultation.save()
    return consultation


def question_add(*, consultation: Consultation, text: str, kind: str, choices: str = "", required: bool = True,
                 position: int | None = None) -> Question:
    if consultation.responses.exists():
        raise ValidationError(_("Des réponses ont déjà été reçues : les questions ne peuvent plus changer."))
    if position is None:
        position = consultation.questions.count()
    question = Question(consultation=consultation, text=text, kind=kind, choices=choices or "", required=required,
                        position=position)
    question.full_clean()
    if kind == QuestionKind.CHOICE and len(question.choice_list) < 2:
        raise ValidationError({"choices": _("Proposez au moins deux choix, un par ligne.")})
    question.save()
    return question


def consultation_state(consultation: Consultation, now: datetime | None = None) -> str:
    """'upcoming', 'open' or 'closed' at `now` (server time, time-zone aware)."""
    now = now or timezone.now()
    if now < consultation.starts_at:
        return "upcoming"
    if now >= consultation.ends_at:
        return "closed"
    return "open"


def _clean_answer(question: Question, value) -> dict | None:
    """Validated answer fields for one question, or None when unanswered."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if question.required:
            raise ValidationError({f"q{question.pk}": _("Réponse obligatoire.")})
        return None
    if question.kind == QuestionKind.CHOICE:
        if str(value) not in question.choice_list:
            raise ValidationError({f"q{question.pk}": _("Choix inconnu.")})
        return {"choice": str(value)}
    if question.kind == QuestionKind.SCALE:
        try:
            scale = int(value)
        except (TypeError, ValueError):
            scale = 0
        if not 1 <= scale <= 5:
            raise ValidationError({f"q{question.pk}": _("Une note de 1 à 5 est attendue.")})
        return {"scale": scale}
    text = str(value).strip()
    if len(text) > 5000:
        raise ValidationError({f"q{question.pk}": _("5 000 caractères au plus.")})
    return {"text": text}


def consultation_respond(*, consultation: Consultation, user: User, answers: Mapping[int, object],
                         now: datetime | None = None) -> ConsultationResponse:
    """Record a signed-in user's answers (question id → value), once, while the consultation is open."""
    if user is None or not user.is_authenticated:
        raise PermissionDenied
    state = consultation_state(consultation, now)
    if state == "upcoming":
        raise ValidationError(_("La consultation n'est pas encore ouverte."))
    if state == "closed":
        raise ValidationError(_("La consultation est close."))
    if ConsultationResponse.objects.filter(consultation=consultation, respondent=user).exists():
        raise ValidationError(_("Vous avez déjà répondu à cette consultation."))
    questions = list(consultation.questions.all())
    cleaned = {}
    errors: dict[str, list] = {}
    for question in questions:
        try:
            cleaned[question.pk] = _clean_answer(question, answers.get(question.pk))
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            response = ConsultationResponse.objects.create(consultation=consultation, respondent=user)
            for pk, fields in cleaned.items():
                if fields is not None:  # one save per answer: every change is audited
                    Answer.objects.create(response=response, question_id=pk, **fields)
    except IntegrityError as exc:  # a concurrent submission from the same user
        raise ValidationError(_("Vous avez déjà répondu à cette consultation.")) from exc
    return response
