"""Reads for horizon scanning: lists, the panel's aggregates, the radar, review due dates, call drafts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from tremplin.web.calls.selectors import call_list_for_user
from tremplin.web.core import panel_scoring as panel
from tremplin.web.horizon.models import (
    Horizon,
    ImpactLevel,
    Likelihood,
    Signal,
    SignalDomain,
    SignalScore,
    SignalStatus,
)
from tremplin.web.horizon.radar import RadarPoint, RadarSignal, radar_points
from tremplin.web.portfolio.planning import add_months

DEFAULT_REVIEW_MONTHS = 6


def review_months() -> int:
    """N of "a signal not reviewed for N months is flagged" (setting HORIZON_REVIEW_MONTHS)."""
    return int(getattr(settings, "HORIZON_REVIEW_MONTHS", DEFAULT_REVIEW_MONTHS))


def review_due_on(signal: Signal, *, months: int | None = None) -> date:
    return add_months(signal.last_reviewed_on, review_months() if months is None else months)


def review_overdue(signal: Signal, *, today: date | None = None, months: int | None = None) -> bool:
    """Due for review: watched, and its last review is `months` months old or more."""
    today = today or timezone.localdate()
    return signal.status == SignalStatus.WATCHING and review_due_on(signal, months=months) <= today


def signals_due_for_review(*, today: date | None = None, months: int | None = None) -> list[tuple[Signal, date]]:
    """(signal, due date) of every watched signal whose review is due on `today`."""
    today = today or timezone.localdate()
    months = review_months() if months is None else months
    # add_months clamps to the month's end (31 Aug + 6 months = 28 Feb): the database filter keeps a few days
    # of margin and the exact rule is applied here.
    latest = add_months(today, -months) + timedelta(days=3)
    candidates = (Signal.objects.filter(status=SignalStatus.WATCHING, last_reviewed_on__lte=latest)
                  .select_related("steward", "created_by").order_by("pk"))
    return [(s, due) for s in candidates if (due := review_due_on(s, months=months)) <= today]


def signal_list_for_user(*, user) -> QuerySet[Signal]:
    """Every signal, for those who may read the horizon scanning (the rules decide who); nothing otherwise."""
    if not user.has_perm("horizon.view_signals"):
        return Signal.objects.none()
    return Signal.objects.all()


def signal_filtered(*, user, domain: str = "", horizon: str = "", likelihood: int | None = None, status: str = "",
                    query: str = "", overdue: bool = False) -> QuerySet[Signal]:
    qs = signal_list_for_user(user=user).select_related("steward")
    if domain in SignalDomain.values:
        qs = qs.filter(domain=domain)
    if horizon in Horizon.values:
        qs = qs.filter(horizon=horizon)
    if likelihood in Likelihood.values:
        qs = qs.filter(likelihood__gte=likelihood)
    if status == "all":
        pass
    elif status in SignalStatus.values:
        qs = qs.filter(status=status)
    else:
        qs = qs.filter(status=SignalStatus.WATCHING)
    if query:
        qs = qs.filter(Q(title__icontains=query) | Q(summary__icontains=query))
    if overdue:
        qs = qs.filter(pk__in=[s.pk for s, _due in signals_due_for_review()])
    return qs


def visible_calls(*, user) -> QuerySet:
    """The calls this user may see, by the calls app's own rule (drafts for managers only): a signal's linked
    calls are shown, exported and offered through it, so that horizon scanning never reveals a draft call."""
    return call_list_for_user(user=user)


def with_visible_links(signals: QuerySet[Signal], *, user) -> QuerySet[Signal]:
    """`signals` with their problems and the linked calls this user may see, prefetched."""
    return signals.prefetch_related("problems", Prefetch("calls", queryset=visible_calls(user=user)))


def public_signals() -> QuerySet[Signal]:
    """Signals marked public and still watched: the public listing (no personal data is read)."""
    return (Signal.objects.filter(is_public=True, status=SignalStatus.WATCHING)
            .only("pk", "title", "summary", "domain", "horizon", "likelihood", "impact_workforce", "impact_pathways",
                  "impact_costs", "impact_skills", "impact_notes", "source_links", "last_reviewed_on"))


# --- the panel -------------------------------------------------------------------------------------------------


def panel_aggregates(*, signal_ids=None) -> dict[int, panel.ItemAggregate]:
    """The panel's aggregate of each signal (mean, scorer-normalised score, spread, disagreement), with the
    calls' arithmetic (`core.panel_scoring`). Each member's scale is measured over all their scores, so the
    normalisation does not depend on which signals are displayed; `signal_ids` only restricts the result."""
    ratings = list(SignalScore.objects.values_list("scorer_id", "signal_id", "score"))
    wanted = None if signal_ids is None else set(signal_ids)
    stats = panel.scorer_stats_arrays([r for r, _s, _x in ratings], [x for _r, _s, x in ratings])
    shown = [r for r in ratings if wanted is None or r[1] in wanted]
    return panel.aggregate_with_stats(shown, stats, wanted or ())


def score_counts() -> dict[int, int]:
    """How many signals each panel member scored."""
    return dict(SignalScore.objects.values_list("scorer_id").annotate(n=Count("id")).values_list("scorer_id", "n"))


def signal_scores(*, signal: Signal) -> list[SignalScore]:
    return list(signal.scores.select_related("scorer").order_by("scorer__display_name", "scorer__email"))


@dataclass(frozen=True)
class QueueItem:
    signal: Signal
    score: SignalScore | None


def score_queue(*, user) -> list[QueueItem]:
    """The watched signals for a panel member: not yet scored first, then their scored ones."""
    mine = {s.signal_id: s for s in SignalScore.objects.filter(scorer=user)}
    signals = Signal.objects.filter(status=SignalStatus.WATCHING).order_by("domain", "horizon", "title")
    items = [QueueItem(s, mine.get(s.pk)) for s in signals]
    return sorted(items, key=lambda i: i.score is not None)


# --- the radar -------------------------------------------------------------------------------------------------


def radar_signals(signals, *, aggregates: dict | None = None, public: bool = False) -> list[RadarSignal]:
    """The signals numbered 1..n (the number shown on the radar and in its tables), with the panel's mean."""
    aggregates = aggregates or {}
    result = []
    for number, s in enumerate(signals, start=1):
        agg = aggregates.get(s.pk)
        url = f"#signal-{s.pk}" if public else reverse("horizon:signal-detail", args=[s.pk])
        result.append(RadarSignal(pk=s.pk, number=number, title=s.title, domain=s.domain, horizon=s.horizon,
                                  likelihood=s.likelihood, impact=s.impact_level, url=url,
                                  likelihood_label=str(Likelihood(s.likelihood).label),
                                  domain_label=s.get_domain_display(), horizon_label=s.get_horizon_display(),
                                  panel_mean=None if public or agg is None else agg.mean))
    return result


