"""Pages of the coalition and campaign app: campaigns (figures, goals, actions, KPIs, import, export) and
coalitions (funnel, organisations, contacts, interactions)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tremplin.web.accounts.models import Organisation
from tremplin.web.campaign import exports, selectors, services
from tremplin.web.campaign.charts import kpi_figure
from tremplin.web.campaign.forms import (
    ActionForm,
    CampaignForm,
    CoalitionForm,
    GoalForm,
    InteractionForm,
    KpiEntryForm,
    KpiImportForm,
    MemberAddForm,
    MemberForm,
)
from tremplin.web.campaign.kpi_import import COLUMNS, MAX_FILE_BYTES
from tremplin.web.campaign.models import (
    FUNNEL,
    Campaign,
    Coalition,
    CoalitionMember,
    MemberStatus,
    Metric,
)
from tremplin.web.core.access import only_roles, view_access
from tremplin.web.core.exports import FORMATS
from tremplin.web.core.forms import posted_id, status_for, submit
from tremplin.web.core.querystring import query_choice
from tremplin.web.core.uploads import upload_limit, upload_refusal
from tremplin.web.portfolio.views import chart_csp  # Plotly draws with inline styles (scripts stay 'self')

VIEWERS = ("admin", "programme_manager", "decision_maker")
MANAGERS = ("admin", "programme_manager")


def _campaign(request, pk: int, **kwargs) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("coalition", "previous"), pk=pk)


def _coalition(request, pk: int, **kwargs) -> Coalition:
    return get_object_or_404(Coalition.objects.select_related("lead_organisation"), pk=pk)


def _member(request, pk: int, **kwargs) -> CoalitionMember:
    return get_object_or_404(CoalitionMember.objects.select_related("coalition", "organisation"), pk=pk)


def _campaign_url(campaign) -> str:
    return reverse("campaign:campaign-detail", args=[campaign.pk])


def _member_url(member) -> str:
    return reverse("campaign:member-detail", args=[member.pk])


# --- campaigns -----------------------------------------------------------------------------------------------


@view_access("campaign.view_campaigns", expect=only_roles(*VIEWERS))
def campaign_list(request):
    user = request.user
    campaigns = list(selectors.campaign_list_for_user(user=user))
    figures = selectors.campaigns_figures(campaigns)
    return render(request, "campaign/campaign_list.html", {
        "rows": [(c, figures[c.pk]) for c in campaigns],
        "coalitions": list(selectors.coalition_list_for_user(user=user)),
        "can_add": user.has_perm("campaign.add_campaign"), "can_add_coalition": user.has_perm("campaign.add_coalition"),
    })


@require_http_methods(["GET", "POST"])
@view_access("campaign.add_campaign", expect=only_roles(*MANAGERS))
def campaign_create(request):
    coalitions = selectors.coalitions_run_by(user=request.user)
    form = CampaignForm(request.POST or None, coalitions=coalitions)
    done = submit(request, form, lambda data: services.campaign_create(by=request.user, **data), then=_campaign_url,
                  success=_("Campagne créée : ajoutez ses objectifs, ses actions et ses indicateurs."))
    return done or render(request, "campaign/form.html", {
        "form": form, "title": _("Nouvelle campagne"), "no_coalition": not coalitions.exists()},
        status=status_for(request))


@view_access("campaign.view_campaign", get_object=_campaign, expect=only_roles(*VIEWERS, sample="campaign"))
@chart_csp
def campaign_detail(request, pk: int, obj: Campaign):
    """The campaign against its goals and against the previous campaign: totals, costs per result, charts."""
    figures = selectors.campaign_figures(obj)
    previous_series = selectors.previous_series(obj.previous) if obj.previous else {}
    figure = kpi_figure(obj, series=figures.series, previous=obj.previous, previous_series=previous_series,
                        goals=figures.goals)
    labels = dict(Metric.choices)
    return render(request, "campaign/campaign_detail.html", {
        "campaign": obj, "f": figures, "figure": figure, "labels": labels,
        "cost_labels": _cost_labels(), "table": selectors.kpi_table(obj), "metrics": Metric.choices,
        "metric_rows": _metric_rows(figures),
        "actions": list(obj.actions.all()), "can_change": request.user.has_perm("campaign.change_campaign", obj),
        "formats": FORMATS,
    })


def _metric_rows(figures) -> list[dict]:
    """One row per KPI: to date, projected at the end, and against the previous campaign (if any)."""
    results = {c.name: c for c in figures.results}
    projected = {c.name: c for c in figures.projected}
    return [{"metric": m, "label": label, "money": m == Metric.BUDGET,
             "value": figures.totals.budget if m == Metric.BUDGET else figures.totals.get(m),
             "projection": figures.projections.get(m), "result": results.get(m), "projected": projected.get(m)}
            for m, label in Metric.choices]


def _cost_labels() -> dict[str, str]:
    return {"per_reach": _("par personne atteinte"), "per_complete_view": _("par vue complète"),
            "per_interview": _("par entrevue de presse"), "per_visit": _("par visite unique"),
            "per_thousand_impressions": _("pour mille impressions")}


@require_http_methods(["GET", "POST"])
@view_access("campaign.change_campaign", get_object=_campaign, expect=only_roles("admin", sample="campaign"))
def campaign_edit(request, pk: int, obj: Campaign):
    form = CampaignForm(request.POST or None, instance=Campaign.objects.get(pk=obj.pk),
                        coalitions=Coalition.objects.filter(pk=obj.coalition_id))

    def update(data: dict):
        data.pop("coalition", None)
        return services.campaign_update(campaign=obj, **data)

    done = submit(request, form, update, success=_("Campagne mise à jour."), then=_campaign_url)
    return done or render(request, "campaign/form.html", {"form": form, "title": obj.name, "campaign": obj},
                          status=status_for(request))


@require_http_methods(["GET", "POST"])
@view_access("campaign.change_campaign", get_object=_campaign, expect=only_roles("admin", sample="campaign"))
def kpi_add(request, pk: int, obj: Campaign):
    """Enter one date's totals by hand."""
    form = KpiEntryForm(request.POST or None)
    done = submit(request, form, lambda data: services.kpi_record(
        campaign=obj, on=data["on"], values=data["values"], by=request.user),
        success=lambda report: _("%(created)s valeur(s) ajoutée(s), %(updated)s modifiée(s).")
        % {"created": report.created, "updated": report.updated}, then=lambda _report: _campaign_url(obj))
    return done or render(request, "campaign/kpi_form.html", {"form": form, "campaign": obj},
                          status=status_for(request))


