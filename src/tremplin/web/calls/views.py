"""Pages of the calls app: calls, proposals, assignment, reviews, ranking, decisions, exports, results."""

from __future__ import annotations

import io

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tremplin.web.accounts.models import Sector, Territory, User
from tremplin.web.calls import exports, selectors, services
from tremplin.web.calls.anonymise import UnreadablePdf, pdf_without_identity
from tremplin.web.calls.filters import UNDECIDED, CallFilters, ProposalFilters
from tremplin.web.calls.filters import proposal_ids as filters_ids
from tremplin.web.calls.forms import (
    AssignmentCsvForm,
    AttachmentForm,
    BudgetLineFormSet,
    BulkAssignmentForm,
    BulkDecisionForm,
    CallForm,
    ConflictDecisionForm,
    ConflictForm,
    CriterionFormSet,
    DecisionForm,
    ExportSelectionForm,
    ManualAssignmentForm,
    NoteForm,
    ProposalForm,
    ReviewForm,
    budget_lines_from,
)
from tremplin.web.calls.models import (
    Assignment,
    Attachment,
    Call,
    Conflict,
    ConflictStatus,
    Outcome,
    Phase,
    Proposal,
    ProposalStatus,
    Review,
    ReviewStatus,
)
from tremplin.web.calls.selection import KnapsackItem, knapsack
from tremplin.web.core.access import PUBLIC, Expect, only_roles, view_access
from tremplin.web.core.querystring import query_float
from tremplin.web.core.uploads import upload_limit, upload_refusal
from tremplin.web.core.validation import parse_id

MANAGERS = ("admin", "programme_manager")
RANKING_PAGE_SIZE = 100
ASSIGNMENT_PAGE_SIZE = 100
CALL_PAGE_SIZE = 50
SUGGESTION_AUTO_MAX = 2000
# Platform admins are superusers: every permission is granted to them (Django ModelBackend).
ADMIN_200 = {"admin": 200}
ADMIN_302 = {"admin": 302}


def _call(request, pk: int, **kwargs) -> Call:
    return get_object_or_404(Call, pk=pk)


def _proposal(request, pk: int, **kwargs) -> Proposal:
    return get_object_or_404(Proposal.objects.select_related("call", "organisation"), pk=pk)


def _attachment(request, pk: int, attachment_pk: int, **kwargs) -> Attachment:
    return get_object_or_404(Attachment.objects.select_related("proposal", "proposal__call"), pk=attachment_pk,
                             proposal_id=pk)


