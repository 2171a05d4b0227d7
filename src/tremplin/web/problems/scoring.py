"""Prioritisation score: transparent, every component explained.

Four components, each normalised to [0, 1]:

- burden: the estimated yearly cost, on a log scale: log10(1 + cost) / log10(1 + max cost); costs span
  several orders of magnitude, so a log scale keeps a 50 M€ problem from flattening all the others;
- population: the affected population, on the same log scale: log10(1 + n) / log10(1 + max n);
- endorsements: the number of endorsing organisations divided by the largest number of endorsements;
- strategic fit: the programme manager's 0–4 rating divided by 4.

The maxima are taken over the open problems (new, qualified, in a call), whatever the filters, so a
problem's score does not change with the list's filters. A missing value counts as 0, and so does a
negative or non-numeric one (the database refuses them; the score never raises on what it holds).

score = 100 × Σ (weight × normalised value) / Σ weights; the contribution of a component is its
term of that sum (in points, the contributions add up to the score). All weights at 0 gives 0.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from tremplin.web.problems.models import STRATEGIC_FIT_MAX

COMPONENTS = ("burden", "population", "endorsements", "strategic_fit")
SHORT_LABELS = {
    "burden": _("Coût"),
    "population": _("Pop."),
    "endorsements": _("Appuis"),
    "strategic_fit": _("Strat."),
}
COMPONENT_LABELS = {
    "burden": _("Fardeau (coût annuel)"),
    "population": _("Population concernée"),
    "endorsements": _("Appuis d'organisations"),
    "strategic_fit": _("Adéquation stratégique"),
}


@dataclass(frozen=True)
class Maxima:
    burden: float
    population: float
    endorsements: int


@dataclass(frozen=True)
class Component:
    name: str
    raw: float | None
    normalised: float
    weight: float
    points: float

    @property
    def label(self):
        return COMPONENT_LABELS[self.name]

    @property
    def short_label(self):
        return SHORT_LABELS[self.name]


@dataclass(frozen=True)
class Score:
    total: float
    components: tuple[Component, ...]

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)


def _magnitude(value: object) -> float:
    """A stored quantity as a finite float ≥ 0: missing, negative, NaN or non-numeric values count as 0 and an
    infinite one as the largest float, so that scoring is total on whatever the database holds."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ArithmeticError):
        return 0.0
    if math.isnan(number) or number <= 0:
        return 0.0
    return min(number, sys.float_info.max)


def log_scale(value: float | Decimal | None, maximum: float | Decimal | None) -> float:
    """log10(1 + value) / log10(1 + maximum), in [0, 1]; 0 when the value or the maximum is missing, 0 or
    negative. Never raises."""
    value, maximum = _magnitude(value), _magnitude(maximum)
    if not value or not maximum:
        return 0.0
    denominator = math.log10(1 + maximum)
    if denominator <= 0:  # a maximum so small that 1 + maximum == 1 in floating point
        return 0.0
    return min(1.0, math.log10(1 + value) / denominator)


def linear_scale(value: float | None, maximum: float | None) -> float:
    """value / maximum, in [0, 1]; 0 when the value or the maximum is missing, 0 or negative. Never raises."""
    value, maximum = _magnitude(value), _magnitude(maximum)
    if not value or not maximum:
        return 0.0
    return min(1.0, value / maximum)


def score(*, burden_cost: float | Decimal | None, population: int | None, endorsements: int, strategic_fit: int,
          maxima: Maxima, weights: dict[str, float]) -> Score:
    """The score of one problem and the contribution of each component."""
    normalised = {
        "burden": log_scale(burden_cost, maxima.burden),
        "population": log_scale(population, maxima.population),
        "endorsements": linear_scale(endorsements, maxima.endorsements),
        "strategic_fit": linear_scale(strategic_fit, STRATEGIC_FIT_MAX),
    }
    raw = {"burden": _magnitude(burden_cost) if burden_cost is not None else None,
           "population": population, "endorsements": endorsements, "strategic_fit": strategic_fit}
    clean_weights = {name: min(_magnitude(weights[name]), 1e6) for name in COMPONENTS}  # a weight is ≥ 0
    total_weight = sum(clean_weights.values())
    components = []
    for name in COMPONENTS:
        weight = clean_weights[name]
        points = 100 * weight * normalised[name] / total_weight if total_weight > 0 else 0.0
        components.append(Component(name, raw[name], normalised[name], weight, points))
    return Score(sum(c.points for c in components), tuple(components))