def radar(signals, *, aggregates: dict | None = None, public: bool = False) -> tuple[list[RadarPoint], dict]:
    """The radar's points and its Plotly figure (labels in the active language)."""
    from tremplin.web.horizon.radar import radar_figure

    points = radar_points(radar_signals(signals, aggregates=aggregates, public=public))
    figure = radar_figure(
        points, domain_labels=dict(SignalDomain.choices), horizon_labels=dict(Horizon.choices),
        likelihood_labels={int(k): str(v) for k, v in Likelihood.choices},
        impact_labels={int(k): _("Impact le plus fort : %(level)s") % {"level": v} for k, v in ImpactLevel.choices},
        legend_title=_("Probabilité"), panel_label=_("Note du panel"))
    return points, figure


# --- a call draft from a signal ------------------------------------------------------------------------------------


def call_problems(*, signal: Signal) -> list:
    """The signal's problems that may enter a call (merged and declined ones cannot)."""
    return list(signal.problems.exclude(status__in=["merged", "declined"]).order_by("title"))


def call_draft_initial(*, signal: Signal, today: date | None = None) -> dict:
    """Initial values of the call form prepared from a signal: its title, a text built from the signal and its
    problems, the problems themselves, and phase dates that keep the call a draft (opening in a month)."""
    today = today or timezone.localdate()
    problems = call_problems(signal=signal)
    lines = [signal.summary.strip(), ""]
    lines.append(_("Horizon attendu : %(horizon)s. Probabilité : %(likelihood)s.")
                 % {"horizon": signal.get_horizon_display(), "likelihood": signal.get_likelihood_display()})
    impacts = [f"{label} : {level_label}" for label, level, level_label in signal.impacts() if level]
    if impacts:
        lines.append(_("Impact attendu sur l'organisation des soins : %(impacts)s.") % {"impacts": "; ".join(impacts)})
    if signal.impact_notes.strip():
        lines += ["", signal.impact_notes.strip()]
    if problems:
        lines += ["", _("Problématiques du réseau auxquelles l'appel répond :")]
        lines += [f"- {p.title}" for p in problems]
    if signal.source_link_list:
        lines += ["", _("Sources :")] + [f"- {url}" for url in signal.source_link_list]
    zone = timezone.get_current_timezone()

    def at(day: date) -> datetime:
        return timezone.make_aware(datetime.combine(day, time(9, 0)), zone)

    opens = add_months(today, 1)
    return {
        "title": (_("Appel de solutions : %(title)s") % {"title": signal.title})[:200],
        "text": "\n".join(lines).strip(),
        "problems": problems,
        "opens_at": at(opens), "review_starts_at": at(add_months(opens, 2)),
        "deliberation_starts_at": at(add_months(opens, 3)), "results_at": at(add_months(opens, 4)),
    }