def _errors(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- calls ---------------------------------------------------------------------------------------------------


@view_access("calls.view_call_list", public=True, expect=PUBLIC)
def call_list(request):
    """The calls: public (anonymous visitors see the open calls by default, and any call that is not a draft),
    with search and filters (text, sector, territory, phase)."""
    user = request.user
    filters = CallFilters.from_query(request.GET, default_phase="" if user.is_authenticated else Phase.OPEN)
    calls = [c for c in filters.apply(selectors.call_list_for_user(user=user)) if filters.keep(c)]
    page = Paginator(calls, CALL_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "calls/call_list.html", {
        "page": page, "calls": page.object_list, "filters": filters, "can_add": user.has_perm("calls.add_call"),
        "sectors": Sector.choices, "territories": Territory.objects.order_by("code").only("pk", "code", "name"),
        "phases": [(p, label) for p, label in Phase.choices if p != Phase.DRAFT or selectors.is_manager(user)],
        "show_counts": user.is_authenticated})


@require_http_methods(["GET", "POST"])
@view_access("calls.add_call", expect=only_roles(*MANAGERS))
def call_create(request):
    form = CallForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            call = services.call_create(created_by=request.user, **data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Appel créé avec la grille d'évaluation par défaut."))
            return redirect("calls:call-detail", pk=call.pk)
    return render(request, "calls/call_form.html", {"form": form, "title": _("Nouvel appel de solutions")})


@view_access("calls.view_call", public=True, expect=Expect(anonymous=200, default=200, sample="call"),
             get_object=_call)
def call_detail(request, pk: int, obj: Call):
    """A call's page, public once the call is open: what an applicant needs (text, conditions, dates, grid).
    Anonymous visitors do not see the network's problems behind it (problems are not public) nor any
    proposal; the applicants' identity is never on this page, blind call or not."""
    user = request.user
    context = {
        "call": obj, "phase": obj.phase, "phases": Phase, "criteria": list(obj.criteria.all()),
        "problems": list(obj.problems.all()) if user.is_authenticated else [],
        "territories": list(obj.eligible_territories.all()),
        "sectors": [Sector(s).label for s in obj.eligible_sectors],
        "can_manage": user.has_perm("calls.manage_call", obj),
        "can_propose": user.has_perm("calls.add_proposal", obj),
        "can_declare": user.has_perm("calls.declare_conflict", obj),
        "my_proposals": list(selectors.my_proposals(user=user).filter(call=obj)) if user.is_authenticated else [],
        "login_to_propose": not user.is_authenticated and obj.phase == Phase.OPEN,
    }
    if context["can_manage"]:
        counts = dict(obj.proposals.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        context["counts"] = [(ProposalStatus(s).label, counts[s]) for s in ProposalStatus.values if s in counts]
        context["pending_conflicts"] = obj.conflicts.filter(status=ConflictStatus.REQUESTED).count()
    return render(request, "calls/call_detail.html", context)


@require_http_methods(["GET", "POST"])
@view_access("calls.change_call", get_object=_call, expect=only_roles(*MANAGERS, sample="call"))
def call_edit(request, pk: int, obj: Call):
    form = CallForm(request.POST or None, instance=obj)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        problems, territories = data.pop("problems"), data.pop("eligible_territories")
        try:
            services.call_update(call=obj, problems=problems, eligible_territories=territories, **data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Appel mis à jour."))
            return redirect("calls:call-detail", pk=obj.pk)
    return render(request, "calls/call_form.html", {"form": form, "title": obj.title, "call": obj})


@require_http_methods(["GET", "POST"])
@view_access("calls.change_call", get_object=_call, expect=only_roles(*MANAGERS, sample="call"))
def call_criteria(request, pk: int, obj: Call):
    initial = [{"name": c.name, "description": c.description, "weight": c.weight, "rubric": "\n".join(c.rubric)}
               for c in obj.criteria.all()]
    formset = CriterionFormSet(request.POST or None, initial=initial, prefix="criteria")
    editable = obj.phase == Phase.DRAFT
    if request.method == "POST" and formset.is_valid():
        criteria = [f.cleaned_data for f in formset.forms
                    if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("name")]
        try:
            services.criteria_replace(call=obj, criteria=criteria)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, _("Grille d'évaluation enregistrée."))
            return redirect("calls:call-detail", pk=obj.pk)
    return render(request, "calls/call_criteria.html", {"call": obj, "formset": formset, "editable": editable})


# --- proposals -----------------------------------------------------------------------------------------------


def _proposal_forms(request, *, call, user, instance=None):
    initial_lines = [{"label": line.label, "amount": line.amount} for line in instance.budget_lines.all()] \
        if instance is not None else []
    form = ProposalForm(request.POST or None, instance=instance, user=user, call=call)
    budget = BudgetLineFormSet(request.POST or None, initial=initial_lines, prefix="budget")
    return form, budget


def _proposal_kwargs(form, budget) -> dict:
    data = form.cleaned_data
    return {"organisation": data["organisation"], "title": data["title"], "summary": data["summary"],
            "description": data["description"], "evidence_level": data["evidence_level"],
            "partners": list(data["partners"]), "territories": list(data["territories"]),
            "budget_lines": budget_lines_from(budget)}


@require_http_methods(["GET", "POST"])
@view_access("calls.add_proposal", get_object=_call, expect=only_roles("innovator", "admin", sample="call"))
def proposal_create(request, pk: int, obj: Call):
    form, budget = _proposal_forms(request, call=obj, user=request.user)
    if request.method == "POST" and form.is_valid() and budget.is_valid():
        try:
            proposal = services.proposal_create(call=obj, user=request.user, **_proposal_kwargs(form, budget))
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Brouillon enregistré : ajoutez vos pièces jointes puis soumettez."))
            return redirect("calls:proposal-detail", pk=proposal.pk)
    return render(request, "calls/proposal_form.html", {"form": form, "budget": budget, "call": obj,
                                                         "title": _("Nouvelle proposition")})


@require_http_methods(["GET", "POST"])
@view_access("calls.change_proposal", get_object=_proposal, expect=Expect(anonymous=302, default=403,
                                                                           roles=ADMIN_302, sample="proposal"))
def proposal_edit(request, pk: int, obj: Proposal):
    if obj.status != ProposalStatus.DRAFT or obj.call.phase != Phase.OPEN:
        messages.error(request, _("Cette proposition ne peut plus être modifiée (soumise, retirée ou appel clos)."))
        return redirect("calls:proposal-detail", pk=obj.pk)
    form, budget = _proposal_forms(request, call=obj.call, user=request.user, instance=obj)
    if request.method == "POST" and form.is_valid() and budget.is_valid():
        try:
            services.proposal_update(proposal=obj, user=request.user, **_proposal_kwargs(form, budget))
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Brouillon enregistré."))
            return redirect("calls:proposal-detail", pk=obj.pk)
    return render(request, "calls/proposal_form.html", {"form": form, "budget": budget, "call": obj.call,
                                                         "proposal": obj, "title": obj.title})


@view_access("calls.view_proposal", get_object=_proposal, expect=only_roles(*MANAGERS, sample="proposal"))
def proposal_detail(request, pk: int, obj: Proposal):
    user = request.user
    blind = selectors.identity_hidden(user=user, proposal=obj)
    is_manager = selectors.is_manager(user)
    is_reviewer = obj.assignments.filter(reviewer=user).exists()
    decision = None
    if obj.call.released or is_manager:
        decision = getattr(obj, "decision", None) if hasattr(obj, "decision") else None
    context = {
        "proposal": obj, "call": obj.call, "blind": blind, "decision": decision,
        "partners": [] if blind else list(obj.partners.all()),
        "territories": list(obj.territories.all()), "budget_lines": list(obj.budget_lines.all()),
        "attachments": list(obj.attachments.all()),
        "can_edit": user.has_perm("calls.change_proposal", obj) and obj.status == ProposalStatus.DRAFT
        and obj.call.phase == Phase.OPEN,
        "can_withdraw": user.has_perm("calls.change_proposal", obj) and obj.status != ProposalStatus.WITHDRAWN
        and obj.call.phase in (Phase.OPEN, Phase.REVIEW),
        "is_reviewer": is_reviewer, "is_manager": is_manager,
        "attachment_form": AttachmentForm(),
    }
    if is_manager:
        context["reviews"] = list(obj.reviews.select_related("reviewer").prefetch_related("scores__criterion"))
        context["assignments"] = list(obj.assignments.select_related("reviewer"))
        context["notes"] = list(obj.reviewer_notes.select_related("author"))
        context["note_form"] = NoteForm()
    return render(request, "calls/proposal_detail.html", context)


@require_POST
@view_access("calls.change_proposal", get_object=_proposal,
             expect=Expect(anonymous=302, default=403, roles=ADMIN_302, sample="proposal", methods=("POST",)))
def proposal_submit(request, pk: int, obj: Proposal):
    try:
        services.proposal_submit(proposal=obj, user=request.user)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("Proposition soumise. Vous serez informé de la décision à sa publication."))
    return redirect("calls:proposal-detail", pk=obj.pk)


@require_POST
@view_access("calls.change_proposal", get_object=_proposal,
             expect=Expect(anonymous=302, default=403, roles=ADMIN_302, sample="proposal", methods=("POST",)))
def proposal_withdraw(request, pk: int, obj: Proposal):
    try:
        services.proposal_withdraw(proposal=obj, user=request.user)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("Proposition retirée."))
    return redirect("calls:proposal-detail", pk=obj.pk)


@upload_limit(services.MAX_ATTACHMENT_BYTES)
@require_POST
@view_access("calls.change_proposal", get_object=_proposal,
             expect=Expect(anonymous=302, default=403, roles=ADMIN_302, sample="proposal", methods=("POST",)))
def attachment_upload(request, pk: int, obj: Proposal):
    form = AttachmentForm(request.POST, request.FILES)
    if refused := upload_refusal(request):  # stopped while it streamed in: nothing was stored
        messages.error(request, refused.message)
    elif form.is_valid():
        try:
            services.attachment_add(proposal=obj, user=request.user, uploaded=form.cleaned_data["file"])
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, _("Pièce jointe ajoutée."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("calls:proposal-detail", pk=obj.pk)


@require_POST
@view_access("calls.change_proposal", get_object=_proposal,
             expect=Expect(anonymous=302, default=403, roles=ADMIN_302, sample="proposal", methods=("POST",)))
def attachment_delete(request, pk: int, obj: Proposal):
    attachment = obj.attachments.filter(pk=request.POST.get("attachment") or 0).first()
    if attachment is None:
        messages.error(request, _("Pièce jointe introuvable."))
    else:
        try:
            services.attachment_delete(attachment=attachment, user=request.user)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, _("Pièce jointe supprimée."))
    return redirect("calls:proposal-detail", pk=obj.pk)


@view_access("calls.view_attachment", get_object=_attachment, expect=only_roles(*MANAGERS, sample="attachment"))
def attachment_download(request, pk: int, attachment_pk: int, obj: Attachment):
    blind = selectors.identity_hidden(user=request.user, proposal=obj.proposal)
    filename = f"piece-jointe-{obj.pk}.pdf" if blind else obj.original_name
    try:
        handle = obj.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    if blind:  # a copy without the author's name in the PDF's metadata
        with handle:
            data = handle.read()
        try:
            handle = io.BytesIO(pdf_without_identity(data))
        except UnreadablePdf:
            messages.error(request, _("Cette pièce jointe n'a pas pu être anonymisée (PDF illisible ou protégé par "
                                      "un mot de passe) : elle n'est pas transmise en évaluation à l'aveugle. "
                                      "Le gestionnaire de l'appel peut en demander une version lisible."))
            return redirect("calls:proposal-detail", pk=obj.proposal_id)
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type="application/pdf")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@view_access("calls.view_my_proposals", expect=only_roles("innovator", "admin"))
def my_proposals(request):
    return render(request, "calls/my_proposals.html", {
        "proposals": list(selectors.my_proposals(user=request.user)),
        "open_calls": [c for c in selectors.call_list_for_user(user=request.user) if c.phase == Phase.OPEN]})