@upload_limit(MAX_FILE_BYTES)
@require_http_methods(["GET", "POST"])
@view_access("campaign.change_campaign", get_object=_campaign, expect=only_roles("admin", sample="campaign"))
def kpi_import(request, pk: int, obj: Campaign):
    """Import a KPI series from CSV: validated entirely, errors located, then all or nothing."""
    from tremplin.web.campaign.kpi_import import kpi_import_csv

    form = KpiImportForm(request.POST or None, request.FILES or None)
    report = None
    if refused := upload_refusal(request):  # stopped while it streamed in: nothing was read
        messages.error(request, refused.message)
        return render(request, "campaign/kpi_import.html", {
            "form": KpiImportForm(), "campaign": obj, "report": None, "columns": COLUMNS,
            "metrics": Metric.choices}, status=400)
    if request.method == "POST" and form.is_valid():
        report = kpi_import_csv(campaign=obj, content=form.cleaned_data["file"].read(), by=request.user)
        if report.ok:
            messages.success(request, _("Import réussi : %(created)s valeur(s) ajoutée(s), %(updated)s modifiée(s).")
                             % {"created": report.created, "updated": report.updated})
            return redirect("campaign:campaign-detail", pk=obj.pk)
    return render(request, "campaign/kpi_import.html", {
        "form": form, "campaign": obj, "report": report, "columns": COLUMNS, "metrics": Metric.choices},
        status=400 if report is not None or (request.method == "POST" and not form.is_valid()) else 200)


@view_access("campaign.view_campaign", get_object=_campaign, expect=only_roles(*VIEWERS, sample="campaign"))
def campaign_export(request, pk: int, obj: Campaign):
    return exports.kpi_response(obj, fmt=query_choice(request.GET, "fmt", FORMATS) or "csv")


def _items_page(request, campaign: Campaign, *, form_class, items, add, delete, added: str, deleted: str,
                url_name: str, template: str, context: dict | None = None):
    """A campaign's list of goals or actions: add one (the form) or delete one (`delete` = its id)."""
    if request.method == "POST" and "delete" in request.POST:
        item = items.filter(pk=posted_id(request, "delete")).first()
        if item is not None:
            delete(item)
            messages.success(request, deleted)
        return redirect(url_name, pk=campaign.pk)
    form = form_class(request.POST or None)
    done = submit(request, form, lambda data: add(**data), success=added,
                  then=lambda _item: reverse(url_name, args=[campaign.pk]))
    return done or render(request, template, {"form": form, "campaign": campaign, **(context or {})},
                          status=status_for(request))


@require_http_methods(["GET", "POST"])
@view_access("campaign.change_campaign", get_object=_campaign, expect=only_roles("admin", sample="campaign"))
def campaign_goals(request, pk: int, obj: Campaign):
    """The campaign's goals, with their progress."""
    return _items_page(
        request, obj, form_class=GoalForm, items=obj.goals, url_name="campaign:campaign-goals",
        add=lambda **data: services.goal_add(campaign=obj, **data), delete=lambda goal: services.goal_delete(goal=goal),
        added=_("Objectif ajouté."), deleted=_("Objectif supprimé."), template="campaign/goals.html",
        context={"goals": selectors.campaign_figures(obj).goals})


