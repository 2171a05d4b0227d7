"""Platform pages: public home, role dashboards, audit log."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from tremplin.web.accounts.models import Organisation, Role, Territory
from tremplin.web.core import source
from tremplin.web.core.access import LOGGED_IN, PUBLIC, Expect, only_roles, view_access
from tremplin.web.core.models import AuditAction, AuditLog
from tremplin.web.core.querystring import query_choice, query_text


@view_access(None, expect=Expect(anonymous=200, default=302), public=True)
def home(request):
    if request.user.is_authenticated:
        return redirect("core:dashboard")
    stats = {
        "organisations": Organisation.objects.count(),
        "territories": Territory.objects.count(),
        "sectors": Organisation.objects.values("sector").distinct().count(),
    }
    return render(request, "core/home.html", {"stats": stats})


@view_access(None, expect=PUBLIC, public=True)
def healthz(request):
    return JsonResponse({"status": "ok"})


@view_access(None, expect=PUBLIC, public=True)
def source_archive(request):
    """The running code as a zip (AGPL-3.0 section 13: network users are offered the Corresponding Source)."""
    response = HttpResponse(source.archive(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{source.archive_name()}"'
    return response


ROLE_PANELS = {
    Role.ADMIN: {
        "title": _("Administration"),
        "empty": _("Importez les territoires, créez les organisations puis invitez leurs membres."),
    },
    Role.PROGRAMME_MANAGER: {
        "title": _("Pilotage des programmes"),
        "empty": _("Repérez les problématiques remontées par le réseau et préparez un appel de solutions."),
    },
    Role.NETWORK_MEMBER: {
        "title": _("Membre du réseau"),
        "empty": _("Signalez une problématique vécue sur votre territoire ou appuyez celles des autres."),
    },
    Role.INNOVATOR: {
        "title": _("Innovateur"),
        "empty": _("Complétez la fiche de votre organisation : elle accompagnera vos réponses aux appels."),
    },
    Role.REVIEWER: {
        "title": _("Évaluation des propositions"),
        "empty": _("Aucune proposition ne vous est assignée pour l'instant. Déclarez vos conflits d'intérêts "
                   "dès que possible."),
    },
    Role.EVALUATOR: {
        "title": _("Évaluation d'impact"),
        "empty": _("Enregistrez un jeu de données de soins, puis lancez une évaluation depuis un plan."),
    },
    Role.DECISION_MAKER: {
        "title": _("Décision et financement"),
        "empty": _("Les résultats publiés et les modèles de financement apparaîtront ici."),
    },
}


@view_access(None, expect=LOGGED_IN)
def dashboard(request):
    user = request.user
    memberships = list(user.memberships.select_related("organisation", "organisation__territory"))
    panels = []
    for role in Role:
        if role.value in user.roles:
            panel = dict(ROLE_PANELS[role])
            panel["role"] = role.value
            panel["label"] = role.label
            panels.append(panel)
    from tremplin.web.core.dashboard import widgets_for

    context = {"memberships": memberships, "panels": panels, "widgets": widgets_for(request)}
    if user.has_perm("core.view_auditlog"):
        User = get_user_model()
        context["admin_stats"] = {
            "users": User.objects.count(),
            "organisations": Organisation.objects.count(),
            "territories": Territory.objects.count(),
            "denied_today": AuditLog.objects.filter(action=AuditAction.ACCESS_DENIED).count(),
        }
        context["recent_audit"] = list(AuditLog.objects.select_related("actor")[:8])
        context["sector_counts"] = list(
            Organisation.objects.values("sector").annotate(n=Count("id")).order_by("sector")
        )
    from tremplin.web.jobs.selectors import job_list_for_user

    context["recent_jobs"] = list(job_list_for_user(user=user)[:5])
    return render(request, "core/dashboard.html", context)


@view_access("core.view_auditlog", expect=only_roles("admin"))
def audit_log(request):
    entries = AuditLog.objects.select_related("actor")
    action = query_choice(request.GET, "action", AuditAction.values)
    model = query_text(request.GET, "model")
    actor = query_text(request.GET, "actor")
    if action:
        entries = entries.filter(action=action)
    if model:
        entries = entries.filter(model__icontains=model)
    if actor:
        entries = entries.filter(actor_repr__icontains=actor)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "core/audit_log.html", {
        "page": page, "actions": AuditAction.choices,
        "filters": {"action": action, "model": model, "actor": actor},
    })