# --- reviewers -----------------------------------------------------------------------------------------------


@view_access("calls.view_review_queue", expect=only_roles("reviewer", "admin"))
def review_queue(request):
    items = selectors.review_queue(user=request.user)
    return render(request, "calls/review_queue.html", {
        "pending": [i for i in items if not i.done], "done": [i for i in items if i.done],
        "calls": [c for c in selectors.call_list_for_user(user=request.user) if c.phase != Phase.RESULTS]})


@require_http_methods(["GET", "POST"])
@view_access("calls.review_proposal", get_object=_proposal, expect=Expect(anonymous=302, default=403,
                                                                           roles=ADMIN_200, sample="proposal"))
def review_edit(request, pk: int, obj: Proposal):
    user = request.user
    review = Review.objects.filter(proposal=obj, reviewer=user).prefetch_related("scores").first()
    criteria = list(obj.call.criteria.all())
    form = ReviewForm(request.POST or None, criteria=criteria, review=review)
    can_review = obj.call.phase == Phase.REVIEW and obj.status == ProposalStatus.SUBMITTED
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("action", "save")
        submit = action in {"submit", "submit_next"}
        try:
            review = services.review_save(proposal=obj, reviewer=user, scores=form.scores(),
                                          comment=form.cleaned_data["comment"], submit=submit)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Évaluation soumise.") if submit else _("Évaluation enregistrée."))
            if action == "submit_next":
                following = selectors.next_pending(user=user, after=obj)
                if following is not None:
                    return redirect("calls:review-edit", pk=following.pk)
                messages.info(request, _("Plus aucune proposition en attente : merci !"))
                return redirect("calls:review-queue")
            return redirect("calls:review-edit", pk=obj.pk)
    others = []
    if selectors.others_reviews_visible(user=user, proposal=obj, own=review):
        others = list(obj.reviews.filter(status=ReviewStatus.SUBMITTED, withdrawn_at__isnull=True).exclude(reviewer=user)
                      .prefetch_related("scores__criterion"))
    return render(request, "calls/review_form.html", {
        "proposal": obj, "call": obj.call, "form": form, "review": review, "can_review": can_review,
        "blind": selectors.identity_hidden(user=user, proposal=obj),
        "partners": [] if selectors.identity_hidden(user=user, proposal=obj) else list(obj.partners.all()),
        "budget_lines": list(obj.budget_lines.all()), "attachments": list(obj.attachments.all()),
        "territories": list(obj.territories.all()), "others": others,
        "notes": list(obj.reviewer_notes.select_related("author")), "note_form": NoteForm(),
    })


