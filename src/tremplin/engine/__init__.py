"""Tremplin's engine: care data, evaluation panels, impact estimators, power, disclosure control.

The estimators' front door is `estimate(panel, method=..., spec=PanelSpec(...), options={...})`; the
registered methods are `estimators()`. Other parts are imported from their modules (`tremplin.engine.panel`,
`.validation`, `.power`, ...). Importing this package stays cheap: the numerics load on first use.
"""

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.registry import (
    DEFAULT_METHOD,
    Estimator,
    PanelSpec,
    estimate,
    estimator_for_design,
    estimators,
    get_estimator,
    register,
    unregister,
)
from tremplin.engine.options import Method

# The result interface is loaded on first access (it brings pandas and Plotly).
_RESULT_NAMES = ("Effect", "Estimate", "EstimatorResult", "PretrendTest")

__all__ = [
    "DEFAULT_METHOD",
    "Effect",
    "EngineInputError",
    "Estimate",
    "Estimator",
    "EstimatorResult",
    "Method",
    "PanelSpec",
    "PretrendTest",
    "estimate",
    "estimator_for_design",
    "estimators",
    "get_estimator",
    "register",
    "unregister",
]


def __getattr__(name: str):
    if name in _RESULT_NAMES:
        from tremplin.engine.estimators import results  # noqa: PLC0415 -- slow import

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
