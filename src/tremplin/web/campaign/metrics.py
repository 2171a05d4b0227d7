"""Campaign arithmetic on plain values (no Django): totals to date, costs per result, progress to goal,
comparison with a previous campaign. Decimal throughout (money), None where a ratio is undefined.

- KPIs are entered as totals to date (cumulative): a campaign's total is its latest value.
- Budget spent: the latest "budget" KPI; without one, the sum of the actions' costs ("actions").
- Cost per person reached = budget / unique people reached; per complete view = budget / complete video views;
  per press interview = budget / interviews; per unique visit = budget / visits; per thousand impressions
  (CPM) = 1000 × budget / impressions. E.g. the Mouvement innovation santé 2018: $120,000 / 480,000 people
  = $0.25 per person reached.
- Progress to goal = current / target; the expected progress is the share of the time from the campaign's start
  to the goal's date already elapsed (a straight line): at or above it, the goal is on track.
- Linear projection at the campaign's end = current × (whole duration / elapsed duration); it is what is compared
  with a previous (finished) campaign's final result, together with the share of that result already reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

COST_RATIOS: tuple[tuple[str, str, Decimal], ...] = (
    # name, denominator metric, multiplier
    ("per_reach", "unique_reach", Decimal(1)),
    ("per_complete_view", "complete_views", Decimal(1)),
    ("per_interview", "press_interviews", Decimal(1)),
    ("per_visit", "unique_visits", Decimal(1)),
    ("per_thousand_impressions", "impressions", Decimal(1000)),
)
BudgetSource = Literal["kpi", "actions", "none"]
GoalStatus = Literal["achieved", "on_track", "behind", "missed", "not_started"]


def ratio(numerator: Decimal | None, denominator: Decimal | None, multiplier: Decimal = Decimal(1)) -> Decimal | None:
    """numerator × multiplier / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator * multiplier / denominator


def latest_values(entries: Iterable[tuple[str, date, Decimal]]) -> dict[str, tuple[date, Decimal]]:
    """The latest (date, value) of each metric among (metric, date, value) entries."""
    latest: dict[str, tuple[date, Decimal]] = {}
    for metric, on, value in entries:
        if metric not in latest or on >= latest[metric][0]:
            latest[metric] = (on, Decimal(value))
    return latest


@dataclass(frozen=True)
class Totals:
    values: Mapping[str, Decimal | None]  # every metric (None: never entered)
    as_of: date | None  # the latest date of any entry
    budget: Decimal | None
    budget_source: BudgetSource

    def get(self, metric: str) -> Decimal | None:
        return self.values.get(metric)


def totals(entries: Iterable[tuple[str, date, Decimal]], *, metrics: Iterable[str],
           action_costs: Iterable[Decimal] = ()) -> Totals:
    latest = latest_values(entries)
    values = {m: latest[m][1] if m in latest else None for m in metrics}
    as_of = max((on for on, _v in latest.values()), default=None)
    if values.get("budget") is not None:
        budget, source = values["budget"], "kpi"
    else:
        costs = [Decimal(c) for c in action_costs]
        budget, source = (sum(costs, Decimal(0)), "actions") if costs else (None, "none")
    return Totals(values=values, as_of=as_of, budget=budget, budget_source=source)


def cost_ratios(t: Totals) -> dict[str, Decimal | None]:
    """Cost per result, for each of COST_RATIOS."""
    return {name: ratio(t.budget, t.get(metric), multiplier) for name, metric, multiplier in COST_RATIOS}


@dataclass(frozen=True)
class GoalProgress:
    current: Decimal | None
    target: Decimal
    fraction: Decimal | None  # current / target
    expected: Decimal | None  # share of the time to the goal's date already elapsed (0–1)
    status: GoalStatus


def goal_progress(*, current: Decimal | None, target: Decimal, starts_on: date, target_date: date,
                  today: date) -> GoalProgress:
    fraction = ratio(current, target)
    if target_date <= starts_on:
        expected = Decimal(1)
    else:
        elapsed = min(max((today - starts_on).days, 0), (target_date - starts_on).days)
        expected = Decimal(elapsed) / Decimal((target_date - starts_on).days)
    if fraction is not None and fraction >= 1:
        status: GoalStatus = "achieved"
    elif today > target_date:
        status = "missed"
    elif today <= starts_on or expected == 0:
        status = "not_started"
    elif fraction is not None and fraction >= expected:
        status = "on_track"
    else:
        status = "behind"
    return GoalProgress(current=current, target=target, fraction=fraction, expected=expected, status=status)


def projection(current: Decimal | None, *, starts_on: date, ends_on: date | None, as_of: date | None) -> Decimal | None:
    """Linear projection of a total at the campaign's end from its value at `as_of` (None when undefined)."""
    if current is None or ends_on is None or as_of is None:
        return None
    elapsed = (as_of - starts_on).days
    duration = (ends_on - starts_on).days
    if elapsed <= 0 or duration <= 0:
        return None
    if as_of >= ends_on:
        return current
    return current * Decimal(duration) / Decimal(elapsed)


@dataclass(frozen=True)
class Comparison:
    name: str  # a metric or a cost ratio
    current: Decimal | None
    previous: Decimal | None
    change: Decimal | None  # current / previous - 1
    better: bool | None  # True when the current campaign does better (more results, lower costs)

    @property
    def share(self) -> Decimal | None:
        """current / previous: e.g. the share of the previous campaign's final result already reached."""
        return None if self.change is None else self.change + 1


def compare(name: str, current: Decimal | None, previous: Decimal | None, *, lower_is_better: bool) -> Comparison:
    change = None if ratio(current, previous) is None else ratio(current, previous) - 1
    better = None if change is None or change == 0 else (change < 0) == lower_is_better
    return Comparison(name=name, current=current, previous=previous, change=change, better=better)


def comparison(current: Totals, previous: Totals, *, metrics: Iterable[str],
               comparable_costs: bool = True) -> tuple[list[Comparison], list[Comparison]]:
    """(results, costs): each metric (more is better; the budget spent is shown, neither better nor worse) and
    each cost per result (lower is better) of the current campaign against the previous one. Money in different
    currencies is not compared (`comparable_costs=False`: the previous values are left out)."""
    results = []
    for m in metrics:
        if m == "budget":
            spent = compare(m, current.budget, previous.budget if comparable_costs else None, lower_is_better=True)
            results.append(Comparison(m, spent.current, spent.previous, spent.change, None))
        else:
            results.append(compare(m, current.get(m), previous.get(m), lower_is_better=False))
    mine, theirs = cost_ratios(current), cost_ratios(previous)
    costs = [compare(name, mine[name], theirs[name] if comparable_costs else None, lower_is_better=True)
             for name, _m, _k in COST_RATIOS]
    return results, costs


def projected_comparison(projections: Mapping[str, Decimal | None], previous: Totals, *, metrics: Iterable[str],
                         comparable_costs: bool = True) -> list[Comparison]:
    """Each metric's linear projection at the campaign's end against the previous campaign's final result (totals
    to date are cumulative: halfway through, they are naturally below a finished campaign's; the projection is
    the fair comparison). The budget is shown, neither better nor worse."""
    result = []
    for m in metrics:
        if m == "budget":
            spent = compare(m, projections.get(m), previous.budget if comparable_costs else None,
                            lower_is_better=True)
            result.append(Comparison(m, spent.current, spent.previous, spent.change, None))
        else:
            result.append(compare(m, projections.get(m), previous.get(m), lower_is_better=False))
    return result