@require_POST
@view_access("calls.write_reviewer_note", get_object=_proposal,
             expect=Expect(anonymous=302, default=403, roles=dict.fromkeys(MANAGERS, 302), sample="proposal",
                           methods=("POST",)))
def note_add(request, pk: int, obj: Proposal):
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.reviewer_note_add(proposal=obj, author=request.user, text=form.cleaned_data["text"])
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, _("Note ajoutée."))
    else:
        messages.error(request, _("La note est vide."))
    if obj.assignments.filter(reviewer=request.user).exists():
        return redirect("calls:review-edit", pk=obj.pk)
    return redirect("calls:proposal-detail", pk=obj.pk)


@require_http_methods(["GET", "POST"])
@view_access("calls.declare_conflict", get_object=_call, expect=only_roles("reviewer", "admin", sample="call"))
def call_conflicts(request, pk: int, obj: Call):
    form = ConflictForm(request.POST or None, call=obj, reviewer=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            conflict = services.conflict_declare(
                call=obj, reviewer=request.user, proposal=form.cleaned_data["proposal"],
                organisation=form.cleaned_data["organisation"], reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            if conflict.organisation_id:  # the same words whichever assignments the organisation has
                messages.success(request, _(
                    "Déclaration transmise au responsable de programme. Les propositions de cette organisation ne "
                    "vous seront plus affectées. Pour préserver l'anonymat des candidats, vos affectations actuelles "
                    "ne changent pas : si le responsable accepte, celles de vos évaluations qui seraient concernées "
                    "ne compteront pas. Si vous reconnaissez une proposition, déclarez un conflit sur celle-ci."))
            elif conflict.status == ConflictStatus.ACCEPTED:
                messages.success(request, _("Conflit déclaré : cette proposition ne vous est plus affectée."))
            else:
                messages.success(request, _("Demande transmise au responsable de programme : votre évaluation est "
                                            "conservée et compte tant qu'il n'a pas accepté le conflit."))
            return redirect("calls:call-conflicts", pk=obj.pk)
    assigned = set(Assignment.objects.filter(reviewer=request.user, proposal__call=obj)
                   .values_list("proposal_id", flat=True))
    conflicts = list(Conflict.objects.filter(call=obj, reviewer=request.user).select_related("proposal",
                                                                                            "organisation"))
    return render(request, "calls/conflicts.html", {"call": obj, "form": form, "conflicts": conflicts,
                                                    "assigned": assigned, "final": services.reviews_final(obj)},
                  status=400 if request.method == "POST" else 200)


@require_POST
@view_access("calls.declare_conflict", get_object=_call,
             expect=Expect(anonymous=302, default=403, roles={"reviewer": 302, "admin": 302}, sample="call",
                           methods=("POST",)))
def conflict_delete(request, pk: int, obj: Call):
    conflict = Conflict.objects.filter(call=obj, reviewer=request.user, pk=request.POST.get("conflict") or 0).first()
    if conflict is None:
        messages.error(request, _("Conflit introuvable."))
    else:
        try:
            services.conflict_delete(conflict=conflict)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, _("Demande retirée."))
    return redirect("calls:call-conflicts", pk=obj.pk)


# --- managers: assignment, ranking, decisions, exports -------------------------------------------------------


@view_access("calls.manage_call", get_object=_call, expect=only_roles(*MANAGERS, sample="call"))
def call_assignments(request, pk: int, obj: Call):
    filters = ProposalFilters.from_query(request.GET)
    listed = Proposal.objects.filter(call=obj, status=ProposalStatus.SUBMITTED)
    if filters.active:
        listed = filters.apply_scores(filters.apply(listed))
    page = Paginator(listed.select_related("organisation").order_by("pk"), ASSIGNMENT_PAGE_SIZE).get_page(
        request.GET.get("page"))
    proposals = list(page.object_list)
    shown = [p.pk for p in proposals]
    assignments: dict[int, list[Assignment]] = {}
    for a in (Assignment.objects.filter(proposal__call=obj, proposal_id__in=shown).select_related("reviewer")
              .order_by("reviewer__email")):
        assignments.setdefault(a.proposal_id, []).append(a)
    done = set(Review.objects.filter(proposal_id__in=shown, status=ReviewStatus.SUBMITTED, withdrawn_at__isnull=True)
               .values_list("proposal_id", "reviewer_id"))
    withdrawn = set(Review.objects.filter(proposal_id__in=shown, withdrawn_at__isnull=False)
                    .values_list("proposal_id", "reviewer_id"))
    conflicted = selectors.forbidden_pairs(call=obj)
    loads = list(selectors.reviewer_pool().annotate(
        load=Count("call_assignments", filter=Q(call_assignments__proposal__call=obj))))
    rows = [(p, [(a, (a.proposal_id, a.reviewer_id) in done, (a.proposal_id, a.reviewer_id) in withdrawn,
                  (a.proposal_id, a.reviewer_id) in conflicted) for a in assignments.get(p.pk, [])])
            for p in proposals]
    return render(request, "calls/assignments.html", {
        "call": obj, "rows": rows, "loads": loads, "manual_form": ManualAssignmentForm(), "page": page,
        "filters": filters, "bulk_form": BulkAssignmentForm(), **_filter_choices(),
        "pending_conflicts": Conflict.objects.filter(call=obj, status=ConflictStatus.REQUESTED).count(),
        "csv_form": AssignmentCsvForm(), "can_assign": obj.phase in (Phase.OPEN, Phase.REVIEW)})


@require_POST
@view_access("calls.manage_call", get_object=_call,
             expect=Expect(anonymous=302, default=403, roles=dict.fromkeys(MANAGERS, 302), sample="call",
                           methods=("POST",)))
def assignments_auto(request, pk: int, obj: Call):
    try:
        result = services.assignments_auto(call=obj, by=request.user)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("%(n)s affectations créées.") % {"n": len(result.pairs)})
        if result.shortfall:
            messages.warning(request, _("Pas assez d'évaluateurs sans conflit pour %(n)s proposition(s).")
                             % {"n": len(result.shortfall)})
    return redirect("calls:call-assignments", pk=obj.pk)


