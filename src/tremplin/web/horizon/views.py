"""Pages of horizon scanning: signals, the radar, reviews, the panel, a call from a signal, the public listing."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tremplin.web.calls.forms import CallForm
from tremplin.web.core.access import PUBLIC, Expect, only_roles, view_access
from tremplin.web.core.exports import FORMATS
from tremplin.web.core.forms import posted_id, status_for, submit
from tremplin.web.core.querystring import query_choice, query_id
from tremplin.web.horizon import exports, selectors, services
from tremplin.web.horizon.forms import PanelMemberForm, SignalFilterForm, SignalForm, SignalReviewForm, SignalScoreForm
from tremplin.web.horizon.models import Horizon, PanelMember, Signal, SignalDomain
from tremplin.web.horizon.radar import radar_table
from tremplin.web.portfolio.views import chart_csp  # Plotly draws with inline styles (scripts stay 'self')

MANAGERS = ("admin", "programme_manager")
VIEWERS = ("admin", "programme_manager", "decision_maker", "evaluator", "reviewer")
PAGE_SIZE = 50


def _signal(request, pk: int, **kwargs) -> Signal:
    return get_object_or_404(Signal.objects.select_related("steward", "created_by"), pk=pk)


def _signal_fields(data: dict) -> dict:
    fields = dict(data)
    fields.pop("problems", None)
    fields.pop("calls", None)
    return fields


def _detail(signal) -> str:
    return reverse("horizon:signal-detail", args=[signal.pk])


# --- signals -----------------------------------------------------------------------------------------------------


@view_access(None, expect=Expect(anonymous=302, default=200, roles={"network_member": 302, "innovator": 302}))
def signal_list(request):
    """The internal scanning, filtered; those who may not read it are sent to the public listing."""
    if not request.user.has_perm("horizon.view_signals"):
        return redirect("horizon:public-list")
    form = SignalFilterForm(request.GET or None)
    qs = selectors.with_visible_links(selectors.signal_filtered(user=request.user, **form.filters()),
                                      user=request.user)
    page = Paginator(qs.order_by("domain", "horizon", "title", "pk"), PAGE_SIZE).get_page(
        query_id(request.GET, "page") or 1)
    aggregates = selectors.panel_aggregates(signal_ids=[s.pk for s in page])
    today = timezone.localdate()
    rows = [{"signal": s, "panel": aggregates.get(s.pk), "due": selectors.review_due_on(s),
             "overdue": selectors.review_overdue(s, today=today)} for s in page]
    query = request.GET.copy()
    query.pop("page", None)
    template = "horizon/_signal_rows.html" if request.htmx else "horizon/signal_list.html"
    return render(request, template, {
        "form": form, "page": page, "rows": rows, "query": query.urlencode(), "formats": FORMATS,
        "can_add": request.user.has_perm("horizon.add_signal"),
        "can_manage_panel": request.user.has_perm("horizon.manage_panel"),
        "overdue_count": len(selectors.signals_due_for_review(today=today)),
        "review_months": selectors.review_months(),
    })


@view_access("horizon.view_signals", expect=only_roles(*VIEWERS))
@chart_csp
def signal_radar(request):
    """The radar by domain and horizon (interactive chart), with the same information as tables."""
    form = SignalFilterForm(request.GET or None)
    signals = list(selectors.signal_filtered(user=request.user, **form.filters())
                   .order_by("domain", "horizon", "-likelihood", "title", "pk"))
    aggregates = selectors.panel_aggregates(signal_ids=[s.pk for s in signals])
    points, figure = selectors.radar(signals, aggregates=aggregates)
    return render(request, "horizon/radar.html", {
        "form": form, "points": points, "figure": figure, "table": _table(points),
        "horizons": Horizon.choices, "aggregates": aggregates})


def _table(points) -> list[tuple[str, list]]:
    labels = dict(SignalDomain.choices)
    return [(labels[domain], cells) for domain, cells in radar_table(points)]


@require_http_methods(["GET", "POST"])
@view_access("horizon.add_signal", expect=only_roles(*MANAGERS))
def signal_create(request):
    form = SignalForm(request.POST or None, user=request.user)
    done = submit(request, form, lambda data: services.signal_create(
        created_by=request.user, problems=data["problems"], calls=data["calls"], **_signal_fields(data)),
        success=_("Signal enregistré."), then=_detail)
    return done or render(request, "horizon/signal_form.html", {"form": form, "title": _("Nouveau signal")},
                          status=status_for(request))


@view_access("horizon.view_signal", get_object=_signal, expect=only_roles(*VIEWERS, sample="signal"))
def signal_detail(request, pk: int, obj: Signal):
    user = request.user
    aggregate = selectors.panel_aggregates(signal_ids=[obj.pk]).get(obj.pk)
    my_score = obj.scores.filter(scorer=user).first()
    can_see_scores = user.has_perm("horizon.view_panel_scores", obj)
    return render(request, "horizon/signal_detail.html", {
        "signal": obj, "panel": aggregate, "my_score": my_score,
        "scores": selectors.signal_scores(signal=obj) if can_see_scores else None,
        "problems": list(obj.problems.order_by("title")),
        "calls": list(selectors.visible_calls(user=user).filter(signals=obj)),
        "reviews": list(obj.reviews.select_related("reviewed_by")[:20]),
        "reminders": list(obj.reminders.all()[:5]) if can_see_scores else None,
        "due": selectors.review_due_on(obj), "overdue": selectors.review_overdue(obj),
        "review_months": selectors.review_months(),
        "can_change": user.has_perm("horizon.change_signal", obj),
        "can_review": user.has_perm("horizon.review_signal", obj),
        "can_score": user.has_perm("horizon.score_signal", obj) and PanelMember.objects.filter(user=user).exists(),
        "can_prepare_call": user.has_perm("horizon.prepare_call", obj),
    })


@require_http_methods(["GET", "POST"])
@view_access("horizon.change_signal", get_object=_signal, expect=only_roles(*MANAGERS, sample="signal"))
def signal_edit(request, pk: int, obj: Signal):
    form = SignalForm(request.POST or None, instance=Signal.objects.get(pk=obj.pk), user=request.user)
    done = submit(request, form, lambda data: services.signal_update(
        signal=obj, problems=data["problems"], calls=data["calls"], **_signal_fields(data)),
        success=_("Signal mis à jour."), then=_detail)
    return done or render(request, "horizon/signal_form.html", {"form": form, "title": obj.title, "signal": obj},
                          status=status_for(request))


@require_http_methods(["GET", "POST"])
@view_access("horizon.review_signal", get_object=_signal, expect=only_roles(*MANAGERS, sample="signal"))
def signal_review(request, pk: int, obj: Signal):
    """Record a review: still current? Horizon and likelihood confirmed or changed; the reminder clock restarts."""
    form = SignalReviewForm(request.POST or None, initial={"horizon": obj.horizon, "likelihood": obj.likelihood})
    done = submit(request, form, lambda data: services.signal_review(
        signal=obj, by=request.user, note=data["note"], horizon=data["horizon"], likelihood=data["likelihood"],
        on=data["reviewed_on"]),
        success=lambda _review: _("Revue enregistrée : prochaine revue avant le %(date)s.")
        % {"date": selectors.review_due_on(obj).strftime("%d/%m/%Y")}, then=lambda _review: _detail(obj))
    return done or render(request, "horizon/signal_review.html", {
        "form": form, "signal": obj, "due": selectors.review_due_on(obj)}, status=status_for(request))


# --- the panel ---------------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@view_access("horizon.score_signal", get_object=_signal, expect=only_roles("admin", sample="signal"))
def signal_score(request, pk: int, obj: Signal):
    member = PanelMember.objects.filter(user=request.user).exists()
    existing = obj.scores.filter(scorer=request.user).first()
    initial = {} if existing is None else {"likelihood": existing.likelihood, "impact": existing.impact,
                                           "relevance": existing.relevance, "comment": existing.comment}
    form = SignalScoreForm(request.POST or None, initial=initial)
    done = submit(request, form, lambda data: services.signal_score(signal=obj, scorer=request.user, **data),
                  success=_("Note enregistrée."), then=lambda _score: reverse("horizon:score-queue"))
    return done or render(request, "horizon/signal_score.html", {"form": form, "signal": obj, "member": member},
                          status=status_for(request))


@view_access("horizon.view_score_queue", expect=only_roles("admin"))
def score_queue(request):
    items = selectors.score_queue(user=request.user)
    return render(request, "horizon/score_queue.html", {
        "items": items, "member": PanelMember.objects.filter(user=request.user).exists(),
        "pending": sum(1 for i in items if i.score is None)})


@require_http_methods(["GET", "POST"])
@view_access("horizon.manage_panel", expect=only_roles(*MANAGERS))
def panel(request):
    """The panel's members: add one (form) or remove one (`remove` = the member's id)."""
    removing = request.method == "POST" and "remove" in request.POST
    form = PanelMemberForm(request.POST if request.method == "POST" and not removing else None)
    if request.method == "POST":
        if removing:
            member = PanelMember.objects.filter(pk=posted_id(request, "remove")).first()
            if member is not None:
                services.panel_member_remove(member=member)
                messages.success(request, _("Retiré du panel."))
            return redirect("horizon:panel")
        done = submit(request, form, lambda data: services.panel_member_add(user=data["user"], by=request.user),
                      success=_("Ajouté au panel."), then=lambda _member: reverse("horizon:panel"))
        if done:
            return done
    members = list(PanelMember.objects.select_related("user"))
    counts = selectors.score_counts()
    return render(request, "horizon/panel.html", {
        "form": form, "members": [(m, counts.get(m.user_id, 0)) for m in members]}, status=status_for(request))


# --- from a signal to a call ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@view_access("horizon.prepare_call", get_object=_signal, expect=only_roles(*MANAGERS, sample="signal"))
def signal_prepare_call(request, pk: int, obj: Signal):
    """"Prepare a call for this": the calls app's form, pre-filled from the signal and its problems; the call is
    created by the calls app's service as a draft, and linked to the signal."""
    initial = selectors.call_draft_initial(signal=obj)
    form = CallForm(request.POST or None, initial=initial)

    def prepare(data: dict):
        problems = data.pop("problems")
        return services.signal_prepare_call(signal=obj, by=request.user, problems=problems, **data)

    done = submit(request, form, prepare, then=lambda call: reverse("calls:call-detail", args=[call.pk]),
                  success=_("Brouillon d'appel créé à partir du signal, avec la grille d'évaluation par défaut : "
                            "complétez-le avant son ouverture."))
    return done or render(request, "horizon/prepare_call.html", {
        "form": form, "signal": obj, "problems": initial["problems"]}, status=status_for(request))


