"""Goodman-Bacon (2021) decomposition of the two-way fixed effects DiD coefficient.

For a balanced panel with a binary, absorbing treatment and no covariates, the TWFE coefficient is a
weighted average of all 2x2 DiD comparisons between timing groups: treated vs never treated, earlier vs
later treated (later group not yet treated) and later vs earlier treated (the earlier group, already
treated, serves as control — the "forbidden" comparison that biases TWFE when effects change over time).
Weights follow equation (10) of Goodman-Bacon (2021); they sum to one and the weighted sum of the 2x2
estimates reproduces the TWFE coefficient exactly (checked in the tests).
"""

from __future__ import annotations

import numpy as np

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.results import BaconComponent, BaconDecomposition


def _did_2x2(y: np.ndarray, treat: np.ndarray, ctrl: np.ndarray, pre: np.ndarray, post: np.ndarray) -> float:
    yt = y[treat]
    yc = y[ctrl]
    return float((yt[:, post].mean() - yt[:, pre].mean()) - (yc[:, post].mean() - yc[:, pre].mean()))


def bacon_decomposition(y: np.ndarray, times: np.ndarray, cohort: np.ndarray) -> BaconDecomposition:
    """Decompose TWFE on a balanced wide panel `y` (n x T); `cohort` = first treated period (0 = never)."""
    y = np.asarray(y, dtype=float)
    if not np.isfinite(y).all():
        raise EngineInputError("The Goodman-Bacon decomposition needs a balanced panel.")
    n, n_t = y.shape
    times = np.asarray(times, dtype=float)
    g = np.asarray(cohort, dtype=float).copy()
    g[(g > times.max())] = 0.0
    g = np.where((g > 0) & (g <= times[0]), times[0], g)  # always treated: start at the first period
    start = np.where(g > 0, np.searchsorted(times, g, side="left"), n_t)  # index of first treated period
    d = (np.arange(n_t)[None, :] >= start[:, None]).astype(float)
    dd = d - d.mean(axis=1, keepdims=True) - d.mean(axis=0, keepdims=True) + d.mean()
    v_d = np.mean(dd**2)
    if v_d <= 0:
        raise EngineInputError("The treatment does not vary within units and periods; nothing to decompose.")
    xtx = np.sum(dd**2)
    yd = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()
    twfe = float(np.sum(dd * yd) / xtx)

    never = start == n_t
    starts = np.unique(start[~never])
    share = {s: np.mean(start == s) for s in starts}
    dbar = {s: (n_t - s) / n_t for s in starts}
    n_u = never.mean()
    comps: list[BaconComponent] = []
    idx = np.arange(n_t)
    label = {s: times[s] for s in starts}
    for s in starts:
        if n_u > 0 and 0 < s < n_t:
            nk = share[s]
            nku = nk / (nk + n_u)
            wgt = (nk + n_u) ** 2 * nku * (1 - nku) * dbar[s] * (1 - dbar[s]) / v_d
            est = _did_2x2(y, start == s, never, idx < s, idx >= s)
            comps.append(BaconComponent("treated vs never treated", label[s], "never", est, float(wgt)))
    for a, k in enumerate(starts):
        for lt in starts[a + 1:]:
            nk, nl = share[k], share[lt]
            nkl = nk / (nk + nl)
            dk, dl = dbar[k], dbar[lt]
            if k > 0:  # earlier (k) vs later (l) on periods before l starts
                wgt = ((nk + nl) * (1 - dl)) ** 2 * nkl * (1 - nkl) * ((dk - dl) / (1 - dl)) * ((1 - dk) / (1 - dl))
                win = idx < lt
                est = _did_2x2(y, start == k, start == lt, win & (idx < k), win & (idx >= k))
                comps.append(BaconComponent("earlier vs later treated", label[k], label[lt], est, float(wgt / v_d)))
            # later (l) vs earlier (k, already treated) on periods from k on
            wgt = ((nk + nl) * dk) ** 2 * nkl * (1 - nkl) * (dl / dk) * ((dk - dl) / dk)
            win = idx >= k
            est = _did_2x2(y, start == lt, start == k, win & (idx < lt), win & (idx >= lt))
            comps.append(BaconComponent("later vs earlier treated", label[lt], label[k], est, float(wgt / v_d)))
    forbidden = float(sum(c.weight for c in comps if c.kind == "later vs earlier treated"))
    return BaconDecomposition(components=tuple(comps), twfe_estimate=twfe, forbidden_weight=forbidden)