@require_POST
@view_access("calls.manage_call", get_object=_call,
             expect=Expect(anonymous=302, default=403, roles=dict.fromkeys(MANAGERS, 302), sample="call",
                           methods=("POST",)))
def assignment_manual(request, pk: int, obj: Call):
    form = ManualAssignmentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Indiquez une proposition et l'adresse d'un évaluateur."))
        return redirect("calls:call-assignments", pk=obj.pk)
    proposal = Proposal.objects.filter(call=obj, pk=form.cleaned_data["proposal"]).first()
    reviewer = User.objects.filter(email__iexact=form.cleaned_data["reviewer"]).first()
    if proposal is None or reviewer is None:
        messages.error(request, _("Proposition ou évaluateur inconnu."))
        return redirect("calls:call-assignments", pk=obj.pk)
    try:
        services.assignment_add(proposal=proposal, reviewer=reviewer, by=request.user)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("Évaluateur affecté."))
    return redirect("calls:call-assignments", pk=obj.pk)


@require_POST
@view_access("calls.manage_call", get_object=_call,
             expect=Expect(anonymous=302, default=403, roles=dict.fromkeys(MANAGERS, 302), sample="call",
                           methods=("POST",)))
def assignment_remove(request, pk: int, obj: Call):
    assignment = Assignment.objects.filter(proposal__call=obj, pk=request.POST.get("assignment") or 0).first()
    if assignment is None:
        messages.error(request, _("Affectation introuvable."))
    else:
        try:
            services.assignment_remove(assignment=assignment)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, _("Affectation retirée."))
    return redirect("calls:call-assignments", pk=obj.pk)


