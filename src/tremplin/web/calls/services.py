"""Writes for calls: keyword-only `<entity>_<action>` functions. Phases are enforced here, on the server."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tremplin.web.accounts.models import Membership, Organisation, Sector, User
from tremplin.web.accounts.services import ImportReport
from tremplin.web.calls import scoring, selectors
from tremplin.web.calls.assignment import AssignmentResult, assign_reviewers
from tremplin.web.calls.models import (
    Assignment,
    AssignmentSource,
    Attachment,
    BudgetLine,
    Call,
    Conflict,
    ConflictStatus,
    Criterion,
    Decision,
    Outcome,
    Phase,
    Proposal,
    ProposalStatus,
    Review,
    ReviewerNote,
    ReviewStatus,
    Score,
)
from tremplin.web.core import validation
from tremplin.web.core.audit import write_entry
from tremplin.web.core.models import AuditAction
from tremplin.web.problems.services import problem_mark_in_call

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS_PER_PROPOSAL = 5
PDF_CONTENT_TYPES = {"application/pdf", "application/x-pdf"}
PDF_MAGIC = b"%PDF-"

RUBRIC = [
    gettext_lazy("0 — absent ou non démontré"),
    gettext_lazy("1 — faible"),
    gettext_lazy("2 — correct"),
    gettext_lazy("3 — solide"),
    gettext_lazy("4 — excellent, démontré"),
]
DEFAULT_GRID = [
    (gettext_lazy("Valeur clinique"), gettext_lazy("Effet attendu sur l'état de santé des patients.")),
    (gettext_lazy("Expérience patient"), gettext_lazy("Ce que les patients et leurs proches vivent mieux.")),
    (gettext_lazy("Coordination entre professionnels"),
     gettext_lazy("Meilleure coordination entre professionnels, établissements et secteurs.")),
    (gettext_lazy("Moins d'actes redondants"), gettext_lazy("Examens, passages et actes évités.")),
    (gettext_lazy("Conditions de travail des professionnels"),
     gettext_lazy("Charge, sens et conditions d'exercice des soignants.")),
    (gettext_lazy("Efficience / coût"), gettext_lazy("Coûts évités au regard des coûts engagés.")),
    (gettext_lazy("Faisabilité et interopérabilité"),
     gettext_lazy("Maturité, intégration aux systèmes d'information, normes d'échange.")),
    (gettext_lazy("Co-conception avec les professionnels et les patients"),
     gettext_lazy("Place des utilisateurs dans la conception et le pilotage.")),
    (gettext_lazy("Passage à l'échelle"), gettext_lazy("Capacité à être déployé sur d'autres territoires.")),
]


class PhaseError(ValidationError):
    """An action attempted outside the phase that allows it."""


def _require_phase(call: Call, *phases: str, action: str) -> None:
    phase = call.phase
    if phase not in phases:
        raise PhaseError(_("%(action)s n'est pas possible pendant la phase « %(phase)s ».")
                         % {"action": action, "phase": Phase(phase).label})


# --- calls ---------------------------------------------------------------------------------------------------


def _validate_call(call: Call) -> None:
    call.full_clean()
    if not (call.opens_at < call.review_starts_at < call.deliberation_starts_at < call.results_at):
        raise ValidationError({"review_starts_at": _(
            "Les dates doivent se suivre : ouverture < clôture < délibération < résultats.")})
    if call.max_amount_per_proposal > call.budget_envelope:
        raise ValidationError({"max_amount_per_proposal": _(
            "Le montant maximal par proposition dépasse l'enveloppe.")})
    bad = [s for s in call.eligible_sectors if s not in Sector.values]
    if not call.eligible_sectors or bad:
        raise ValidationError({"eligible_sectors": _("Choisissez au moins un secteur parmi les secteurs connus.")})


def call_create(*, title: str, text: str, budget_envelope, max_amount_per_proposal, opens_at, review_starts_at,
                deliberation_starts_at, results_at, created_by: User | None = None, problems: Iterable = (),
                eligible_sectors: Sequence[str] | None = None, eligible_territories: Iterable = (),
                reviewers_per_proposal: int = 3, blind_review: bool = True, visibility_during_review: str = "after_own",
                visibility_after_review: str = "always", criteria: Sequence[dict] | None = None) -> Call:
    """Create a call with its evaluation grid (the default grid unless `criteria` is given)."""
    call = Call(title=title, text=text, budget_envelope=budget_envelope,
                max_amount_per_proposal=max_amount_per_proposal, opens_at=opens_at, review_starts_at=review_starts_at,
                deliberation_starts_at=deliberation_starts_at, results_at=results_at, created_by=created_by,
                eligible_sectors=list(eligible_sectors) if eligible_sectors else list(Sector.values),
                reviewers_per_proposal=reviewers_per_proposal, blind_review=blind_review,
                visibility_during_review=visibility_during_review, visibility_after_review=visibility_after_review)
    _validate_call(call)
    with transaction.atomic():
        call.save()
        problems = list(problems)
        call.problems.set(problems)
        call.eligible_territories.set(list(eligible_territories))
        if criteria is None:
            criteria = [{"name": str(name), "description": str(desc), "weight": 1, "rubric": [str(r) for r in RUBRIC]}
                        for name, desc in DEFAULT_GRID]
        _criteria_write(call, criteria)
        for problem in problems:
            _mark_problem(problem, call)
    return call


def _mark_problem(problem, call: Call) -> None:
    problem_mark_in_call(problem=problem, call=call)


def call_update(*, call: Call, problems: Iterable | None = None, eligible_territories: Iterable | None = None,
                **fields) -> Call:
    """Update a call. Dates already passed cannot be moved in a way that changes the current phase's history."""
    for name, value in fields.items():
        setattr(call, name, value)
    _validate_call(call)
    with transaction.atomic():
        call.save()
        if problems is not None:
            before = set(call.problems.values_list("pk", flat=True))
            problems = list(problems)
            call.problems.set(problems)
            for problem in problems:
                if problem.pk not in before:
                    _mark_problem(problem, call)
        if eligible_territories is not None:
            call.eligible_territories.set(list(eligible_territories))
    return call


