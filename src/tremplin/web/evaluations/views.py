"""Pages of datasets, runs, results, reports and public published results."""

from __future__ import annotations

from csp.decorators import csp_update
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tremplin.web.core.access import PUBLIC, Expect, only_roles, view_access
from tremplin.web.core.uploads import upload_limit, upload_refusal
from tremplin.web.evaluations import selectors, services
from tremplin.web.evaluations.forms import DatasetForm, RunForm
from tremplin.web.evaluations.models import Dataset, Run, RunStatus
from tremplin.web.evaluations.presentation import result_context

EVALUATORS = ("evaluator", "admin")
# plotly.js sets inline styles on the elements it draws: allowed on chart pages only.
PLOTLY_CSP = {"style-src": ["'unsafe-inline'"]}


def _dataset(request, pk: int, **kwargs) -> Dataset:
    return get_object_or_404(Dataset, pk=pk)


def _run(request, pk: int, **kwargs) -> Run:
    return get_object_or_404(Run.objects.select_related("plan__experiment", "dataset", "job"), pk=pk)


def _plan(request, pk: int, **kwargs):
    from tremplin.web.portfolio.models import EvaluationPlan

    return get_object_or_404(EvaluationPlan.objects.select_related("experiment"), pk=pk)


def _errors(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


# --- Datasets ----------------------------------------------------------------------------------------------


@view_access("evaluations.view_dataset_list", expect=only_roles(*EVALUATORS))
def dataset_list(request):
    page = Paginator(selectors.dataset_list_for_user(user=request.user), 25).get_page(request.GET.get("page"))
    return render(request, "evaluations/dataset_list.html", {"page": page})


@upload_limit("DATASET_UPLOAD_MAX_BYTES")
@view_access("evaluations.add_dataset", expect=only_roles(*EVALUATORS))
def dataset_create(request):
    form = DatasetForm(request.POST or None, request.FILES or None)
    if refused := upload_refusal(request):
        form.refused_upload = refused.message
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            dataset = services.dataset_register(name=data["name"], description=data["description"],
                                                format=data["format"], upload=data.get("upload"),
                                                server_path=data.get("server_path", ""), user=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Jeu de données enregistré : la validation est en cours."))
            return redirect("evaluations:dataset-detail", pk=dataset.pk)
    return render(request, "evaluations/dataset_form.html", {"form": form})


@view_access("evaluations.view_dataset", get_object=_dataset, expect=only_roles(*EVALUATORS, sample="dataset"))
def dataset_detail(request, pk: int, obj: Dataset):
    return render(request, "evaluations/dataset_detail.html", {"dataset": obj, "job": obj.job})


# --- Runs --------------------------------------------------------------------------------------------------


@view_access("evaluations.view_run_list", expect=only_roles(*EVALUATORS))
def run_list(request):
    page = Paginator(selectors.run_list_for_user(user=request.user), 25).get_page(request.GET.get("page"))
    return render(request, "evaluations/run_list.html", {"page": page})


@view_access("evaluations.add_run", get_object=_plan, expect=only_roles(*EVALUATORS, sample="plan"))
def run_create(request, pk: int, obj):
    plan = obj
    datasets = selectors.dataset_choices_for_plan(plan=plan)
    initial = {"estimator": services.DEFAULT_ESTIMATOR.get(plan.design, "cs"), "dataset": datasets.first()}
    form = RunForm(request.POST or None, datasets=datasets, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = services.run_launch(plan=plan, dataset=data["dataset"], estimator=data["estimator"],
                                      period=data["period"], seed=data["seed"], user=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Évaluation lancée."))
            return redirect("evaluations:run-detail", pk=run.pk)
    return render(request, "evaluations/run_form.html", {
        "form": form, "plan": plan, "runs": selectors.run_list_for_plan(plan=plan)[:20]})


@csp_update(PLOTLY_CSP)
@view_access("evaluations.view_run", get_object=_run, expect=only_roles(*EVALUATORS, sample="run"))
def run_detail(request, pk: int, obj: Run):
    run = services.run_sync_status(run=obj)
    context = {"run": run, "job": run.job, "can_publish": request.user.has_perm("evaluations.publish_run", run),
               "can_cancel": request.user.has_perm("evaluations.cancel_run", run)}
    if run.status == RunStatus.SUCCEEDED and run.result:
        context.update(result_context(run.result))
    return render(request, "evaluations/run_detail.html", context)


@view_access("evaluations.view_run", get_object=_run, expect=only_roles(*EVALUATORS, sample="run"))
def run_status(request, pk: int, obj: Run):
    """Progress partial polled by htmx; asks the page to reload when the run has finished."""
    run = services.run_sync_status(run=obj)
    response = render(request, "evaluations/_run_status.html", {
        "run": run, "job": run.job, "can_cancel": request.user.has_perm("evaluations.cancel_run", run)})
    if run.is_finished and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


@require_POST
@view_access("evaluations.cancel_run", get_object=_run, expect=Expect(
    anonymous=302, default=403, roles={"admin": 302}, sample="run", methods=("POST",)))
def run_cancel(request, pk: int, obj: Run):
    from tremplin.web.jobs.services import job_cancel

    if obj.job is not None:
        job_cancel(job=obj.job)
    services.run_sync_status(run=obj)
    messages.info(request, _("Annulation demandée."))
    return redirect("evaluations:run-detail", pk=obj.pk)


def _finished(run: Run) -> Run:
    if run.status != RunStatus.SUCCEEDED or not run.result:
        raise Http404(_("Cette évaluation n'a pas de résultat."))
    return run


def _report_html(request, run: Run, *, for_pdf: bool) -> str:
    context = {"run": run, "for_pdf": for_pdf, **result_context(run.result)}
    return render_to_string("evaluations/report.html", context, request=request)


_ROLE_404 = Expect(anonymous=302, default=403, roles={"evaluator": 404, "admin": 404}, sample="run")


@view_access("evaluations.view_run", get_object=_run, expect=_ROLE_404)
def run_report_html(request, pk: int, obj: Run):
    run = _finished(obj)
    response = HttpResponse(_report_html(request, run, for_pdf=False), content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="evaluation-{run.pk}.html"'
    return response


@view_access("evaluations.view_run", get_object=_run, expect=_ROLE_404)
def run_report_pdf(request, pk: int, obj: Run):
    from weasyprint import HTML

    run = _finished(obj)
    pdf = HTML(string=_report_html(request, run, for_pdf=True)).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="evaluation-{run.pk}.pdf"'
    return response


@view_access("evaluations.view_run", get_object=_run, expect=_ROLE_404)
def run_json(request, pk: int, obj: Run):
    run = _finished(obj)
    payload = {"run": run.pk, "plan": run.plan_id, "dataset_fingerprint": run.dataset_fingerprint,
               "engine_version": run.engine_version, "estimator": run.estimator, "params": run.params,
               "timings": run.timings, "result": {k: v for k, v in run.result.items() if k != "figures"}}
    response = JsonResponse(payload, json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Disposition"] = f'attachment; filename="evaluation-{run.pk}.json"'
    return response


@require_POST
@view_access("evaluations.publish_run", get_object=_run, expect=Expect(
    anonymous=302, default=403, roles={"admin": 302}, sample="run", methods=("POST",)))
def run_publish(request, pk: int, obj: Run):
    try:
        if request.POST.get("action") == "unpublish":
            services.run_unpublish(run=obj)
            messages.success(request, _("Publication retirée."))
        else:
            services.run_publish(run=obj, user=request.user)
            messages.success(request, _("Résultat publié (après contrôle du secret statistique)."))
    except ValidationError as exc:
        _errors(request, exc)
    return redirect("evaluations:run-detail", pk=obj.pk)


# --- Public ------------------------------------------------------------------------------------------------


@csp_update(PLOTLY_CSP)
@view_access("evaluations.view_published_run", get_object=_run, public=True,
             expect=Expect(anonymous=200, default=200, sample="published-run"))
def published_run(request, pk: int, obj: Run):
    from tremplin.web.evaluations.presentation import publication_context

    return render(request, "evaluations/published_run.html", {"run": obj, **publication_context(obj.publication)})


@view_access(None, public=True, expect=PUBLIC)
def published_list(request):
    from tremplin.web.evaluations.models import Run as RunModel

    runs = (RunModel.objects.filter(published_at__isnull=False).select_related("plan__experiment")
            .order_by("-published_at")[:100])
    return render(request, "evaluations/published_list.html", {"runs": runs})