@require_http_methods(["GET", "POST"])
@view_access("calls.manage_call", get_object=_call, expect=only_roles(*MANAGERS, sample="call"))
def assignments_csv(request, pk: int, obj: Call):
    form = AssignmentCsvForm(request.POST or None, request.FILES or None)
    report = None
    if refused := upload_refusal(request):  # over UPLOAD_MAX_BYTES, stopped while it streamed in
        messages.error(request, refused.message)
        form = AssignmentCsvForm()
    elif request.method == "POST" and form.is_valid():
        report = services.assignments_import_csv(call=obj, content=form.cleaned_data["file"].read(), by=request.user)
        if report.ok:
            messages.success(request, _("%(n)s affectations importées.") % {"n": report.created})
            return redirect("calls:call-assignments", pk=obj.pk)
    status = 400 if report is not None and not report.ok else 200
    return render(request, "calls/assignments_csv.html", {"call": obj, "form": form, "report": report},
                  status=status)


@require_http_methods(["GET", "POST"])
@view_access("calls.manage_call", get_object=_call, expect=only_roles(*MANAGERS, sample="call"))
def call_conflicts_manage(request, pk: int, obj: Call):
    """The call's declared conflicts, with the assignments and reviews each one covers: accept or dismiss."""
    form = ConflictDecisionForm(request.POST or None)
    if request.method == "POST":
        conflict = Conflict.objects.filter(call=obj, pk=form.cleaned_data["conflict"]).first() \
            if form.is_valid() else None
        if conflict is None:
            messages.error(request, _("Conflit introuvable."))
        else:
            accept = form.cleaned_data["action"] == "accept"
            try:
                services.conflict_decide(conflict=conflict, accept=accept, by=request.user,
                                         note=form.cleaned_data["note"])
            except ValidationError as exc:
                _errors(request, exc)
            else:
                messages.success(request, _("Conflit accepté : les évaluations concernées ne comptent plus.")
                                 if accept else _("Déclaration classée sans suite."))
        return redirect("calls:call-conflicts-manage", pk=obj.pk)
    return render(request, "calls/conflicts_manage.html", {
        "call": obj, "rows": selectors.conflicts_for_manager(call=obj), "released": obj.released,
        "statuses": ConflictStatus})


