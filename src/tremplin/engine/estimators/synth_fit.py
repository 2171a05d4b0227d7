"""Synthetic control, one fit: predictors scaled, V chosen (identity, equal, or the nested search), weights.

`fit_synth` fits one treated unit against a donor pool and returns a `SynthFit` (weights, V, synthetic
path, gap, pre/post RMSPE); the placebo and leave-one-out refits (`synth_inference`) and the staggered
design (`synth_staggered`) call it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tremplin.engine.estimators.synth_solvers import solve_simplex_qp
from tremplin.engine.estimators.synth_vsearch import nested_v, ols_start
from tremplin.engine.options import VSearch

__all__ = ["SynthFit", "fit_synth"]


@dataclass(frozen=True)
class SynthFit:
    """One synthetic-control fit (treated unit against a donor pool)."""

    weights: np.ndarray  # (J,) donor weights on the simplex
    v: np.ndarray  # (k,) predictor weights (diagonal of V)
    synthetic: np.ndarray  # (T,) synthetic outcome path
    gap: np.ndarray  # (T,) treated - synthetic
    pre_rmspe: float
    post_rmspe: float
    loss_v: float  # pre-treatment outcome MSPE (pysyncon's loss_V)
    loss_w: float  # predictor loss (x1 - X0 w)' V (x1 - X0 w)
    v_method: str

    @property
    def ratio(self) -> float:
        return self.post_rmspe / self.pre_rmspe if self.pre_rmspe > 0 else math.inf


def scale_predictors(x1: np.ndarray, X0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Divide each predictor by its standard deviation across all units (ddof=1), like pysyncon."""
    allx = np.column_stack([X0, x1])
    sd = allx.std(axis=1, ddof=1)
    sd[~(sd > 0)] = 1.0
    return x1 / sd, X0 / sd[:, None]


def weights_for_v(
    x1: np.ndarray, X0: np.ndarray, v: np.ndarray, w0: np.ndarray | None = None
) -> np.ndarray:
    P = X0.T @ (v[:, None] * X0)
    q = X0.T @ (v * x1)
    return solve_simplex_qp(P, q, w0)


def fit_synth(
    y1: np.ndarray,
    Y0: np.ndarray,
    x1: np.ndarray,
    X0: np.ndarray,
    pre: np.ndarray,
    *,
    v_method: VSearch = "identity",
    n_starts: int = 2,
    rng: np.random.Generator | None = None,
    v_start: np.ndarray | None = None,
    v_fixed: np.ndarray | None = None,
) -> SynthFit:
    """Fit one synthetic control.

    ``y1`` (T,) treated outcomes; ``Y0`` (T, J) donor outcomes; ``x1`` (k,), ``X0`` (k, J)
    predictors; ``pre`` (T,) boolean mask of the pre-treatment periods (used for the outer loss).
    ``v_fixed`` bypasses the V choice (used by the leave-one-out and by tests).
    """
    pre = np.asarray(pre, dtype=bool)
    if v_method == "identity":
        xs1, XS0 = x1, X0
    else:
        xs1, XS0 = scale_predictors(x1, X0)
    k = xs1.size
    if v_fixed is not None:
        v = np.asarray(v_fixed, dtype=float)
        w = weights_for_v(xs1, XS0, v)
    elif v_method in ("identity", "equal") or k == 1:
        v = np.full(k, 1.0 / k)
        w = weights_for_v(xs1, XS0, v)
    else:
        starts = [np.full(k, 1.0 / k)]
        if v_start is not None:
            starts.append(np.asarray(v_start, dtype=float))
        # pysyncon's regression start, unless the starts are already enough (placebos with n_starts=2)
        ols = ols_start(xs1, XS0, y1[pre], Y0[pre]) if len(starts) < n_starts else None
        if ols is not None:
            starts.append(ols)
        rng = rng if rng is not None else np.random.default_rng(0)
        while len(starts) < n_starts:
            starts.append(rng.dirichlet(np.ones(k)))
        v, w = nested_v(xs1, XS0, y1[pre], Y0[pre], starts[: max(n_starts, 1)])
    synthetic = Y0 @ w
    gap = y1 - synthetic
    pre_mspe = float(np.mean(gap[pre] ** 2))
    post_mspe = float(np.mean(gap[~pre] ** 2)) if (~pre).any() else float("nan")
    r = xs1 - XS0 @ w
    return SynthFit(
        weights=w,
        v=v,
        synthetic=synthetic,
        gap=gap,
        pre_rmspe=math.sqrt(pre_mspe),
        post_rmspe=math.sqrt(post_mspe),
        loss_v=pre_mspe,
        loss_w=float(r @ (v * r)),
        v_method=v_method,
    )
