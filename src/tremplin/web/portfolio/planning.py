"""Pure computations of the portfolio: months between dates, deadline resolution, evaluation alerts.

The power computation itself is the engine's (`tremplin.engine.power.months_required`): never duplicated here.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from tremplin.engine import outcomes as engine_outcomes
from tremplin.engine.power import DurationResult, months_required

# The engine's outcome catalogue, minus the exposure denominator (not an outcome one evaluates).
OUTCOME_CHOICES: tuple[str, ...] = tuple(name for name, o in engine_outcomes.CATALOGUE.items() if o.kind != "exposure")


def add_months(day: date, months: int) -> date:
    """`day` moved by `months` calendar months (clamped to the month's last day: 31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_between(start: date, end: date) -> int:
    """Whole calendar months from `start` to `end` (0 when `end` is before `start`)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if add_months(start, months) > end:
        months -= 1
    return max(months, 0)


# --- deadlines that depend on deadlines -------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineRule:
    """One deadline: a fixed date, or `relative_to` another rule's id, moved by months then days."""

    id: int
    fixed_date: date | None = None
    relative_to: int | None = None
    offset_months: int = 0
    offset_days: int = 0


class DeadlineCycleError(ValueError):
    """Deadlines that depend on each other in a loop."""


def resolve_deadlines(rules: Mapping[int, DeadlineRule]) -> dict[int, date | None]:
    """Date of every rule; None when it depends on an unknown rule or its offsets leave the calendar. Raises
    DeadlineCycleError on a cycle."""
    from datetime import timedelta

    resolved: dict[int, date | None] = {}

    def visit(rule_id: int, path: tuple[int, ...]) -> date | None:
        if rule_id in resolved:
            return resolved[rule_id]
        if rule_id in path:
            raise DeadlineCycleError(f"cycle: {' -> '.join(map(str, (*path, rule_id)))}")
        rule = rules.get(rule_id)
        if rule is None:
            return None
        if rule.relative_to is None:
            value = rule.fixed_date
        else:
            anchor = visit(rule.relative_to, (*path, rule_id))
            try:
                value = None if anchor is None else add_months(anchor, rule.offset_months) + timedelta(
                    days=rule.offset_days)
            except (ValueError, OverflowError):  # moved out of the calendar (years 1 to 9999): no date
                value = None
        resolved[rule_id] = value
        return value

    for rule_id in rules:
        visit(rule_id, ())
    return resolved


# --- evaluation alert ---------------------------------------------------------------------------------------


def plan_duration(*, n_units: int, n_treated: int, baseline_mean: float, sd: float, autocorrelation: float,
                  effect: float, pre_months: int, planned_months: int | None = None) -> DurationResult:
    """The engine's answer for an evaluation plan (relative effect, power 0.8, alpha 0.05)."""
    return months_required(n_units=n_units, n_treated=n_treated, baseline_mean=baseline_mean, sd=sd,
                           autocorrelation=autocorrelation, effect=effect, relative=True,
                           pre_months=pre_months, planned_months=planned_months)


@dataclass(frozen=True)
class EvaluationAlert:
    """The authorisation ends before the evaluation can be conclusive."""

    available_months: int
    months_required: int | None  # None: not reachable within the engine's horizon
    months_short: int | None  # None when unreachable

    @property
    def unreachable(self) -> bool:
        return self.months_required is None


def evaluation_alert(*, start: date | None, authorisation_end: date | None,
                     required: int | None, computed: bool = True) -> EvaluationAlert | None:
    """Alert when the follow-up allowed by the authorisation is shorter than the months required.

    `required` is `DurationResult.months_required` (None: unreachable); `computed=False` means no plan yet.
    """
    if not computed or start is None or authorisation_end is None:
        return None
    available = months_between(start, authorisation_end)
    if required is None:
        return EvaluationAlert(available, None, None)
    if available < required:
        return EvaluationAlert(available, required, required - available)
    return None