def _suggestion(call: Call, ranking: selectors.CallRanking, min_score: float) -> tuple[set[int], object]:
    """Knapsack over the proposals of the list (all, or those the filters keep) whose mean score reaches
    `min_score` (value = mean weighted score), within the call's envelope."""
    items = [KnapsackItem(pk, amount, mean) for pk, amount, mean in ranking.scored(min_score)
             if ranking.keep is None or pk in ranking.keep]
    result = knapsack(items, call.budget_envelope)
    return set(result.chosen), result


def _min_score(request) -> float:
    return _min_score_from(request.GET)


@view_access("calls.manage_call", get_object=_call, expect=only_roles(*MANAGERS, sample="call"))
def call_ranking(request, pk: int, obj: Call):
    # One aggregate query orders the proposals; only the displayed page is computed in full (CallRanking).
    filters = ProposalFilters.from_query(request.GET)
    ranking = selectors.CallRanking(call=obj, keep=filters_ids(call=obj, filters=filters) if filters.active else None)
    min_score = _min_score(request)
    # The suggestion is computed at once for usual calls, on request for very large ones (it takes ~0.1 s
    # per 10,000 candidates).
    compute = len(ranking) <= SUGGESTION_AUTO_MAX or request.GET.get("suggest") == "1"
    suggested, result = _suggestion(obj, ranking, min_score) if compute else (set(), None)
    decided_budget, undecided = selectors.ranking_totals(call=obj)
    page = Paginator(ranking, RANKING_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "calls/ranking.html", {
        "call": obj, "rows": page.object_list, "page": page, "suggested": suggested, "suggestion": result,
        # Labels translated once, not in each row's form.
        "outcomes": [(value, str(label)) for value, label in Outcome.choices], "min_score": min_score,
        "can_decide": obj.phase in (Phase.DELIBERATION, Phase.RESULTS) and not obj.released,
        "decided_budget": decided_budget, "undecided": undecided, "filters": filters, "total": len(ranking),
        "bulk_form": BulkDecisionForm(initial={"threshold": min_score or None}), **_filter_choices(),
    })


@require_POST
@view_access("calls.manage_call", get_object=_proposal,
             expect=Expect(anonymous=302, default=403, roles=dict.fromkeys(MANAGERS, 302), sample="proposal",
                           methods=("POST",)))
def decision_record(request, pk: int, obj: Proposal):
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            services.decision_record(proposal=obj, outcome=form.cleaned_data["outcome"],
                                     reason=form.cleaned_data["reason"], by=request.user)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, _("Décision enregistrée (non publiée)."))
    else:
        messages.error(request, _("Choisissez une décision et indiquez un motif."))
    return redirect("calls:call-ranking", pk=obj.call_id)


@require_POST
@view_access("calls.manage_call", get_object=_call,
             expect=Expect(anonymous=302, default=403, roles=dict.fromkeys(MANAGERS, 302), sample="call",
                           methods=("POST",)))
def decisions_release(request, pk: int, obj: Call):
    try:
        n = services.decisions_release(call=obj, by=request.user)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("%(n)s décisions publiées et notifiées.") % {"n": n})
    return redirect("calls:call-ranking", pk=obj.pk)


@view_access("calls.manage_call", get_object=_call, expect=only_roles(*MANAGERS, sample="call"))
def call_export(request, pk: int, obj: Call):
    what = request.GET.get("what", "proposals")
    fmt = request.GET.get("fmt", "csv")
    if what not in exports.EXPORTS or fmt not in ("csv", "xlsx"):
        raise Http404
    return exports.export_response(call=obj, what=what, fmt=fmt)


@view_access(None, public=True, expect=Expect(anonymous=200, default=200, sample="released-call"))
def call_results(request, pk: int):
    call = get_object_or_404(Call, pk=pk)
    if not call.released:
        raise Http404  # nothing is public before the decisions are released
    selected = list(Proposal.objects.filter(call=call, selected_at__isnull=False)
                    .select_related("organisation").prefetch_related("partners").order_by("title"))
    return render(request, "calls/results.html", {"call": call, "selected": selected})


# --- bulk actions and selections (issue 18, item 4) ----------------------------------------------------------


def _filter_choices() -> dict:
    """Choices of the proposal filters' form (sectors, territories, decision statuses)."""
    return {"sectors": Sector.choices, "territories": Territory.objects.order_by("code").only("pk", "code", "name"),
            "statuses": [(UNDECIDED, _("sans décision")), *[(v, str(label)) for v, label in Outcome.choices]]}