def _criteria_write(call: Call, criteria: Sequence[dict]) -> None:
    if not criteria:
        raise ValidationError(_("La grille d'évaluation doit contenir au moins un critère."))
    if sum(Decimal(str(c.get("weight", 1))) for c in criteria) <= 0:
        raise ValidationError(_("La somme des poids doit être positive."))
    for i, c in enumerate(criteria):
        rubric = list(c.get("rubric") or [str(r) for r in RUBRIC])
        criterion = Criterion(call=call, name=c["name"], description=c.get("description", ""),
                              weight=Decimal(str(c.get("weight", 1))), rubric=rubric, order=i)
        criterion.full_clean()
        criterion.save()


def criteria_replace(*, call: Call, criteria: Sequence[dict]) -> None:
    """Replace the evaluation grid (only while the call is a draft: reviews depend on it)."""
    _require_phase(call, Phase.DRAFT, action=_("Modifier la grille"))
    with transaction.atomic():
        call.criteria.all().delete()
        _criteria_write(call, criteria)


# --- proposals -----------------------------------------------------------------------------------------------


def _check_applicant(user: User, organisation: Organisation) -> None:
    if not Membership.objects.filter(user=user, organisation=organisation, role="innovator").exists():
        raise ValidationError({"organisation": _("Vous devez être innovateur membre de cette organisation.")})


def _check_eligibility(call: Call, organisation: Organisation, territories: Iterable) -> None:
    if organisation.sector not in call.eligible_sectors:
        raise ValidationError({"organisation": _("Le secteur « %(sector)s » n'est pas éligible à cet appel.")
                               % {"sector": Sector(organisation.sector).label}})
    eligible = list(call.eligible_territories.all())
    if eligible:
        allowed = selectors.territory_closure(eligible)
        outside = [t for t in territories if t.pk not in allowed]
        if outside:
            raise ValidationError({"territories": _("Territoires hors du périmètre de l'appel : %(names)s")
                                   % {"names": ", ".join(t.name for t in outside)}})


def _check_budget(call: Call, lines: Sequence[dict]) -> Decimal:
    total = Decimal(0)
    for i, line in enumerate(lines, start=1):
        amount = Decimal(str(line["amount"]))
        if amount < 0:
            raise ValidationError({"budget": _("Ligne %(n)s : montant négatif.") % {"n": i}})
        if not str(line.get("label", "")).strip():
            raise ValidationError({"budget": _("Ligne %(n)s : intitulé manquant.") % {"n": i}})
        total += amount
    if total > call.max_amount_per_proposal:
        raise ValidationError({"budget": _("Le total demandé (%(total)s €) dépasse le maximum de l'appel "
                                           "(%(max)s €).") % {"total": total, "max": call.max_amount_per_proposal}})
    return total


def _write_proposal(proposal: Proposal, *, partners, territories, budget_lines) -> None:
    proposal.full_clean()
    proposal.save()
    proposal.partners.set([p for p in partners if p.pk != proposal.organisation_id])
    proposal.territories.set(list(territories))
    proposal.budget_lines.all().delete()
    for i, line in enumerate(budget_lines):  # one by one: every row reaches the audit log
        BudgetLine.objects.create(proposal=proposal, label=line["label"], amount=line["amount"], order=i)


