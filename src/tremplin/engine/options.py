"""Every option of the engine that takes one of a fixed set of values, declared once as a `Literal`.

As in pyfixest's `estimation/internals/literals.py`: signatures are typed with these `Literal`s, and the
entry point checks a value once with `check_choice`, whose error always reads
"Invalid `name` 'value': allowed values are 'a', 'b'." Engine messages name a parameter in backticks
(`cohort`, `method="cs"`); the command line translates those into its own flags.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar, get_args, get_origin

from tremplin.engine.errors import EngineInputError

__all__ = [
    "Aggregate",
    "AggregationKind",
    "Control",
    "Correlation",
    "DataFormat",
    "EffectOutcome",
    "Engine",
    "Estimation",
    "GeneratedFormat",
    "Inference",
    "Method",
    "PANEL_COLUMNS",
    "PeriodKind",
    "Seasonality",
    "TwfeMethod",
    "Unit",
    "VMethod",
    "VSearch",
    "WildWeights",
    "check_choice",
    "checked_options",
    "choices",
]

# --- estimators (tremplin.engine.estimators) ------------------------------------------------------------
Method = Literal["did", "twfe", "cs", "synth", "its"]
"""The built-in estimators, in the registry's order (`tremplin.engine.estimators.registry`)."""
TwfeMethod = Literal["twfe", "did"]
Control = Literal["never", "not-yet"]
Estimation = Literal["unconditional", "or", "ipw", "dr"]
AggregationKind = Literal["simple", "dynamic", "group", "calendar"]
WildWeights = Literal["rademacher", "webb"]
VMethod = Literal["auto", "identity", "equal", "nested"]
VSearch = Literal["identity", "equal", "nested"]
"""The V choices once "auto" is resolved."""
Seasonality = Literal["none", "dummies", "fourier"]
Aggregate = Literal["mean", "sum"]

# --- power (tremplin.engine.power) -------------------------------------------------------------------
Correlation = Literal["ar1", "equicorrelated"]
Inference = Literal["t", "normal"]

# --- data and panels (tremplin.engine.loaders, panel, generator) ------------------------------------------
DataFormat = Literal["auto", "ours", "omop"]
GeneratedFormat = Literal["ours", "omop"]
Engine = Literal["duckdb", "spark"]
Unit = Literal["territory", "parent"]
PeriodKind = Literal["month", "quarter", "year"]
EffectOutcome = Literal[
    "avoidable_hospitalisations", "hospitalisation_rate", "emergency_visit_rate", "outpatient_visits_per_capita"
]

PANEL_COLUMNS = ("outcome", "unit", "time", "cohort", "treatment")
"""The column roles every estimator takes (`PanelSpec`); its other keywords are its options."""


def choices(allowed: Any) -> tuple[Any, ...]:
    """The values of a `Literal` type (or of any iterable of values), in their declared order."""
    if get_origin(allowed) is Literal:
        return get_args(allowed)
    if isinstance(allowed, Iterable) and not isinstance(allowed, str):
        return tuple(allowed)
    raise TypeError(f"{allowed!r} is neither a Literal type nor a collection of values")


def check_choice(name: str, value: object, allowed: Any) -> None:
    """Raise EngineInputError listing the allowed values when `value` is not one of `allowed`.

    `allowed` is a `Literal` type (its `get_args`) or, for a set known only at run time such as the
    registered estimators, a collection of values.
    """
    values = choices(allowed)
    if value not in values:
        listed = ", ".join(repr(v) for v in values)
        raise EngineInputError(f"Invalid `{name}` {value!r}: allowed values are {listed}.")


F = TypeVar("F", bound=Callable[..., Any])


def checked_options(label: str) -> Callable[[F], F]:
    """Decorate an estimator function so that an unknown keyword is an EngineInputError listing its options.

    The options are the function's keyword-only parameters other than the column roles (`PANEL_COLUMNS`):
    declared once, in the signature, typed with the `Literal`s above. The decorated function exposes them
    as `.options`.
    """

    def decorate(func: F) -> F:
        parameters = inspect.signature(func).parameters
        options = tuple(n for n, p in parameters.items()
                        if p.kind is inspect.Parameter.KEYWORD_ONLY and n not in PANEL_COLUMNS)

        @functools.wraps(func)
        def checked(*args: Any, **kwargs: Any) -> Any:
            unknown = sorted(set(kwargs) - set(parameters))
            if unknown:
                raise EngineInputError(f"Unknown {label} option(s) {unknown}; allowed: {', '.join(options)}.")
            return func(*args, **kwargs)

        checked.options = options  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return decorate