def _posted_ids(request) -> set[int]:
    """The proposals ticked in a list (`ids`), validated; at most 20,000."""
    return {i for i in (parse_id(v) for v in request.POST.getlist("ids")[:20_000]) if i is not None}


def _listed(call: Call, filters: ProposalFilters) -> selectors.CallRanking:
    return selectors.CallRanking(call=call, keep=filters_ids(call=call, filters=filters) if filters.active else None)


def _back(name: str, call: Call, filters: ProposalFilters) -> str:
    query = filters.querystring()
    return reverse(name, args=[call.pk]) + (f"?{query}" if query else "")


@require_POST
@view_access("calls.manage_call", get_object=_call,
             expect=Expect(anonymous=302, default=403, roles=dict.fromkeys(MANAGERS, 302), sample="call",
                           methods=("POST",)))
def decisions_bulk(request, pk: int, obj: Call):
    """Decide in one step: the ticked proposals, those of the list whose mean reaches a threshold, or the
    budget-constrained suggestion; optionally another decision for the rest of the list (filters kept)."""
    filters = ProposalFilters.from_query(request.POST)
    form = BulkDecisionForm(request.POST)
    back = _back("calls:call-ranking", obj, filters)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    data = form.cleaned_data
    ranking = _listed(obj, filters)
    listed = set(ranking.ids())
    if data["mode"] == "selection":
        chosen = _posted_ids(request)
        if not chosen:
            messages.error(request, _("Cochez au moins une proposition."))
            return redirect(back)
    elif data["mode"] == "threshold":
        chosen = {p for p, mean in ranking.means() if mean >= data["threshold"] - 1e-9 and p in listed}
    else:
        chosen, _result = _suggestion(obj, ranking, _min_score_from(request.POST))
    others = listed - chosen if data["others_outcome"] else set()
    try:
        result = services.decisions_bulk(
            call=obj, chosen=chosen, outcome=data["outcome"], reason=data["reason"], others=others,
            others_outcome=data["others_outcome"], others_reason=data["others_reason"],
            overwrite=data["overwrite"], mode=data["mode"], by=request.user)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("%(n)s décision(s) enregistrée(s) (non publiées).") % {"n": result["decided"]})
        if result["kept"]:
            messages.info(request, _("%(n)s proposition(s) déjà décidée(s) gardent leur décision.")
                          % {"n": result["kept"]})
    return redirect(back)


def _min_score_from(params) -> float:
    return query_float(params, "min_score", default=0.0, minimum=0.0, maximum=4.0)


@require_POST
@view_access("calls.manage_call", get_object=_call,
             expect=Expect(anonymous=302, default=403, roles=dict.fromkeys(MANAGERS, 302), sample="call",
                           methods=("POST",)))
def assignments_bulk(request, pk: int, obj: Call):
    """Assign a reviewer to the ticked proposals, or take them off (all or nothing)."""
    filters = ProposalFilters.from_query(request.POST)
    back = _back("calls:call-assignments", obj, filters)
    form = BulkAssignmentForm(request.POST)
    reviewer = User.objects.filter(email__iexact=form.cleaned_data["reviewer"]).first() if form.is_valid() else None
    if reviewer is None:
        messages.error(request, _("Indiquez l'adresse d'un évaluateur et une action."))
        return redirect(back)
    try:
        result = services.assignments_bulk(call=obj, proposals=_posted_ids(request), reviewer=reviewer,
                                           action=form.cleaned_data["action"], by=request.user)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        done = _("%(n)s affectation(s) créée(s).") if form.cleaned_data["action"] == "assign" \
            else _("%(n)s affectation(s) retirée(s).")
        messages.success(request, done % {"n": result["done"]})
        if result["skipped"]:
            messages.info(request, _("%(n)s proposition(s) inchangée(s).") % {"n": result["skipped"]})
    return redirect(back)


@require_POST
@view_access("calls.manage_call", get_object=_call,
             expect=Expect(anonymous=302, default=403, roles=dict.fromkeys(MANAGERS, 200), sample="call",
                           methods=("POST",)))
def export_selection(request, pk: int, obj: Call):
    """Export the ticked proposals (or, none ticked, the list the filters keep): proposals, reviews, decisions."""
    form = ExportSelectionForm(request.POST)
    if not form.is_valid():
        raise Http404
    ids = _posted_ids(request) or set(_listed(obj, ProposalFilters.from_query(request.POST)).ids())
    ids &= set(Proposal.objects.filter(call=obj).values_list("pk", flat=True))
    what, fmt = form.what_and_format()
    return exports.export_response(call=obj, what=what, fmt=fmt, ids=ids)