def proposal_create(*, call: Call, user: User, organisation: Organisation, title: str, summary: str,
                    description: str, evidence_level: str = "idea", partners: Iterable = (),
                    territories: Iterable = (), budget_lines: Sequence[dict] = ()) -> Proposal:
    """Create a draft proposal (only while the call is open)."""
    _require_phase(call, Phase.OPEN, action=_("Déposer une proposition"))
    _check_applicant(user, organisation)
    territories, partners = list(territories), list(partners)
    _check_eligibility(call, organisation, territories)
    total = _check_budget(call, budget_lines)
    proposal = Proposal(call=call, organisation=organisation, title=title, summary=summary, description=description,
                        evidence_level=evidence_level, requested_amount=total, created_by=user)
    with transaction.atomic():
        _write_proposal(proposal, partners=partners, territories=territories, budget_lines=budget_lines)
    return proposal


def _require_editable(proposal: Proposal) -> None:
    _require_phase(proposal.call, Phase.OPEN, action=_("Modifier une proposition"))
    if proposal.status != ProposalStatus.DRAFT:
        raise ValidationError(_("Seul un brouillon peut être modifié."))


def proposal_update(*, proposal: Proposal, user: User, title: str, summary: str, description: str,
                    evidence_level: str, organisation: Organisation | None = None, partners: Iterable = (),
                    territories: Iterable = (), budget_lines: Sequence[dict] = ()) -> Proposal:
    """Edit a draft until the deadline."""
    _require_editable(proposal)
    organisation = organisation or proposal.organisation
    _check_applicant(user, organisation)
    territories, partners = list(territories), list(partners)
    _check_eligibility(proposal.call, organisation, territories)
    proposal.requested_amount = _check_budget(proposal.call, budget_lines)
    proposal.organisation = organisation
    proposal.title, proposal.summary, proposal.description = title, summary, description
    proposal.evidence_level = evidence_level
    with transaction.atomic():
        _write_proposal(proposal, partners=partners, territories=territories, budget_lines=budget_lines)
    return proposal


def proposal_submit(*, proposal: Proposal, user: User) -> Proposal:
    """Submit a draft (only while the call is open); the budget and eligibility are checked again."""
    _require_editable(proposal)
    _check_applicant(user, proposal.organisation)
    lines = list(proposal.budget_lines.values("label", "amount"))
    if not lines:
        raise ValidationError({"budget": _("Ajoutez au moins une ligne budgétaire avant de soumettre.")})
    _check_budget(proposal.call, lines)
    _check_eligibility(proposal.call, proposal.organisation, list(proposal.territories.all()))
    proposal.status = ProposalStatus.SUBMITTED
    proposal.submitted_at = timezone.now()
    proposal.save(update_fields=["status", "submitted_at", "updated_at"])
    return proposal


def proposal_withdraw(*, proposal: Proposal, user: User) -> Proposal:
    """Withdraw a proposal (until the end of the review phase; no decision can then be made on it)."""
    _require_phase(proposal.call, Phase.OPEN, Phase.REVIEW, action=_("Retirer une proposition"))
    _check_applicant(user, proposal.organisation)
    if proposal.status == ProposalStatus.WITHDRAWN:
        raise ValidationError(_("La proposition est déjà retirée."))
    proposal.status = ProposalStatus.WITHDRAWN
    proposal.save(update_fields=["status", "updated_at"])
    return proposal


