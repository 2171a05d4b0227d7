"""Pages of the portfolio: pipeline, tables, export, experiment page, gates, plan, progress, deadlines, CSV."""

from __future__ import annotations

from collections import defaultdict

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tremplin.web.accounts.models import Sector
from tremplin.web.core.access import LOGGED_IN, Expect, only_roles, view_access
from tremplin.web.portfolio import charts, exports, planning, selectors, services
from tremplin.web.portfolio.forms import (
    BudgetLineForm,
    CriteriaForm,
    CsvForm,
    DeadlineForm,
    ExperimentForm,
    FilterForm,
    GateReviewForm,
    KpiForm,
    KpiValueForm,
    MilestoneForm,
    PlanForm,
    SiteForm,
)
from tremplin.web.portfolio.models import (
    EvaluationPlan,
    Experiment,
    ExperimentStatus,
    FundingType,
    GateCriterion,
    Stage,
)

MANAGERS = ("admin", "programme_manager")
READERS = (*MANAGERS, "decision_maker", "evaluator")
# Plotly draws with inline styles: allowed on the pages with a chart only (scripts stay 'self').
chart_csp = csp_update({"style-src": [UNSAFE_INLINE]})


def _experiment(request, pk: int, **kwargs) -> Experiment:
    return get_object_or_404(Experiment.objects.select_related("lead_organisation"), pk=pk)


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _filters(request) -> tuple[FilterForm, selectors.Filters]:
    form = FilterForm(request.GET or None)
    if form.is_valid():
        d = form.cleaned_data
        return form, selectors.Filters(stage=d["stage"], territory=d["territory"].pk if d["territory"] else None,
                                       sector=d["sector"] or None, care_domain=d["care_domain"] or None,
                                       legal_framework=d["legal_framework"] or None,
                                       alerts_only=request.GET.get("alertes") == "1")
    return form, selectors.Filters()


@view_access("portfolio.view_portfolio", expect=LOGGED_IN)
def portfolio(request):
    user = request.user
    form, filters = _filters(request)
    experiments = list(selectors.portfolio_queryset(user=user, filters=filters))
    details = user.has_perm("portfolio.view_portfolio_details")
    involved = selectors.involved_experiment_ids(user=user)
    ids = [e.pk for e in experiments]
    budgets = selectors.budget_totals(experiment_ids=ids) if details else {}
    late = selectors.late_counts(experiment_ids=ids) if details else {}
    alerts = {e.pk: a for e in experiments if (a := selectors.evaluation_alert(e)) is not None} if details else {}
    if filters.alerts_only:
        experiments = [e for e in experiments if e.pk in alerts or late.get(e.pk)]
    rows = [{"experiment": e, "budget": budgets.get(e.pk), "late": late.get(e.pk, 0), "alert": alerts.get(e.pk),
             "full": details or e.pk in involved} for e in experiments]
    columns = [{"stage": value, "label": label, "rows": [r for r in rows if r["experiment"].stage == value]}
               for value, label in Stage.choices]
    by_territory: dict[str, list] = defaultdict(list)
    by_sector: dict[str, set] = defaultdict(set)
    sector_labels = dict(Sector.choices)
    for e in experiments:
        for t in e.territories.all():
            by_territory[t.name].append(e)
        for org in (e.lead_organisation, *e.partners.all()):
            by_sector[sector_labels.get(org.sector, org.sector)].add(e.pk)
    context = {
        "form": form, "columns": columns, "rows": rows, "details": details, "count": len(experiments),
        "by_territory": sorted(by_territory.items()),
        "by_sector": sorted((label, len(pks)) for label, pks in by_sector.items()),
        "query": request.GET.urlencode(),
        "can_add": user.has_perm("portfolio.add_experiment"),
        "can_bulk": user.has_perm("portfolio.bulk_update"),
    }
    if details:
        context.update({
            "total_budget": budgets.get(None), "budget_by_type": [(FundingType(kind).label, b) for kind, b in
                               selectors.budget_by_type(experiment_ids=ids).items()],
            "late_milestones": list(selectors.late_milestones(experiment_ids=ids)[:50]),
            "alert_rows": [r for r in rows if r["alert"]],
        })
    if context["can_add"]:
        context["candidates"] = list(selectors.proposals_without_experiment())
    return render(request, "portfolio/portfolio.html", context)