# --- export and the public listing --------------------------------------------------------------------------------


@view_access("horizon.export_signals", expect=only_roles(*VIEWERS))
def signal_export(request):
    form = SignalFilterForm(request.GET or None)
    signals = selectors.signal_filtered(user=request.user, **form.filters())
    return exports.signals_response(signals, fmt=query_choice(request.GET, "fmt", FORMATS) or "csv",
                                    user=request.user)


@view_access(None, public=True, expect=PUBLIC)
@chart_csp
def public_list(request):
    """Signals marked public: what is coming, for everyone (no name, no score, no comment)."""
    signals = list(selectors.public_signals().order_by("domain", "horizon", "-likelihood", "title", "pk"))
    points, figure = selectors.radar(signals, public=True)
    by_pk = {s.pk: s for s in signals}
    return render(request, "horizon/public_list.html", {
        "signals": signals, "points": points, "items": [(p, by_pk[p.signal.pk]) for p in points], "figure": figure, "table": _table(points),
        "horizons": Horizon.choices, "internal_url": reverse("horizon:signal-list")})


@view_access(None, public=True, expect=PUBLIC)
def public_export(request):
    """The public listing as CSV / XLSX, for everyone (the same fields as the page: no person, no score)."""
    return exports.public_signals_response(selectors.public_signals(),
                                           fmt=query_choice(request.GET, "fmt", FORMATS) or "csv")
