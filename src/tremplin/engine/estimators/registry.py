"""The estimators' front door: one registry of the methods and one `estimate()` that every interface calls.

The command line, the platform's evaluation runs and their results page read this registry: the methods
offered, their names in each language, which of their figures shows the effect, how their inference reads.
Adding an estimator is its module (a function returning an `EstimatorResult`, its options typed keywords
checked by `options.checked_options`), one `Estimator(...)` line in `BUILT_IN` below, and its tests.

Entries name their function as "module:attribute": the registry is read without importing the numerics
(a command's help, a web page's choices), which are imported when a method first runs.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tremplin.engine.errors import EngineInputError
from tremplin.engine.options import PANEL_COLUMNS, Method, PeriodKind, check_choice

if TYPE_CHECKING:  # the registry is read without importing pandas or the numerics
    import pandas as pd

    from tremplin.engine.estimators.results import EstimatorResult

__all__ = [
    "BUILT_IN",
    "DEFAULT_METHOD",
    "Estimator",
    "PanelSpec",
    "estimate",
    "estimator_for_design",
    "estimators",
    "get_estimator",
    "register",
    "unregister",
]

Inference = Literal["sampling", "placebo"]


@dataclass(frozen=True)
class PanelSpec:
    """Which columns of a long panel (one row per unit and period) an estimator reads.

    Exactly one of `cohort` (each unit's first treated period; 0 or empty: never treated) and `treatment`
    (a 0/1 column) is given.
    """

    outcome: str
    unit: str
    time: str
    cohort: str | None = None
    treatment: str | None = None

    def columns(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in PANEL_COLUMNS}


def _its_panel_options(period: PeriodKind) -> dict[str, Any]:
    """ITS on an evaluation panel: treated minus comparison series, seasons of the calendar year.

    Fourier terms rather than dummies: fewer parameters on the short series of an experiment, and no exact
    collinearity with the trend when the start falls on a season boundary.
    """
    season = {"month": 12, "quarter": 4}.get(period)
    return {"comparison": True, "seasonality": "fourier" if season else "none", "season_length": season or 12,
            "fourier_order": 2 if season == 12 else 1}


@dataclass(frozen=True)
class Estimator:
    """One registered method.

    - `name`: what interfaces pass as `method`;
    - `function`: "module:attribute" (or the callable itself) called as
      ``function(panel, outcome=..., unit=..., time=..., cohort=..., treatment=..., **options)``;
    - `labels`: the method's name by language code ("en" required), for interfaces;
    - `inference`: "sampling" (standard errors, intervals) or "placebo" (a permutation p-value, no interval);
    - `effect_figure`: the key of `figures()` that shows the effect (None: no such figure);
    - `pretrend_test`: whether results carry a joint pre-trend test (`EstimatorResult.pretrend_test`);
    - `designs`: the study designs (an evaluation plan's) it is the default estimator of;
    - `evaluation_runs`: offered for the platform's evaluation runs (on engine-built unit x period panels);
    - `panel_options`: options for such a panel, from its period kind (e.g. the seasons of an ITS).
    """

    name: str
    function: str | Callable[..., EstimatorResult]
    labels: Mapping[str, str]
    inference: Inference = "sampling"
    effect_figure: str | None = None
    pretrend_test: bool = False
    designs: tuple[str, ...] = ()
    evaluation_runs: bool = True
    panel_options: Callable[[PeriodKind], Mapping[str, Any]] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if "en" not in self.labels:
            raise ValueError(f"Estimator {self.name!r}: labels need an English ('en') name.")

    @property
    def title(self) -> str:
        """The English name."""
        return self.labels["en"]

    def label(self, language: str | None) -> str:
        """The name in `language` ("fr", "en-gb"...), else the English one."""
        code = (language or "en").split("-")[0].lower()
        return self.labels.get(code, self.labels["en"])

    def load(self) -> Callable[..., EstimatorResult]:
        """The estimator function (imported on first use)."""
        if callable(self.function):
            return self.function
        module, _, attribute = self.function.partition(":")
        return getattr(importlib.import_module(module), attribute)

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword options the function takes (its keyword-only parameters other than the columns)."""
        func = self.load()
        declared = getattr(func, "options", None)
        if declared is not None:
            return tuple(declared)
        return tuple(n for n, p in inspect.signature(func).parameters.items()
                     if p.kind is inspect.Parameter.KEYWORD_ONLY and n not in PANEL_COLUMNS)

    def options_for_panel(self, period: PeriodKind) -> dict[str, Any]:
        """Options for an engine-built evaluation panel with periods of `period` ({} for most methods)."""
        return {} if self.panel_options is None else dict(self.panel_options(period))

    def fit(self, panel: pd.DataFrame, spec: PanelSpec, options: Mapping[str, Any]) -> EstimatorResult:
        return self.load()(panel, **spec.columns(), **options)


BUILT_IN: tuple[Estimator, ...] = (
    Estimator("did", "tremplin.engine.estimators.twfe:did_2x2", evaluation_runs=False, effect_figure="bacon",
              labels={"en": "Difference-in-differences (2x2, stacked for several adoption dates)",
                      "fr": "Différence de différences (2×2, empilée pour plusieurs dates de début)"}),
    Estimator("twfe", "tremplin.engine.estimators.twfe:twfe", effect_figure="bacon",
              labels={"en": "Two-way fixed effects (TWFE)", "fr": "Effets fixes à deux dimensions (TWFE)"}),
    Estimator("cs", "tremplin.engine.estimators.staggered:callaway_santanna", effect_figure="event_study",
              pretrend_test=True, designs=("did", "staggered"),
              labels={"en": "Staggered difference-in-differences (Callaway & Sant'Anna)",
                      "fr": "Différence de différences échelonnée (Callaway & Sant'Anna)"}),
    Estimator("synth", "tremplin.engine.estimators.synth:synthetic_control", inference="placebo",
              effect_figure="synth_gaps", designs=("synthetic_control",),
              labels={"en": "Synthetic control (one per intervention territory, averaged)",
                      "fr": "Contrôle synthétique (un par territoire expérimentateur, moyenné)"}),
    Estimator("its", "tremplin.engine.estimators.its:interrupted_time_series", effect_figure="its_fit",
              designs=("its",), panel_options=_its_panel_options,
              labels={"en": "Interrupted time series (one regression per cohort, pooled)",
                      "fr": "Série temporelle interrompue (une régression par cohorte, poolée)"}),
)

DEFAULT_METHOD: Method = "cs"

_REGISTRY: dict[str, Estimator] = {e.name: e for e in BUILT_IN}


def estimators(*, evaluation_runs: bool | None = None) -> tuple[Estimator, ...]:
    """The registered estimators in registration order (only those offered for evaluation runs, if asked)."""
    found = tuple(_REGISTRY.values())
    return found if evaluation_runs is None else tuple(e for e in found if e.evaluation_runs == evaluation_runs)


def get_estimator(method: str) -> Estimator:
    """The estimator registered as `method`; EngineInputError listing the registered ones otherwise."""
    check_choice("method", method, tuple(_REGISTRY))
    return _REGISTRY[method]


def register(estimator: Estimator) -> Estimator:
    """Add an estimator (its name must be new); every interface offers it from then on."""
    if estimator.name in _REGISTRY:
        raise ValueError(f"An estimator named {estimator.name!r} is already registered.")
    _REGISTRY[estimator.name] = estimator
    return estimator


def unregister(name: str) -> None:
    """Remove an estimator added by `register` (the built-in ones stay)."""
    if any(e.name == name for e in BUILT_IN):
        raise ValueError(f"{name!r} is a built-in estimator.")
    _REGISTRY.pop(name, None)


def estimator_for_design(design: str) -> Estimator:
    """The default estimator of a study design (an evaluation plan's), else the default method's."""
    for estimator in _REGISTRY.values():
        if design in estimator.designs:
            return estimator
    return _REGISTRY[DEFAULT_METHOD]


def estimate(
    panel: pd.DataFrame, *, method: str, spec: PanelSpec, options: Mapping[str, Any] | None = None
) -> EstimatorResult:
    """Estimate the effect of a treatment on a long panel with the registered `method`.

    `spec` names the columns; `options` are the method's own (an unknown one is an EngineInputError listing
    them). Every result satisfies `EstimatorResult`.
    """
    if not isinstance(spec, PanelSpec):
        raise EngineInputError("`spec` must be a PanelSpec (outcome, unit, time, cohort or treatment columns).")
    return get_estimator(method).fit(panel, spec, dict(options or {}))