def validate_pdf(uploaded) -> None:
    """A PDF or a clear error: extension, declared content type, `%PDF-` signature, size."""
    name = getattr(uploaded, "name", "") or ""
    if not name.lower().endswith(".pdf"):
        raise ValidationError(_("Seuls les fichiers PDF (.pdf) sont acceptés."), code="extension")
    if getattr(uploaded, "content_type", None) not in PDF_CONTENT_TYPES:
        raise ValidationError(_("Le fichier n'est pas déclaré comme un PDF (type %(type)s).")
                              % {"type": getattr(uploaded, "content_type", "?")}, code="content_type")
    if uploaded.size > MAX_ATTACHMENT_BYTES:
        raise ValidationError(_("Le fichier dépasse %(mb)s Mo.") % {"mb": MAX_ATTACHMENT_BYTES // (1024 * 1024)},
                              code="size")
    uploaded.seek(0)
    head = uploaded.read(len(PDF_MAGIC))
    uploaded.seek(0)
    if head != PDF_MAGIC:
        raise ValidationError(_("Le contenu du fichier n'est pas un PDF."), code="magic")


def attachment_add(*, proposal: Proposal, user: User, uploaded) -> Attachment:
    """Attach a PDF to a draft (stored in the private media directory via the default storage)."""
    _require_editable(proposal)
    _check_applicant(user, proposal.organisation)
    validate_pdf(uploaded)
    if proposal.attachments.count() >= MAX_ATTACHMENTS_PER_PROPOSAL:
        raise ValidationError(_("%(n)s pièces jointes au plus.") % {"n": MAX_ATTACHMENTS_PER_PROPOSAL})
    attachment = Attachment(proposal=proposal, original_name=uploaded.name[:255], size=uploaded.size,
                            uploaded_by=user)
    attachment.file.save("upload.pdf", uploaded, save=False)
    attachment.save()
    return attachment


def attachment_delete(*, attachment: Attachment, user: User) -> None:
    _require_editable(attachment.proposal)
    _check_applicant(user, attachment.proposal.organisation)
    attachment.file.delete(save=False)
    attachment.delete()


# --- conflicts and assignment --------------------------------------------------------------------------------


def reviews_final(call: Call) -> bool:
    """Reviews are final once the review phase is over (deliberation, results) or the decisions are released."""
    return call.released or call.phase in (Phase.DELIBERATION, Phase.RESULTS)


def conflict_declare(*, call: Call, reviewer: User, proposal: Proposal | None = None,
                     organisation: Organisation | None = None, reason: str = "") -> Conflict:
    """Declare a conflict of interest on a proposal assigned to the reviewer, or on a whole organisation.

    - A proposal conflict while reviews are not final, on a proposal the reviewer has not submitted a review of,
      is accepted at once: the assignment and the draft review are removed (the reviewer knows the proposal).
    - Any other conflict is a request (`ConflictStatus.REQUESTED`) for the programme manager
      (`conflict_decide`); nothing is removed: a submitted review is never deleted, and after the review phase
      the ranking, the decisions and the exports do not move unless the manager accepts before the release.
    - An organisation conflict never touches the reviewer's assignments (their queue would show which
      proposal is that organisation's: blind review). It keeps the organisation's proposals from being
      assigned to them from now on, and the manager decides about the existing assignments.
    """
    if (proposal is None) == (organisation is None):
        raise ValidationError(_("Indiquez soit une proposition, soit une organisation."))
    if proposal is not None and (proposal.call_id != call.pk or not Assignment.objects.filter(
            proposal=proposal, reviewer=reviewer).exists()):
        raise ValidationError({"proposal": _("Cette proposition ne vous est pas affectée.")})
    existing = Conflict.objects.filter(call=call, reviewer=reviewer).exclude(status=ConflictStatus.DISMISSED)
    if existing.filter(proposal=proposal, organisation=organisation).exists():
        raise ValidationError(_("Vous avez déjà déclaré ce conflit."))
    conflict = Conflict(call=call, reviewer=reviewer, proposal=proposal, organisation=organisation, reason=reason,
                        status=ConflictStatus.REQUESTED)
    submitted = proposal is not None and Review.objects.filter(
        proposal=proposal, reviewer=reviewer, status=ReviewStatus.SUBMITTED).exists()
    immediate = proposal is not None and not submitted and not reviews_final(call)
    if immediate:
        conflict.status, conflict.decided_at = ConflictStatus.ACCEPTED, timezone.now()
    conflict.full_clean()
    with transaction.atomic():
        conflict.save()
        if immediate:
            Review.objects.filter(proposal=proposal, reviewer=reviewer).delete()  # a draft: audited
            Assignment.objects.filter(proposal=proposal, reviewer=reviewer).delete()
    return conflict


def conflict_affected_reviews(*, conflict: Conflict) -> list[Review]:
    """The reviewer's reviews (submitted or draft) that the conflict covers, in its call."""
    reviews = (Review.objects.filter(reviewer_id=conflict.reviewer_id, proposal__call_id=conflict.call_id)
               .select_related("proposal").prefetch_related("proposal__partners"))
    return [r for r in reviews if selectors.conflict_covers(conflict, r.proposal)]


def conflict_decide(*, conflict: Conflict, accept: bool, by: User | None = None, note: str = "") -> Conflict:
    """The programme manager accepts or dismisses a requested conflict.

    Accepting withdraws the reviewer's reviews it covers (`Review.withdrawn_at`: kept with their scores, no
    longer counted in the ranking); the assignments stay, so the reviewer's pages do not change. Not after the
    decisions are released: the published ranking does not move (the request can still be dismissed)."""
    if conflict.status != ConflictStatus.REQUESTED:
        raise ValidationError(_("Cette déclaration a déjà été traitée."))
    call = conflict.call
    if accept and call.released:
        raise ValidationError(_("Les décisions de cet appel sont publiées : le classement ne change plus. La "
                                "demande reste enregistrée ; vous pouvez la classer sans suite."))
    now = timezone.now()
    with transaction.atomic():
        conflict.status = ConflictStatus.ACCEPTED if accept else ConflictStatus.DISMISSED
        conflict.decided_by, conflict.decided_at, conflict.decision_note = by, now, note.strip()[:300]
        conflict.full_clean()
        conflict.save()
        if accept:
            for review in conflict_affected_reviews(conflict=conflict):
                if review.withdrawn_at is None:  # one by one: each withdrawal reaches the audit log
                    review.withdrawn_at, review.withdrawn_for = now, conflict
                    review.save(update_fields=["withdrawn_at", "withdrawn_for", "updated_at"])
    return conflict


def conflict_delete(*, conflict: Conflict) -> None:
    """The reviewer withdraws a pending request on a proposal. Organisation conflicts stay (their state would
    tell the reviewer whether one of their proposals is that organisation's); decided ones are the record."""
    if conflict.status != ConflictStatus.REQUESTED or conflict.proposal_id is None:
        raise ValidationError(_("Cette déclaration ne peut plus être retirée : adressez-vous au responsable de "
                                "programme."))
    conflict.delete()


def _assignable(call: Call) -> None:
    _require_phase(call, Phase.OPEN, Phase.REVIEW, action=_("Affecter des évaluateurs"))


def assignments_auto(*, call: Call, by: User | None = None) -> AssignmentResult:
    """Complete every submitted proposal to k reviewers with the balanced, conflict-free algorithm."""
    _assignable(call)
    proposals = list(Proposal.objects.filter(call=call, status=ProposalStatus.SUBMITTED).values_list("pk", flat=True))
    reviewers = list(selectors.reviewer_pool().values_list("pk", flat=True))
    existing = list(Assignment.objects.filter(proposal__call=call).values_list("proposal_id", "reviewer_id"))
    # Loads count every assignment of the call, including those on withdrawn proposals.
    result = assign_reviewers(proposals, reviewers, call.reviewers_per_proposal,
                              forbidden=selectors.forbidden_pairs(call=call), existing=existing)
    with transaction.atomic():
        for p, r in result.pairs:  # one by one: every assignment reaches the audit log
            Assignment.objects.create(proposal_id=p, reviewer_id=r, source=AssignmentSource.AUTO, assigned_by=by)
    _notify_assigned(call, [r for _p, r in result.pairs], by)
    return result


def assignment_add(*, proposal: Proposal, reviewer: User, by: User | None = None,
                   source: str = AssignmentSource.MANUAL) -> Assignment:
    """Manual override: assign one reviewer (never a conflicting one)."""
    _assignable(proposal.call)
    if proposal.status != ProposalStatus.SUBMITTED:
        raise ValidationError(_("Seules les propositions soumises sont évaluées."))
    if not reviewer.memberships.filter(role="reviewer").exists():
        raise ValidationError(_("Cette personne n'a pas le rôle d'évaluateur."))
    if (proposal.pk, reviewer.pk) in selectors.forbidden_pairs(call=proposal.call):
        raise ValidationError(_("Conflit d'intérêts : cet évaluateur ne peut pas évaluer cette proposition."))
    if Assignment.objects.filter(proposal=proposal, reviewer=reviewer).exists():
        raise ValidationError(_("Cet évaluateur est déjà affecté à cette proposition."))
    assignment = Assignment.objects.create(proposal=proposal, reviewer=reviewer, source=source, assigned_by=by)
    _notify_assigned(proposal.call, [reviewer.pk], by)
    return assignment


def assignment_remove(*, assignment: Assignment) -> None:
    if Review.objects.filter(proposal=assignment.proposal, reviewer=assignment.reviewer,
                             status=ReviewStatus.SUBMITTED).exists():
        raise ValidationError(_("L'évaluation a déjà été soumise : l'affectation ne peut plus être retirée."))
    with transaction.atomic():
        Review.objects.filter(proposal=assignment.proposal, reviewer=assignment.reviewer).delete()
        assignment.delete()


ASSIGNMENT_CSV_COLUMNS = ("proposal_id", "reviewer_email")


def assignments_import_csv(*, call: Call, content: bytes | str, by: User | None = None) -> ImportReport:
    """Bulk assignment from CSV (proposal_id, reviewer_email): validated entirely, then all or nothing."""
    report = ImportReport()
    try:
        _assignable(call)
    except PhaseError as exc:
        report.add_error(1, "*", exc.messages[0])
        return report
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            report.add_error(1, "*", _("le fichier doit être encodé en UTF-8"))
            return report
    reader = csv.DictReader(io.StringIO(content, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ASSIGNMENT_CSV_COLUMNS if c not in header]
    if missing:
        report.add_error(1, ", ".join(missing), _("colonnes manquantes (attendu : %(cols)s)")
                         % {"cols": ", ".join(ASSIGNMENT_CSV_COLUMNS)})
        return report
    reader.fieldnames = header
    proposals = {p.pk: p for p in Proposal.objects.filter(call=call)}
    reviewers = {u.email.lower(): u for u in selectors.reviewer_pool()}
    forbidden = selectors.forbidden_pairs(call=call)
    existing = set(Assignment.objects.filter(proposal__call=call).values_list("proposal_id", "reviewer_id"))
    seen: dict[tuple[int, int], int] = {}
    rows: list[tuple[int, int]] = []
    try:
        for raw in reader:
            line = reader.line_num
            if None in raw:
                report.add_error(line, "*", _("trop de valeurs sur la ligne"))
                continue
            bad_characters = validation.nul_columns({k: v for k, v in raw.items() if isinstance(k, str)})
            if bad_characters:
                report.add_error(line, bad_characters[0], validation.nul_error())
                continue
            pid_text = (raw.get("proposal_id") or "").strip()
            email = (raw.get("reviewer_email") or "").strip().lower()
            proposal = reviewer = None
            pid = validation.parse_id(pid_text)
            if pid is None:
                report.add_error(line, "proposal_id", _("identifiant entier attendu, reçu « %(value)s »")
                                 % {"value": pid_text[:50]})
            else:
                proposal = proposals.get(pid)
                if proposal is None:
                    report.add_error(line, "proposal_id", _("proposition %(id)s inconnue dans cet appel")
                                     % {"id": pid})
                elif proposal.status != ProposalStatus.SUBMITTED:
                    report.add_error(line, "proposal_id", _("la proposition %(id)s n'est pas soumise")
                                     % {"id": pid})
                    proposal = None
            reviewer = reviewers.get(email)
            if reviewer is None:
                report.add_error(line, "reviewer_email", _("« %(email)s » n'est pas un évaluateur")
                                 % {"email": email[:254]})
            if proposal is None or reviewer is None:
                continue
            pair = (proposal.pk, reviewer.pk)
            if pair in forbidden:
                report.add_error(line, "reviewer_email", _("conflit d'intérêts avec la proposition %(id)s")
                                 % {"id": proposal.pk})
            elif pair in existing:
                report.add_error(line, "reviewer_email", _("déjà affecté à la proposition %(id)s")
                                 % {"id": proposal.pk})
            elif pair in seen:
                report.add_error(line, "*", _("ligne en double (déjà ligne %(line)s)") % {"line": seen[pair]})
            else:
                candidate = Assignment(proposal=proposal, reviewer=reviewer, source=AssignmentSource.CSV,
                                       assigned_by=by)
                errors = list(validation.row_errors(line, candidate, exclude=["proposal", "reviewer", "assigned_by"],
                                                    columns={"reviewer": "reviewer_email"}))
                for error in errors:
                    report.add_error(*error)
                if not errors:
                    seen[pair] = line
                    rows.append(pair)
    except csv.Error as exc:
        report.add_error(reader.line_num + 1, "*", _("CSV illisible : %(error)s") % {"error": exc})
    if not rows and report.ok:
        report.add_error(2, "*", _("le fichier ne contient aucune ligne"))
    if not report.ok:
        return report
    with transaction.atomic():
        for p, r in rows:
            Assignment.objects.create(proposal_id=p, reviewer_id=r, source=AssignmentSource.CSV, assigned_by=by)
            report.created += 1
    _notify_assigned(call, [r for _p, r in rows], by)
    return report


def _notify_assigned(call: Call, reviewer_ids: Sequence[int], by: User | None = None) -> None:
    """One e-mail per reviewer: how many proposals were assigned (no applicant identity, blind or not)."""
    from tremplin.web.calls.mails import notify_assigned

    notify_assigned(call=call, reviewer_ids=reviewer_ids, by=by)


# --- reviews -------------------------------------------------------------------------------------------------


def review_save(*, proposal: Proposal, reviewer: User, scores: Mapping[int, tuple[int | None, str]],
                comment: str = "", submit: bool = False) -> Review:
    """Save (or submit) a review: one 0–4 score per criterion with a comment. Only during the review phase."""
    _require_phase(proposal.call, Phase.REVIEW, action=_("Évaluer"))
    if not Assignment.objects.filter(proposal=proposal, reviewer=reviewer).exists():
        raise ValidationError(_("Cette proposition ne vous est pas affectée."))
    criteria = list(proposal.call.criteria.all())
    errors = {}
    for c in criteria:
        value = scores.get(c.pk, (None, ""))[0]
        if value is None:
            if submit:
                errors[f"score_{c.pk}"] = _("Note requise pour soumettre.")
        elif not scoring.SCORE_MIN <= int(value) <= scoring.SCORE_MAX:
            errors[f"score_{c.pk}"] = _("Note entre 0 et 4.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        review, created = Review.objects.get_or_create(proposal=proposal, reviewer=reviewer)
        if created:  # written after one of the reviewer's conflicts on it was accepted: it does not count
            accepted = Conflict.objects.filter(call=proposal.call, reviewer=reviewer, status=ConflictStatus.ACCEPTED)
            covering = [c for c in accepted if selectors.conflict_covers(c, proposal)]
            if covering:
                review.withdrawn_at, review.withdrawn_for = timezone.now(), covering[0]
        review.comment = comment
        review.scores.all().delete()
        for c in criteria:
            if scores.get(c.pk, (None, ""))[0] is not None:
                Score.objects.create(review=review, criterion=c, score=int(scores[c.pk][0]),
                                     comment=scores[c.pk][1] or "")
        given = {c.pk: int(scores[c.pk][0]) for c in criteria if scores.get(c.pk, (None, ""))[0] is not None}
        weights = {c.pk: float(c.weight) for c in criteria}
        review.weighted_score = scoring.weighted_mean(given, weights) if len(given) == len(criteria) else None
        if submit:
            review.status = ReviewStatus.SUBMITTED
            review.submitted_at = timezone.now()
        review.save()
    return review


def reviewer_note_add(*, proposal: Proposal, author: User, text: str) -> ReviewerNote:
    """A note between the reviewers of a proposal; none once the call's decisions are released (the review
    record is closed)."""
    if proposal.call.released:
        raise ValidationError(_("Les décisions de cet appel sont publiées : plus aucune note ne peut être ajoutée."))
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("La note est vide.")})
    note = ReviewerNote(proposal=proposal, author=author, text=text)
    note.full_clean()
    note.save()
    return note


# --- decisions -----------------------------------------------------------------------------------------------


def decision_record(*, proposal: Proposal, outcome: str, reason: str, by: User | None = None) -> Decision:
    """Record (or change) a decision; held until the call's decisions are released together."""
    call = proposal.call
    _require_phase(call, Phase.DELIBERATION, Phase.RESULTS, action=_("Décider"))
    if call.released:
        raise ValidationError(_("Les décisions de cet appel sont déjà publiées."))
    if proposal.status != ProposalStatus.SUBMITTED:
        raise ValidationError(_("Seule une proposition soumise peut faire l'objet d'une décision."))
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": _("Décision inconnue (valeurs permises : %(allowed)s).")
                               % {"allowed": ", ".join(Outcome.values)}})
    if not reason.strip():
        raise ValidationError({"reason": _("Le motif est obligatoire.")})
    decision, _created = Decision.objects.update_or_create(
        proposal=proposal, defaults={"outcome": outcome, "reason": reason.strip(), "decided_by": by})
    return decision