@require_http_methods(["GET", "POST"])
@view_access("campaign.change_campaign", get_object=_campaign, expect=only_roles("admin", sample="campaign"))
def campaign_actions(request, pk: int, obj: Campaign):
    """The campaign's actions and their costs."""
    return _items_page(
        request, obj, form_class=ActionForm, items=obj.actions, url_name="campaign:campaign-actions",
        add=lambda **data: services.action_add(campaign=obj, **data),
        delete=lambda action: services.action_delete(action=action), added=_("Action ajoutée."),
        deleted=_("Action supprimée."), template="campaign/actions.html", context={"actions": list(obj.actions.all())})


# --- coalitions ----------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@view_access("campaign.add_coalition", expect=only_roles(*MANAGERS))
def coalition_create(request):
    user = request.user
    leads = Organisation.objects.order_by("name") if user.is_superuser else Organisation.objects.filter(
        memberships__user=user, memberships__role="programme_manager").distinct().order_by("name")
    form = CoalitionForm(request.POST or None, lead_choices=leads)
    done = submit(request, form, lambda data: services.coalition_create(by=user, **data), success=_("Coalition créée."),
                  then=lambda coalition: reverse("campaign:coalition-detail", args=[coalition.pk]))
    return done or render(request, "campaign/form.html", {"form": form, "title": _("Nouvelle coalition")},
                          status=status_for(request))


@view_access("campaign.view_coalition", get_object=_coalition, expect=only_roles(*VIEWERS, sample="coalition"))
def coalition_detail(request, pk: int, obj: Coalition):
    """The funnel (approached → engaged → members, and declined) and the organisations."""
    stages, declined = selectors.coalition_funnel(obj)
    total = stages[0].reached if stages else 0
    status = query_choice(request.GET, "status", MemberStatus.values)
    members = selectors.coalition_members(obj)
    if status:
        members = members.filter(status=status)
    template = "campaign/_coalition_members.html" if request.htmx else "campaign/coalition_detail.html"
    return render(request, template, {
        "coalition": obj, "stages": [(s, MemberStatus(s.status).label) for s in stages], "declined": declined,
        "total": total, "members": list(members), "statuses": MemberStatus.choices, "status": status,
        "campaigns": list(obj.campaigns.order_by("-starts_on")), "formats": FORMATS,
        "can_change": request.user.has_perm("campaign.change_coalition", obj),
        "can_see_contacts": request.user.has_perm("campaign.view_contacts", obj), "funnel": FUNNEL,
    })


@view_access("campaign.view_coalition", get_object=_coalition, expect=only_roles(*VIEWERS, sample="coalition"))
def coalition_export(request, pk: int, obj: Coalition):
    return exports.coalition_response(obj, fmt=query_choice(request.GET, "fmt", FORMATS) or "csv")


@require_http_methods(["GET", "POST"])
@view_access("campaign.change_coalition", get_object=_coalition, expect=only_roles("admin", sample="coalition"))
def member_add(request, pk: int, obj: Coalition):
    form = MemberAddForm(request.POST or None, coalition=obj)
    done = submit(request, form, lambda data: services.member_add(coalition=obj, by=request.user, **data),
                  success=_("Organisation ajoutée à la coalition."), then=_member_url)
    return done or render(request, "campaign/form.html", {
        "form": form, "title": _("Ajouter une organisation"), "coalition": obj}, status=status_for(request))


@require_http_methods(["GET", "POST"])
@view_access("campaign.view_contacts", get_object=_member, expect=only_roles("admin", sample="coalition-member"))
def member_detail(request, pk: int, obj: CoalitionMember):
    """An organisation of the coalition: contact person, commitments, governance role, the history of
    interactions; record a new interaction (and a status change) here."""
    form = InteractionForm(request.POST or None)
    done = submit(request, form, lambda data: services.interaction_add(
        member=obj, by=request.user, on=data["on"], kind=data["kind"], summary=data["summary"],
        status=data["status"] or None), success=_("Interaction enregistrée."), then=lambda _i: _member_url(obj))
    return done or render(request, "campaign/member_detail.html", {
        "member": obj, "form": form, "interactions": list(obj.interactions.select_related("by"))},
        status=status_for(request))


@require_http_methods(["GET", "POST"])
@view_access("campaign.change_coalition", get_object=_member, expect=only_roles("admin", sample="coalition-member"))
def member_edit(request, pk: int, obj: CoalitionMember):
    form = MemberForm(request.POST or None, instance=CoalitionMember.objects.get(pk=obj.pk))
    done = submit(request, form, lambda data: services.member_update(member=obj, **data),
                  success=_("Fiche mise à jour."), then=_member_url)
    return done or render(request, "campaign/form.html", {"form": form, "title": obj.organisation.name, "member": obj},
                          status=status_for(request))
