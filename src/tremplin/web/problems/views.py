"""Problems, endorsements, prioritisation and consultations pages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tremplin.web.accounts.models import Territory
from tremplin.web.core.access import LOGGED_IN, PUBLIC, Expect, only_roles, view_access
from tremplin.web.core.querystring import query_choice, query_id, query_text
from tremplin.web.problems import exports, selectors, services
from tremplin.web.problems.forms import (
    CommentForm,
    ConsultationForm,
    EndorsementForm,
    FlagForm,
    MergeForm,
    ModerationForm,
    ProblemForm,
    ProblemManageForm,
    QuestionFormSet,
    ResponseForm,
    WeightsForm,
)
from tremplin.web.problems.models import (
    CareDomain,
    Consultation,
    ConsultationResponse,
    Endorsement,
    PriorityWeights,
    Problem,
    ProblemComment,
    ProblemStatus,
)
from tremplin.web.problems.scoring import COMPONENTS

MANAGERS = ("admin", "programme_manager")


def _problem(request, pk: int, **kwargs) -> Problem:
    return get_object_or_404(Problem.objects.select_related("organisation", "merged_into", "created_by"), pk=pk)


def _consultation(request, pk: int, **kwargs) -> Consultation:
    return get_object_or_404(Consultation.objects.select_related("problem"), pk=pk)


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)



# --- problems ----------------------------------------------------------------------------------------------


@view_access("problems.view_problem_list", expect=LOGGED_IN)
def problem_list(request):
    """Ranked list of problems with their score, filtered by domain, territory, status and text."""
    domain = query_choice(request.GET, "domain", CareDomain.values)
    status = query_choice(request.GET, "status", [*ProblemStatus.values, "all"])
    query = query_text(request.GET, "q")
    territory = query_id(request.GET, "territory")
    qs = selectors.problem_filtered(user=request.user, domain=domain, territory=territory, status=status,
                                    query=query)
    ranked = selectors.problem_ranked(qs.defer("description", "burden", "evidence_links", "status_reason"))
    page = Paginator(ranked, 25).get_page(request.GET.get("page"))
    prefetch_related_objects([item.problem for item in page], "territories")
    template = "problems/_problem_rows.html" if request.htmx else "problems/problem_list.html"
    return render(request, template, {
        "page": page, "domains": CareDomain.choices, "statuses": ProblemStatus.choices,
        "territories": Territory.objects.order_by("code").only("pk", "code", "name"),
        "filters": {"domain": domain, "status": status, "q": query, "territory": territory},
        "can_add": request.user.has_perm("problems.add_problem"),
        "can_weigh": request.user.has_perm("problems.change_weights"),
        "total": len(ranked),
    })


@require_http_methods(["GET", "POST"])
@view_access("problems.add_problem", expect=LOGGED_IN)
def problem_create(request):
    similar = []
    if request.method == "POST":
        similar = selectors.similar_problems(title=request.POST.get("title", ""),
                                             description=request.POST.get("description", ""))
    form = ProblemForm(request.POST or None, user=request.user, similar=similar)
    form.set_similar_url(reverse("problems:problem-similar"))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            problem = services.problem_create(
                user=request.user, organisation=data["organisation"], title=data["title"],
                description=data["description"], domain=data["domain"], territories=data["territories"],
                affected_population=data["affected_population"], burden=data["burden"],
                burden_cost_eur=data["burden_cost_eur"], evidence_links=data["evidence_links"])
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Problématique signalée. Merci !"))
            return redirect("problems:problem-detail", pk=problem.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "problems/problem_form.html", {
        "form": form, "similar": similar, "title": _("Signaler une problématique")}, status=status)


@view_access("problems.view_problem_list", expect=LOGGED_IN)
def problem_similar(request):
    """htmx partial: problems similar to the title and description being typed."""
    similar = selectors.similar_problems(title=query_text(request.GET, "title", max_length=300),
                                         description=query_text(request.GET, "description", max_length=5000),
                                         exclude_pk=query_id(request.GET, "exclude"))
    return render(request, "problems/_similar.html", {"similar": similar, "checked": True})


@view_access("problems.view_problem", expect=Expect(anonymous=302, default=200, sample="problem"),
             get_object=_problem)
def problem_detail(request, pk: int, obj: Problem):
    user = request.user
    endorsements = list(obj.endorsements.select_related("organisation", "created_by"))
    obj.endorsement_count = len(endorsements)
    score = selectors.problem_score(obj) if obj.is_open else None
    can_endorse = user.has_perm("problems.endorse_problem", obj)
    endorse_form = EndorsementForm(problem=obj, user=user) if can_endorse else None
    mine = {m.organisation_id for m in user.memberships.all()}
    return render(request, "problems/problem_detail.html", {
        "problem": obj, "endorsements": endorsements, "score": score,
        "territories": list(obj.territories.all()),
        "endorse_form": endorse_form if endorse_form and endorse_form.fields["organisation"].queryset else None,
        "can_edit": user.has_perm("problems.change_problem", obj),
        "can_manage": user.has_perm("problems.manage_problem", obj),
        "my_endorsements": [e for e in endorsements if e.organisation_id in mine],
        "merged_problems": list(obj.merged_problems.all()),
        "similar": selectors.similar_problems(title=obj.title, description=obj.description, exclude_pk=obj.pk)
        if obj.is_open else [],
        "consultations": list(obj.consultations.all()),
        **_comments_context(request, obj),
    })


def _comments_context(request, problem: Problem) -> dict:
    user = request.user
    return {"comments": selectors.problem_comments(problem=problem),
            "can_comment": user.has_perm("problems.comment_problem", problem),
            "can_moderate": user.has_perm("problems.moderate_comment"),
            "comment_form": CommentForm(), "flag_form": FlagForm()}


@require_http_methods(["GET", "POST"])
@view_access("problems.change_problem", get_object=_problem, expect=only_roles(*MANAGERS, sample="problem"))
def problem_edit(request, pk: int, obj: Problem):
    form = ProblemForm(request.POST or None, instance=obj, user=request.user)
    form.set_similar_url(reverse("problems:problem-similar") + f"?exclude={obj.pk}")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.problem_update(problem=obj, territories=data["territories"], **{
                name: data[name] for name in services.PROBLEM_FIELDS})
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Problématique mise à jour."))
            return redirect("problems:problem-detail", pk=obj.pk)
    return render(request, "problems/problem_form.html", {"form": form, "problem": obj, "title": obj.title})


@require_http_methods(["GET", "POST"])
@view_access("problems.endorse_problem", get_object=_problem,
             expect=Expect(anonymous=302, default=200, sample="problem"))
def problem_endorse(request, pk: int, obj: Problem):
    form = EndorsementForm(request.POST or None, problem=obj, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.endorsement_create(problem=obj, organisation=form.cleaned_data["organisation"],
                                        user=request.user, comment=form.cleaned_data["comment"])
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Votre appui est enregistré."))
            return redirect("problems:problem-detail", pk=obj.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "problems/problem_endorse.html", {"form": form, "problem": obj}, status=status)


@require_http_methods(["POST"])
@view_access("problems.view_problem", get_object=_problem,
             expect=Expect(anonymous=302, default=404, sample="problem", methods=("POST",)))
def endorsement_withdraw(request, pk: int, obj: Problem):
    mine = Endorsement.objects.filter(problem=obj, organisation__memberships__user=request.user).distinct()
    endorsement = get_object_or_404(mine, pk=query_id(request.POST, "endorsement") or 0)
    services.endorsement_delete(endorsement=endorsement, user=request.user)
    messages.success(request, _("Appui retiré."))
    return redirect("problems:problem-detail", pk=obj.pk)


@require_http_methods(["GET", "POST"])
@view_access("problems.manage_problem", get_object=_problem, expect=only_roles(*MANAGERS, sample="problem"))
def problem_manage(request, pk: int, obj: Problem):
    """Programme manager: status (allowed transitions only), reason, strategic fit."""
    form = ProblemManageForm(request.POST or None, problem=obj)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["status"] != obj.status:
                services.problem_change_status(problem=obj, status=data["status"], reason=data["reason"],
                                               user=request.user)
            elif data["reason"] != obj.status_reason:
                services.problem_set_status_reason(problem=obj, reason=data["reason"])
            if data["strategic_fit"] != obj.strategic_fit:
                services.problem_set_strategic_fit(problem=obj, strategic_fit=data["strategic_fit"])
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Problématique mise à jour."))
            return redirect("problems:problem-detail", pk=obj.pk)
    return render(request, "problems/problem_manage.html", {"form": form, "problem": obj},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@view_access("problems.merge_problem", get_object=_problem, expect=only_roles(*MANAGERS, sample="problem"))
def problem_merge(request, pk: int, obj: Problem):
    initial = {}
    if into := query_id(request.GET, "into"):
        initial["target"] = into
    form = MergeForm(request.POST or None, problem=obj, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            target = services.problem_merge(source=obj, target=form.cleaned_data["target"],
                                            reason=form.cleaned_data["reason"], user=request.user)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Problématiques fusionnées."))
            return redirect("problems:problem-detail", pk=target.pk)
    similar = selectors.similar_problems(title=obj.title, description=obj.description, exclude_pk=obj.pk)
    return render(request, "problems/problem_merge.html", {"form": form, "problem": obj, "similar": similar},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@view_access("problems.change_weights", expect=only_roles(*MANAGERS))
def weights_edit(request):
    weights = PriorityWeights.load()
    form = WeightsForm(request.POST or None, instance=weights)
    if request.method == "POST" and form.is_valid():
        try:
            services.weights_update(user=request.user, **{n: form.cleaned_data[n] for n in COMPONENTS})
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Pondérations enregistrées : le classement est recalculé."))
            return redirect("problems:problem-list")
    return render(request, "problems/weights_form.html", {"form": form, "weights": weights},
                  status=400 if form.errors else 200)


# --- comments (issue 18, item 10) --------------------------------------------------------------------------


def _comment(request, pk: int, **kwargs) -> ProblemComment:
    return get_object_or_404(ProblemComment.objects.select_related("problem", "author"), pk=pk)


def _comments_response(request, problem: Problem):
    if request.htmx:
        return render(request, "problems/_comments.html", {"problem": problem, **_comments_context(request, problem)})
    return redirect(reverse("problems:problem-detail", args=[problem.pk]) + "#comments")


@require_http_methods(["POST"])
@view_access("problems.comment_problem", get_object=_problem,
             expect=Expect(anonymous=302, default=302, sample="problem", methods=("POST",)))
def comment_add(request, pk: int, obj: Problem):
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.comment_add(problem=obj, user=request.user, text=form.cleaned_data["text"])
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Commentaire publié."))
    else:
        messages.error(request, _("Le commentaire est vide ou trop long (3 000 caractères au plus)."))
    return _comments_response(request, obj)


@require_http_methods(["POST"])
@view_access("problems.flag_comment", get_object=_comment,
             expect=Expect(anonymous=302, default=302, sample="comment", methods=("POST",)))
def comment_flag(request, pk: int, obj: ProblemComment):
    form = FlagForm(request.POST)
    try:
        services.comment_flag(comment=obj, user=request.user,
                              reason=form.cleaned_data["reason"] if form.is_valid() else "")
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Merci : le commentaire est signalé aux modérateurs."))
    return _comments_response(request, obj.problem)


@view_access("problems.moderate_comment", expect=only_roles(*MANAGERS))
def comment_moderation(request):
    """Managers: flagged comments first, then every comment, newest first."""
    page = Paginator(selectors.comments_to_moderate(), 50).get_page(request.GET.get("page"))
    return render(request, "problems/comment_moderation.html", {"page": page, "form": ModerationForm()})


@require_http_methods(["POST"])
@view_access("problems.moderate_comment", get_object=_comment,
             expect=Expect(anonymous=302, default=403, roles=dict.fromkeys(MANAGERS, 302), sample="comment",
                           methods=("POST",)))
def comment_moderate(request, pk: int, obj: ProblemComment):
    form = ModerationForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choisissez une action."))
    else:
        try:
            services.comment_moderate(comment=obj, action=form.cleaned_data["action"], by=request.user,
                                      reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Modération enregistrée."))
    back = request.POST.get("next", "")
    if back == "problem":
        return redirect(reverse("problems:problem-detail", args=[obj.problem_id]) + "#comments")
    return redirect("problems:comment-moderation")


# --- consultations -----------------------------------------------------------------------------------------


@view_access(None, expect=PUBLIC, public=True)
def consultation_list(request):
    now = timezone.now()
    consultations = list(Consultation.objects.select_related("problem").order_by("-starts_at"))
    for c in consultations:
        c.state = services.consultation_state(c, now)
    return render(request, "problems/consultation_list.html", {
        "consultations": consultations,
        "can_add": request.user.has_perm("problems.manage_consultation"),
    })


@require_http_methods(["GET", "POST"])
@view_access("problems.manage_consultation", expect=only_roles(*MANAGERS))
def consultation_create(request):
    initial = {}
    if problem := query_id(request.GET, "problem"):
        initial["problem"] = problem
    form = ConsultationForm(request.POST or None, initial=initial)
    formset = QuestionFormSet(request.POST or None, prefix="questions")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        questions = [f.cleaned_data for f in formset if f.cleaned_data and f.cleaned_data.get("text")]
        if not questions:
            form.add_error(None, _("Ajoutez au moins une question."))
        else:
            try:
                consultation = services.consultation_create(user=request.user, **form.cleaned_data,
                                                            questions=questions)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Consultation créée."))
                return redirect("problems:consultation-detail", pk=consultation.pk)
    return render(request, "problems/consultation_form.html", {"form": form, "formset": formset},
                  status=400 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
@view_access("problems.manage_consultation", get_object=_consultation,
             expect=only_roles(*MANAGERS, sample="consultation"))
def consultation_edit(request, pk: int, obj: Consultation):
    """Change the text and dates (the questions are fixed once the consultation exists)."""
    form = ConsultationForm(request.POST or None, instance=obj)
    if request.method == "POST" and form.is_valid():
        try:
            services.consultation_update(consultation=obj, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Consultation mise à jour."))
            return redirect("problems:consultation-detail", pk=obj.pk)
    return render(request, "problems/consultation_form.html", {"form": form, "consultation": obj},
                  status=400 if form.errors else 200)


def _results_context(request, consultation: Consultation) -> dict:
    is_manager = request.user.has_perm("problems.manage_consultation")
    total, tallies = selectors.consultation_tallies(consultation=consultation, with_texts=is_manager)
    return {"consultation": consultation, "total": total, "tallies": tallies, "is_manager": is_manager,
            "state": services.consultation_state(consultation)}


@view_access("problems.view_consultation", public=True, get_object=_consultation,
             expect=Expect(anonymous=200, default=200, sample="consultation"))
def consultation_detail(request, pk: int, obj: Consultation):
    context = _results_context(request, obj)
    context["has_answered"] = request.user.is_authenticated and ConsultationResponse.objects.filter(
        consultation=obj, respondent=request.user).exists()
    return render(request, "problems/consultation_detail.html", context)


@view_access("problems.view_consultation", public=True, get_object=_consultation,
             expect=Expect(anonymous=200, default=200, sample="consultation"))
def consultation_results(request, pk: int, obj: Consultation):
    """Live tallies: the full page, or the tallies fragment for htmx polling."""
    template = "problems/_tallies.html" if request.htmx else "problems/consultation_results.html"
    return render(request, template, _results_context(request, obj))


@require_http_methods(["GET", "POST"])
@view_access("problems.respond_consultation", get_object=_consultation,
             expect=Expect(anonymous=302, default=200, sample="consultation"))
def consultation_respond(request, pk: int, obj: Consultation):
    if ConsultationResponse.objects.filter(consultation=obj, respondent=request.user).exists():
        messages.info(request, _("Vous avez déjà répondu à cette consultation : merci !"))
        return redirect("problems:consultation-results", pk=obj.pk)
    state = services.consultation_state(obj)
    form = ResponseForm(request.POST or None, consultation=obj)
    if request.method == "POST" and form.is_valid():
        try:
            services.consultation_respond(consultation=obj, user=request.user, answers=form.answers())
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Merci, votre réponse est enregistrée."))
            return redirect("problems:consultation-results", pk=obj.pk)
    status = 400 if form.errors else 200
    return render(request, "problems/consultation_respond.html", {"form": form, "consultation": obj,
                                                                  "state": state}, status=status)


def _export_name(consultation: Consultation, extension: str) -> str:
    return f"consultation-{consultation.pk}-{slugify(consultation.title)[:40]}.{extension}"


@view_access("problems.manage_consultation", get_object=_consultation,
             expect=only_roles(*MANAGERS, sample="consultation"))
def consultation_export_csv(request, pk: int, obj: Consultation):
    response = HttpResponse(exports.consultation_csv(consultation=obj), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_export_name(obj, "csv")}"'
    return response


@view_access("problems.manage_consultation", get_object=_consultation,
             expect=only_roles(*MANAGERS, sample="consultation"))
def consultation_export_xlsx(request, pk: int, obj: Consultation):
    response = HttpResponse(exports.consultation_xlsx(consultation=obj),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{_export_name(obj, "xlsx")}"'
    return response