@view_access("portfolio.view_portfolio_details", expect=only_roles(*READERS))
def portfolio_export(request):
    _form, filters = _filters(request)
    fmt = "xlsx" if request.GET.get("fmt") == "xlsx" else "csv"
    return exports.export_response(selectors.portfolio_queryset(user=request.user, filters=filters), fmt)


@require_http_methods(["GET", "POST"])
@view_access("portfolio.add_experiment", expect=only_roles(*MANAGERS))
def experiment_create(request):
    form = ExperimentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            experiment = services.experiment_create(user=request.user, **data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Expérimentation créée."))
            return redirect("portfolio:experiment-detail", pk=experiment.pk)
    return render(request, "portfolio/experiment_form.html", {"form": form, "title": _("Nouvelle expérimentation")})


@require_POST
@view_access("portfolio.add_experiment", expect=Expect(anonymous=302, default=403, roles={
    "admin": 302, "programme_manager": 302}, methods=("POST",)))
def experiment_from_proposal(request):
    from tremplin.web.calls.selectors import selected_for_portfolio

    pk = request.POST.get("proposal", "")
    proposal = selected_for_portfolio().filter(pk=int(pk)).first() if pk.isdigit() else None
    if proposal is None:
        messages.error(request, _("Choisissez une proposition retenue."))
        return redirect("portfolio:portfolio")
    try:
        experiment = services.experiment_create_from_proposal(proposal=proposal, user=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("portfolio:portfolio")
    messages.success(request, _("La proposition est devenue une expérimentation (étape 1)."))
    return redirect("portfolio:experiment-detail", pk=experiment.pk)


@view_access("portfolio.view_portfolio", expect=Expect(anonymous=302, default=200, sample="experiment"),
             get_object=_experiment)
@chart_csp
def experiment_detail(request, pk: int, obj: Experiment):
    user = request.user
    full = user.has_perm("portfolio.view_experiment", obj)
    experiment = selectors.experiment_detail_queryset().get(pk=obj.pk)
    context = {"experiment": experiment, "full": full}
    if full:
        today = timezone.localdate()
        plan = EvaluationPlan.objects.filter(experiment=experiment).prefetch_related(
            "treated_territories", "comparison_territories", "amendments__changed_by").first()
        deadlines = selectors.resolved_deadlines(experiment=experiment)
        context.update({
            "today": today,
            "milestones": [(m, m.state_on(today)) for m in experiment.milestones.all()],
            "budget": selectors.budget_totals(experiment_ids=[experiment.pk]).get(experiment.pk),
            "kpis": [(k, list(k.values.all())) for k in experiment.kpis.all()],
            "gates": list(selectors.gate_history(experiment=experiment)),
            "criteria": list(GateCriterion.objects.filter(stage=experiment.stage)),
            "plan": plan, "alert": selectors.evaluation_alert(experiment) if plan else None,
            "deadlines": deadlines,
            "next_deadline": selectors.next_deadline(experiment=experiment, today=today),
            "chart": charts.timeline_figure(experiment, today=today),
            "can_change": user.has_perm("portfolio.change_experiment", experiment),
            "can_progress": user.has_perm("portfolio.update_progress", experiment),
        })
        if plan and experiment.start_date and experiment.authorisation_end:
            context["available_months"] = planning.months_between(experiment.start_date,
                                                                  experiment.authorisation_end)
        if plan and user.has_perm("evaluations.view_run_list"):
            from tremplin.web.evaluations.selectors import run_list_for_plan

            context["evaluation_runs"] = list(run_list_for_plan(plan=plan)[:10])
            context["can_launch_run"] = user.has_perm("evaluations.add_run")
    from tremplin.web.evaluations.selectors import published_runs_for_experiment

    context["published_runs"] = list(published_runs_for_experiment(experiment=experiment))
    return render(request, "portfolio/experiment_detail.html", context)


@require_http_methods(["GET", "POST"])
@view_access("portfolio.change_experiment", get_object=_experiment, expect=only_roles(*MANAGERS, sample="experiment"))
def experiment_edit(request, pk: int, obj: Experiment):
    form = ExperimentForm(request.POST or None, instance=obj)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        partners, territories = data.pop("partners"), data.pop("territories")
        try:
            services.experiment_update(experiment=obj, partners=partners, territories=territories, **data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Expérimentation mise à jour."))
            return redirect("portfolio:experiment-detail", pk=obj.pk)
    return render(request, "portfolio/experiment_form.html", {"form": form, "title": obj.title, "experiment": obj})


@require_http_methods(["GET", "POST"])
@view_access("portfolio.change_experiment", get_object=_experiment, expect=only_roles(*MANAGERS, sample="experiment"))
def gate_review(request, pk: int, obj: Experiment):
    criteria = list(GateCriterion.objects.filter(stage=obj.stage).values_list("text", flat=True))
    form = GateReviewForm(request.POST or None, criteria=criteria, initial={"decided_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            services.gate_review_record(experiment=obj, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Décision de passage enregistrée."))
            return redirect("portfolio:experiment-detail", pk=obj.pk)
    return render(request, "portfolio/gate_review.html", {
        "experiment": obj, "form": form, "history": list(selectors.gate_history(experiment=obj)),
        "stopped": obj.status == ExperimentStatus.STOPPED})


@require_http_methods(["GET", "POST"])
@view_access("portfolio.change_experiment", get_object=_experiment, expect=only_roles(*MANAGERS, sample="experiment"))
def plan_edit(request, pk: int, obj: Experiment):
    plan = EvaluationPlan.objects.filter(experiment=obj).first()
    initial = {}
    if plan is not None:
        initial = {f: getattr(plan, f) for f in services.PLAN_FIELDS}
        initial["treated_territories"] = list(plan.treated_territories.all())
        initial["comparison_territories"] = list(plan.comparison_territories.all())
    form = PlanForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        reason = data.pop("reason")
        try:
            if plan is None:
                services.evaluation_plan_register(experiment=obj, user=request.user, **data)
            else:
                services.evaluation_plan_update(plan=plan, user=request.user, reason=reason, **data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Plan d'évaluation enregistré."))
            return redirect("portfolio:experiment-detail", pk=obj.pk)
    return render(request, "portfolio/plan_form.html", {"experiment": obj, "form": form, "plan": plan})


@require_http_methods(["GET", "POST"])
@view_access("portfolio.update_progress", get_object=_experiment, expect=only_roles(*MANAGERS, sample="experiment"))
def progress(request, pk: int, obj: Experiment):
    """Milestones and KPIs (members of the organisations involved), budget lines and sites (managers)."""
    action = request.POST.get("action") if request.method == "POST" else None
    can_budget = request.user.has_perm("portfolio.change_experiment", obj)
    kpis = list(obj.kpis.all())
    forms_ = {
        "milestone": MilestoneForm(request.POST if action == "milestone" else None, prefix="milestone"),
        "kpi": KpiForm(request.POST if action == "kpi" else None, prefix="kpi"),
        "kpi_value": KpiValueForm(request.POST if action == "kpi_value" else None, prefix="value", kpis=kpis),
        "budget": BudgetLineForm(request.POST if action == "budget" else None, prefix="budget"),
        "site": SiteForm(request.POST if action == "site" else None, prefix="site"),
    }
    if action == "done":
        milestone = get_object_or_404(obj.milestones, pk=request.POST.get("milestone") or 0)
        services.milestone_mark_done(milestone=milestone)
        messages.success(request, _("Jalon marqué comme atteint."))
        return redirect("portfolio:progress", pk=obj.pk)
    form = forms_.get(action or "")
    if form is not None and (action not in {"budget", "site"} or can_budget) and form.is_valid():
        data = form.cleaned_data
        try:
            if action == "milestone":
                services.milestone_add(experiment=obj, **data)
            elif action == "kpi":
                services.kpi_add(experiment=obj, **data)
            elif action == "kpi_value":
                services.kpi_value_record(kpi=obj.kpis.get(pk=data["kpi"]), on=data["date"], value=data["value"])
            elif action == "budget":
                services.budget_line_add(experiment=obj, **data)
            elif action == "site":
                services.site_add(experiment=obj, **data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Suivi mis à jour."))
            return redirect("portfolio:progress", pk=obj.pk)
    today = timezone.localdate()
    return render(request, "portfolio/progress.html", {
        "experiment": obj, "forms": forms_, "can_budget": can_budget,
        "milestones": [(m, m.state_on(today)) for m in obj.milestones.all()],
        "budget_lines": list(obj.budget_lines.all()), "sites": list(obj.sites.select_related("territory"))})


@require_http_methods(["GET", "POST"])
@view_access("portfolio.change_experiment", get_object=_experiment, expect=only_roles(*MANAGERS, sample="experiment"))
def deadlines(request, pk: int, obj: Experiment):
    action = request.POST.get("action") if request.method == "POST" else None
    form = DeadlineForm(request.POST if action == "add" else None, experiment=obj)
    try:
        if action == "add" and form.is_valid():
            services.deadline_add(experiment=obj, **form.cleaned_data)
            messages.success(request, _("Échéance ajoutée."))
            return redirect("portfolio:deadlines", pk=obj.pk)
        if action == "done":
            deadline = get_object_or_404(obj.deadlines, pk=request.POST.get("deadline") or 0)
            services.deadline_mark_done(deadline=deadline)
            return redirect("portfolio:deadlines", pk=obj.pk)
        if action == "article51":
            services.deadlines_article51(experiment=obj, permanent_within_months=int(
                request.POST.get("within") or 9) if request.POST.get("within") in {"6", "9"} else 9)
            messages.success(request, _("Échéances « article 51 » ajoutées."))
            return redirect("portfolio:deadlines", pk=obj.pk)
    except ValidationError as exc:
        _form_errors(form, exc)
    return render(request, "portfolio/deadlines.html", {
        "experiment": obj, "form": form, "deadlines": selectors.resolved_deadlines(experiment=obj),
        "next": selectors.next_deadline(experiment=obj), "today": timezone.localdate()})


@require_http_methods(["GET", "POST"])
@view_access("portfolio.manage_gate_criteria", expect=only_roles(*MANAGERS))
def gate_criteria(request):
    current: dict[int, list[str]] = defaultdict(list)
    for c in GateCriterion.objects.all():
        current[c.stage].append(c.text)
    form = CriteriaForm(request.POST or None, initial_texts=current)
    if request.method == "POST" and form.is_valid():
        for stage in Stage.values:
            texts = form.cleaned_data[f"stage_{stage}"].splitlines()
            services.gate_criteria_replace(stage=stage, texts=texts)
        messages.success(request, _("Critères de passage enregistrés."))
        return redirect("portfolio:gate-criteria")
    return render(request, "portfolio/gate_criteria.html", {"form": form})


@require_http_methods(["GET", "POST"])
@view_access("portfolio.bulk_update", expect=only_roles(*MANAGERS, "network_member", "innovator"))
def bulk_update(request):
    form = CsvForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        report = services.progress_import_csv(content=form.cleaned_data["file"].read(), user=request.user)
        if report.ok:
            messages.success(request, _("%(c)s ligne(s) créée(s), %(u)s mise(s) à jour.")
                             % {"c": report.created, "u": report.updated})
            return redirect("portfolio:bulk-update")
    return render(request, "portfolio/bulk_update.html", {"form": form, "report": report})