def decisions_release(*, call: Call, by: User | None = None) -> int:
    """Release every decision of the call at once, mark the selected proposals and e-mail the applicants."""
    _require_phase(call, Phase.DELIBERATION, Phase.RESULTS, action=_("Publier les décisions"))
    if call.released:
        raise ValidationError(_("Les décisions de cet appel sont déjà publiées."))
    submitted = Proposal.objects.filter(call=call, status=ProposalStatus.SUBMITTED)
    undecided = submitted.filter(decision__isnull=True).count()
    if undecided:
        raise ValidationError(_("%(n)s proposition(s) soumise(s) sans décision : décidez de toutes avant de "
                                "publier.") % {"n": undecided})
    now = timezone.now()
    with transaction.atomic():
        call.decisions_released_at = now
        call.save(update_fields=["decisions_released_at"])
        for proposal in submitted.select_related("decision", "organisation"):
            if proposal.decision.outcome == Outcome.SELECTED:
                proposal.selected_at = now
                proposal.save(update_fields=["selected_at", "updated_at"])
            proposal.decision.notified_at = now
            proposal.decision.save(update_fields=["notified_at"])
        decisions = list(Decision.objects.filter(proposal__call=call, proposal__status=ProposalStatus.SUBMITTED)
                         .select_related("proposal", "proposal__organisation"))
    from tremplin.web.calls.mails import notify_decisions

    notify_decisions(call=call, decisions=decisions, by=by)  # held in the outbox by default (calls.mails)
    return len(decisions)


