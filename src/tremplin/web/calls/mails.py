"""The calls app's e-mails and notifications, through the notifications app: reviewers' assignment notices and
review reminders, the applicants' decision mails (with the feedback), and what followers of a call are told.

Managers edit each text per call, in French and English (`/courriels/appel/<id>/modeles/`). No placeholder of
a reviewer-facing mail carries an applicant's identity (blind review): reviewers are told counts, never names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tremplin.web.calls.models import Assignment, Call, Decision, Outcome, Phase, ProposalStatus, Review, ReviewStatus
from tremplin.web.notifications import registry, services
from tremplin.web.notifications.registry import Event, Followable, MailKind, MailText, Scope

SCOPE = registry.register_scope(Scope("appel", "calls.call", "calls.manage_call", gettext_lazy("Appel de solutions")))
registry.register_followable(Followable("appel", "calls.call", "calls.view_call", gettext_lazy("Appel de solutions"),
                                        lambda call: reverse("calls:call-detail", args=[call.pk])))

_REVIEWER = {"name": gettext_lazy("nom de l'évaluateur"), "call_title": gettext_lazy("titre de l'appel"),
             "queue_url": gettext_lazy("adresse de la liste des propositions à évaluer")}

ASSIGNED = registry.register_kind(MailKind(
    key="calls.assigned", scope="appel", label=gettext_lazy("Évaluateurs : propositions affectées"),
    placeholders={**_REVIEWER, "count": gettext_lazy("nombre de propositions affectées")},
    defaults={
        "fr": MailText("[Tremplin] Propositions à évaluer : {{ call_title }}",
                       "Bonjour {{ name }},\n\n{{ count }} proposition(s) vous ont été affectées pour évaluation dans "
                       "l'appel « {{ call_title }} ».\n\nRetrouvez-les dans votre liste de propositions à évaluer : "
                       "{{ queue_url }}\n\nSi vous avez un lien avec l'une d'elles, déclarez un conflit d'intérêts.\n"),
        "en": MailText("[Tremplin] Proposals to review: {{ call_title }}",
                       "Hello {{ name }},\n\n{{ count }} proposal(s) have been assigned to you for review in the call "
                       "\"{{ call_title }}\".\n\nFind them in your list of proposals to review: {{ queue_url }}\n\n"
                       "If you have a link with one of them, declare a conflict of interest.\n"),
    },
    sample={"name": "Dr Claire Roy", "call_title": "Appel : santé mentale des jeunes", "count": "3",
            "queue_url": "https://tremplin.example.org/appels/a-evaluer/"},
))


def _clean_reminder_options(options: dict) -> dict:
    text = str(options.get("days_before", "") or "").strip()
    try:
        days = sorted({int(part) for part in text.replace(";", ",").split(",") if part.strip()}, reverse=True)
    except ValueError:
        days = None
    if not days or any(not 1 <= d <= 90 for d in days) or len(days) > 5:
        raise ValidationError({"option_days_before": _(
            "Indiquez de 1 à 5 nombres de jours entre 1 et 90, séparés par des virgules (par exemple « 7, 1 »).")})
    return {"days_before": ", ".join(str(d) for d in days)}


REMINDER = registry.register_kind(MailKind(
    key="calls.review_reminder", scope="appel", label=gettext_lazy("Évaluateurs : rappel avant la fin de l'évaluation"),
    placeholders={**_REVIEWER, "pending": gettext_lazy("nombre d'évaluations à terminer"),
                  "deadline": gettext_lazy("date et heure de fin de l'évaluation"),
                  "days_left": gettext_lazy("jours restants (arrondis au jour inférieur)")},
    defaults={
        "fr": MailText("[Tremplin] Rappel : {{ pending }} évaluation(s) à terminer avant le {{ deadline }}",
                       "Bonjour {{ name }},\n\nIl vous reste {{ pending }} évaluation(s) à soumettre dans l'appel "
                       "« {{ call_title }} ». L'évaluation se termine le {{ deadline }} (dans {{ days_left }} "
                       "jour(s)).\n\nVos propositions à évaluer : {{ queue_url }}\n\nMerci !\n"),
        "en": MailText("[Tremplin] Reminder: {{ pending }} review(s) to finish before {{ deadline }}",
                       "Hello {{ name }},\n\nYou still have {{ pending }} review(s) to submit in the call "
                       "\"{{ call_title }}\". Reviewing ends on {{ deadline }} (in {{ days_left }} day(s)).\n\n"
                       "Your proposals to review: {{ queue_url }}\n\nThank you!\n"),
    },
    options={"days_before": gettext_lazy("Rappels, en jours avant la fin de l'évaluation (par exemple « 7, 1 »)")},
    option_defaults={"days_before": "7, 1"}, clean_options=_clean_reminder_options,
    sample={"name": "Dr Claire Roy", "call_title": "Appel : santé mentale des jeunes", "pending": "2",
            "deadline": "12/06/2026 18:00", "days_left": "7",
            "queue_url": "https://tremplin.example.org/appels/a-evaluer/"},
))

_APPLICANT = {"name": gettext_lazy("nom du destinataire"), "call_title": gettext_lazy("titre de l'appel"),
              "proposal_title": gettext_lazy("titre de la proposition"),
              "proposal_url": gettext_lazy("adresse de la proposition"),
              "outcome": gettext_lazy("la décision (Retenue, Liste complémentaire, Non retenue)"),
              "reason": gettext_lazy("le motif et le retour du jury (saisi avec la décision)")}
_DECISION_TEXT = {
    Outcome.SELECTED: (
        gettext_lazy("Candidats : proposition retenue"),
        "Votre proposition est retenue. L'équipe du programme vous contactera pour préparer l'expérimentation.",
        "Your proposal is selected. The programme team will contact you to prepare the experiment."),
    Outcome.RESERVE: (
        gettext_lazy("Candidats : liste complémentaire"),
        "Votre proposition est inscrite sur la liste complémentaire.",
        "Your proposal is on the reserve list."),
    Outcome.REJECTED: (
        gettext_lazy("Candidats : proposition non retenue"),
        "Votre proposition n'est pas retenue cette fois-ci.",
        "Your proposal is not selected this time."),
}
DECISION_KINDS = {}
for _outcome, (_label, _fr, _en) in _DECISION_TEXT.items():
    DECISION_KINDS[_outcome] = registry.register_kind(MailKind(
        key=f"calls.decision.{_outcome}", scope="appel", label=_label, placeholders=_APPLICANT, hold=True,
        defaults={
            "fr": MailText("[Tremplin] Décision : {{ proposal_title }}",
                           "Bonjour {{ name }},\n\nLa décision concernant votre proposition « {{ proposal_title }} » "
                           "à l'appel « {{ call_title }} » est publiée : {{ outcome }}.\n\n" + _fr
                           + "\n\nMotif et retour du jury :\n{{ reason }}\n\nVotre proposition : {{ proposal_url }}\n"),
            "en": MailText("[Tremplin] Decision: {{ proposal_title }}",
                           "Hello {{ name }},\n\nThe decision on your proposal \"{{ proposal_title }}\" to the call "
                           "\"{{ call_title }}\" is out: {{ outcome }}.\n\n" + _en
                           + "\n\nReason and feedback from the panel:\n{{ reason }}\n\nYour proposal: "
                           "{{ proposal_url }}\n"),
        },
        sample={"name": "Ines Martin", "call_title": "Appel : santé mentale des jeunes",
                "proposal_title": "Équipe mobile de psychiatrie", "outcome": "Retenue",
                "reason": "Impact attendu fort, budget réaliste.",
                "proposal_url": "https://tremplin.example.org/appels/propositions/12/"},
    ))

registry.register_event(Event("calls.phase", lambda p: _("« %(title)s » : nouvelle phase, %(phase)s") % {
    "title": p.get("title", ""), "phase": Phase(p["phase"]).label if p.get("phase") in Phase.values else ""}))
registry.register_event(Event("calls.results", lambda p: _("« %(title)s » : les résultats sont publiés")
                              % {"title": p.get("title", "")}))


def _queue_url() -> str:
    return services.absolute_url(reverse("calls:review-queue"))


def notify_assigned(*, call: Call, reviewer_ids: Sequence[int], by=None) -> None:
    """One e-mail per reviewer: how many proposals were assigned (no applicant identity, blind or not)."""
    from tremplin.web.accounts.models import User

    counts: dict[int, int] = defaultdict(int)
    for r in reviewer_ids:
        counts[r] += 1
    if not counts:
        return
    services.mail_queue(kind=ASSIGNED.key, scope=call, by=by, recipients=User.objects.filter(pk__in=counts),
                        context=lambda user: {"call_title": call.title, "count": str(counts[user.pk]),
                                              "queue_url": _queue_url()})


def applicants(organisation_ids: Iterable[int]) -> dict[int, list]:
    """The innovators of each organisation (who receive its proposals' decisions)."""
    from tremplin.web.accounts.models import Membership

    result: dict[int, list] = defaultdict(list)
    seen: set[tuple[int, int]] = set()
    for m in Membership.objects.filter(organisation_id__in=list(organisation_ids), role="innovator",
                                       user__is_active=True).select_related("user").order_by("user__email"):
        if (m.organisation_id, m.user_id) not in seen:
            seen.add((m.organisation_id, m.user_id))
            result[m.organisation_id].append(m.user)
    return result


def notify_decisions(*, call: Call, decisions: Sequence[Decision], by=None) -> int:
    """Queue the decision mail of each proposal to its applicants (held in the outbox unless the call's template
    says otherwise); returns the number of mails."""
    people = applicants({d.proposal.organisation_id for d in decisions})
    count = 0
    for decision in decisions:
        proposal = decision.proposal
        mails = services.mail_queue(
            kind=DECISION_KINDS[decision.outcome].key, scope=call, by=by,
            recipients=people.get(proposal.organisation_id, []),
            context={"call_title": call.title, "proposal_title": proposal.title, "reason": decision.reason,
                     "outcome": Outcome(decision.outcome).label,
                     "proposal_url": services.absolute_url(reverse("calls:proposal-detail", args=[proposal.pk]))})
        count += len(mails)
    services.followers_notify(target=call, event="calls.results", params={"title": call.title}, actor=by)
    return count


def reminder_days(call: Call) -> list[int]:
    values = services.template_values(kind=REMINDER.key, scope=call)
    return [int(d) for d in str(values["options"].get("days_before", "")).split(",") if d.strip().isdigit()]


def pending_reviews(call: Call) -> dict[int, int]:
    """Reviewer id → assignments on submitted proposals without a submitted review (one query)."""
    submitted = Review.objects.filter(proposal=OuterRef("proposal"), reviewer=OuterRef("reviewer"),
                                      status=ReviewStatus.SUBMITTED)
    rows = (Assignment.objects.filter(proposal__call=call, proposal__status=ProposalStatus.SUBMITTED)
            .filter(~Exists(submitted)).order_by().values("reviewer").annotate(n=Count("id"))
            .values_list("reviewer", "n"))
    return dict(rows)


def review_reminders_send(*, now=None) -> int:
    """For each call in review, once per threshold of its reminder setting (days before the end of the review),
    remind each reviewer who still has reviews to submit. Only the closest threshold passed is sent (a worker
    stopped for a week does not send three reminders at once). Returns the number of mails queued."""
    from tremplin.web.accounts.models import User

    now = now or timezone.now()
    queued = 0
    for call in Call.objects.filter(review_starts_at__lte=now, deliberation_starts_at__gt=now):
        left = call.deliberation_starts_at - now
        due = [d for d in reminder_days(call) if left <= timedelta(days=d)]
        if not due:
            continue
        threshold = min(due)
        pending = pending_reviews(call)
        if not pending:
            continue
        deadline = timezone.localtime(call.deliberation_starts_at)
        mails = services.mail_queue(
            kind=REMINDER.key, scope=call, recipients=User.objects.filter(pk__in=pending, is_active=True),
            context=lambda user, call=call, pending=pending, deadline=deadline, left=left: {
                "call_title": call.title, "pending": str(pending[user.pk]), "queue_url": _queue_url(),
                "deadline": lambda: formats.date_format(deadline, "SHORT_DATETIME_FORMAT"),
                "days_left": str(left.days)},
            dedupe_key=lambda user, call=call, threshold=threshold:
                f"calls.review_reminder:{call.pk}:{user.pk}:{threshold}")
        queued += len(mails)
    return queued


PHASE_BOUNDARIES = (("opens_at", Phase.OPEN), ("review_starts_at", Phase.REVIEW),
                    ("deliberation_starts_at", Phase.DELIBERATION), ("results_at", Phase.RESULTS))


def call_phases_notify(*, now=None) -> int:
    """Followers of a call are told when it enters a new phase (its dates passed since the last run)."""
    from django.contrib.contenttypes.models import ContentType

    from tremplin.web.notifications.models import Follow

    now = now or timezone.now()
    since = services.checkpoint_advance(name="calls.phases", now=now)
    if since >= now:
        return 0
    followed = Follow.objects.filter(target_type=ContentType.objects.get_for_model(Call)).values("target_id")
    count = 0
    for call in Call.objects.filter(pk__in=followed):
        passed = [phase for field, phase in PHASE_BOUNDARIES if since < getattr(call, field) <= now]
        if passed:  # only the latest phase if several passed at once
            count += services.followers_notify(target=call, event="calls.phase",
                                               params={"title": call.title, "phase": passed[-1]})
    return count


registry.register_periodic("calls.review_reminders", review_reminders_send)
registry.register_periodic("calls.phases", call_phases_notify)
