"""Synthetic control, inference: placebo-in-space permutation and the leave-one-out check.

The method is re-run with every donor as a fake treated unit and the treated unit's post/pre RMSPE ratio
(and its average post gap) is ranked among the placebos'; the leave-one-out refits without each donor that
has weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tremplin.engine.estimators.synth_fit import SynthFit, fit_synth
from tremplin.engine.options import VSearch

__all__ = ["PlaceboResult", "leave_one_out", "placebo_in_space"]


@dataclass(frozen=True)
class PlaceboResult:
    """Placebo-in-space permutation inference."""

    units: np.ndarray  # (J,) donor indices used as placebo treated units
    gaps: np.ndarray  # (J, T) placebo gap paths
    pre_rmspe: np.ndarray  # (J,)
    post_rmspe: np.ndarray  # (J,)
    ratios: np.ndarray  # (J,) post/pre RMSPE ratios
    treated_ratio: float
    p_value: float  # (1 + #{placebo ratio >= treated ratio}) / (1 + J)
    att_p_value: float  # same ranking on |average post gap|


def placebo_in_space(
    Y: np.ndarray,
    X: np.ndarray,
    donors: np.ndarray,
    pre: np.ndarray,
    treated_fit: SynthFit,
    *,
    v_method: VSearch,
    n_starts: int = 2,
    rng: np.random.Generator | None = None,
) -> PlaceboResult:
    """Refit with each donor as the treated unit and the other donors as its pool.

    ``Y`` (T, N) outcomes and ``X`` (k, N) predictors of all units; ``donors`` indices into N.
    """
    pre = np.asarray(pre, dtype=bool)
    J = donors.size
    gaps = np.empty((J, Y.shape[0]))
    pre_r = np.empty(J)
    post_r = np.empty(J)
    for a, j in enumerate(donors):
        pool = donors[donors != j]
        fit = fit_synth(
            Y[:, j], Y[:, pool], X[:, j], X[:, pool], pre,
            v_method=v_method, n_starts=n_starts, rng=rng, v_start=treated_fit.v,
        )
        gaps[a] = fit.gap
        pre_r[a] = fit.pre_rmspe
        post_r[a] = fit.post_rmspe
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(pre_r > 0, post_r / pre_r, np.inf)
    t_ratio = treated_fit.ratio
    # ties within rounding count as "at least as extreme"
    p = (1 + int(np.sum(ratios >= t_ratio * (1 - 1e-12)))) / (1 + J)
    t_att = abs(float(np.mean(treated_fit.gap[~pre])))
    placebo_att = np.abs(gaps[:, ~pre].mean(axis=1))
    p_att = (1 + int(np.sum(placebo_att >= t_att * (1 - 1e-12)))) / (1 + J)
    return PlaceboResult(
        units=donors, gaps=gaps, pre_rmspe=pre_r, post_rmspe=post_r, ratios=ratios,
        treated_ratio=t_ratio, p_value=p, att_p_value=p_att,
    )


def leave_one_out(
    y1: np.ndarray,
    Y0: np.ndarray,
    x1: np.ndarray,
    X0: np.ndarray,
    pre: np.ndarray,
    treated_fit: SynthFit,
    *,
    v_method: VSearch,
    n_starts: int = 2,
    rng: np.random.Generator | None = None,
    min_weight: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray]:
    """Refit without each donor whose weight exceeds ``min_weight``.

    Returns (dropped donor positions (L,), gap paths (L, T)).
    """
    dropped = np.flatnonzero(treated_fit.weights > min_weight)
    J = Y0.shape[1]
    gaps = np.empty((dropped.size, y1.size))
    if J < 2:
        return dropped[:0], gaps[:0]
    for a, j in enumerate(dropped):
        keep = np.arange(J) != j
        fit = fit_synth(
            y1, Y0[:, keep], x1, X0[:, keep], pre,
            v_method=v_method, n_starts=n_starts, rng=rng, v_start=treated_fit.v,
        )
        gaps[a] = fit.gap
    return dropped, gaps