# --- bulk actions (issue 18, item 4) -------------------------------------------------------------------------


def _call_proposals(call: Call, ids: Iterable[int], *, label: str) -> list[int]:
    """`ids` as submitted proposals of `call`, or a ValidationError naming the others."""
    ids = sorted(set(ids))
    known = set(Proposal.objects.filter(call=call, status=ProposalStatus.SUBMITTED, pk__in=ids)
                .values_list("pk", flat=True)) if ids else set()
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ValidationError({label: _("Propositions inconnues dans cet appel ou non soumises : %(ids)s")
                               % {"ids": ", ".join(f"#{i}" for i in unknown[:20])}})
    return ids


def decisions_bulk(*, call: Call, chosen: Iterable[int], outcome: str, reason: str, others: Iterable[int] = (),
                   others_outcome: str = "", others_reason: str = "", overwrite: bool = False,
                   mode: str = "selection", by: User | None = None) -> dict[str, int]:
    """Decide many proposals at once: `outcome` for `chosen`, and `others_outcome` (if any) for `others`.

    Proposals already decided keep their decision unless `overwrite`. All or nothing: every id is checked before
    anything is written. Each decision is audited like a single one, and the bulk action itself gets an entry on
    the call (mode, outcomes, ids). Returns {"decided": n, "kept": n}.
    """
    _require_phase(call, Phase.DELIBERATION, Phase.RESULTS, action=_("Décider"))
    if call.released:
        raise ValidationError(_("Les décisions de cet appel sont déjà publiées."))
    allowed = ", ".join(Outcome.values)
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": _("Décision inconnue (valeurs permises : %(allowed)s).")
                               % {"allowed": allowed}})
    if others_outcome and others_outcome not in Outcome.values:
        raise ValidationError({"others_outcome": _("Décision inconnue (valeurs permises : %(allowed)s).")
                               % {"allowed": allowed}})
    chosen = _call_proposals(call, chosen, label="chosen")
    others = _call_proposals(call, others, label="others") if others_outcome else []
    if not chosen and not others:
        raise ValidationError(_("Aucune proposition ne correspond : rien n'a été décidé."))
    if set(chosen) & set(others):
        raise ValidationError(_("Une proposition ne peut pas recevoir deux décisions."))
    reason, others_reason = (reason or "").strip(), (others_reason or "").strip()
    if chosen and not reason:
        raise ValidationError({"reason": _("Le motif est obligatoire.")})
    if others and not others_reason:
        raise ValidationError({"others_reason": _("Le motif est obligatoire.")})
    decided = set(Decision.objects.filter(proposal_id__in=[*chosen, *others]).values_list("proposal_id", flat=True))
    plan = [(pk, outcome, reason) for pk in chosen] + [(pk, others_outcome, others_reason) for pk in others]
    if not overwrite:
        plan = [item for item in plan if item[0] not in decided]
    with transaction.atomic():
        for pk, item_outcome, item_reason in plan:  # one by one: every decision reaches the audit log
            Decision.objects.update_or_create(proposal_id=pk, defaults={
                "outcome": item_outcome, "reason": item_reason, "decided_by": by})
        summary: dict[str, list[int]] = defaultdict(list)
        for pk, item_outcome, _reason in plan:
            summary[item_outcome].append(pk)
        write_entry(action=AuditAction.UPDATE, instance=call, actor=by, changes={"bulk_decisions": [None, {
            "mode": mode, "overwrite": overwrite, "kept": len(chosen) + len(others) - len(plan), **summary}]})
    return {"decided": len(plan), "kept": len(chosen) + len(others) - len(plan)}


def assignments_bulk(*, call: Call, proposals: Iterable[int], reviewer: User, action: str,
                     by: User | None = None) -> dict[str, int]:
    """Assign `reviewer` to many proposals, or take them off many (`action`: "assign" or "unassign").

    All or nothing: conflicts (assign) or submitted reviews (unassign) on any of them refuse the whole action,
    naming the proposals. Already assigned (or not assigned) proposals are skipped. Returns {"done", "skipped"}.
    """
    _assignable(call)
    if action not in ("assign", "unassign"):
        raise ValidationError({"action": _("Action inconnue (valeurs permises : assign, unassign).")})
    ids = _call_proposals(call, proposals, label="proposals")
    if not ids:
        raise ValidationError({"proposals": _("Cochez au moins une proposition.")})
    current = set(Assignment.objects.filter(proposal__call=call, proposal_id__in=ids, reviewer=reviewer)
                  .values_list("proposal_id", flat=True))
    if action == "assign":
        if not reviewer.memberships.filter(role="reviewer").exists():
            raise ValidationError({"reviewer": _("Cette personne n'a pas le rôle d'évaluateur.")})
        forbidden = selectors.forbidden_pairs(call=call)
        conflicted = [pk for pk in ids if (pk, reviewer.pk) in forbidden]
        if conflicted:
            raise ValidationError({"reviewer": _("Conflit d'intérêts avec les propositions %(ids)s : rien n'a été "
                                                 "affecté.") % {"ids": ", ".join(f"#{i}" for i in conflicted)}})
        todo = [pk for pk in ids if pk not in current]
        with transaction.atomic():
            for pk in todo:  # one by one: every assignment reaches the audit log
                Assignment.objects.create(proposal_id=pk, reviewer=reviewer, source=AssignmentSource.MANUAL,
                                          assigned_by=by)
        _notify_assigned(call, [reviewer.pk] * len(todo), by)
        return {"done": len(todo), "skipped": len(ids) - len(todo)}
    reviewed = sorted(Review.objects.filter(proposal_id__in=current, reviewer=reviewer,
                                            status=ReviewStatus.SUBMITTED).values_list("proposal_id", flat=True))
    if reviewed:
        raise ValidationError({"reviewer": _("Évaluations déjà soumises sur les propositions %(ids)s : aucune "
                                             "affectation n'a été retirée.")
                               % {"ids": ", ".join(f"#{i}" for i in reviewed)}})
    with transaction.atomic():
        for assignment in Assignment.objects.filter(proposal_id__in=current, reviewer=reviewer):
            assignment_remove(assignment=assignment)
    return {"done": len(current), "skipped": len(ids) - len(current)}
