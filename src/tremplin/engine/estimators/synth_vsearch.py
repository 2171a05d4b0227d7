"""Synthetic control, the outer problem: the nested search for the predictor weights V.

V (diagonal, on the simplex) is chosen to minimise the pre-treatment outcome MSPE of the synthetic control
it implies, as in Synth/pysyncon: a spectral projected gradient on the simplex with the exact gradient
(implicit differentiation of the inner problem's KKT system, `simplex_ls`), short runs from several starts
and a longer run from the best, keeping the best (V, W) pair evaluated.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.linalg.lapack import dgesv as _dgesv

from tremplin.engine.estimators.synth_solvers import simplex_ls

__all__ = ["nested_v", "ols_start"]


def nested_v(
    x1: np.ndarray,
    X0: np.ndarray,
    z1: np.ndarray,
    Z0: np.ndarray,
    starts: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Choose diagonal V on the simplex minimising the outcome MSPE; exact gradient, best of starts.

    The gradient of the outer loss with respect to V comes from differentiating the inner KKT system on
    its support: with r = x1 - X0 w and a = K^{-1} [dL/dw_F; 0], dL/dv_i = r_i (X0_F a)_i. It is only
    computed (``jac``) at the points the line search accepts, about half of those evaluated.

    Rounding matters here: near kinks the line search compares losses that differ in their last digits,
    so computing the loss or the inner weights with other roundings (another formula for the loss, another
    order of the support, another warm start) sends some searches to other local optima. On Prop 99 some
    placebo fits, and on the 3-lag specification the treated fit, then end elsewhere, their pre-MSPE
    moving by up to tens of units, for better or worse. Speed-ups of this code were kept only when bit for
    bit identical; compare the benchmark's placebo results before changing its arithmetic.
    """
    T = z1.size
    J = X0.shape[1]
    ZtZ = Z0.T @ Z0
    Ztz = Z0.T @ z1
    ztz = float(z1 @ z1)
    X0t = np.ascontiguousarray(X0.T)
    scale = max(1.0, float(np.abs(X0).max()) ** 2, float(np.abs(x1).max()) ** 2)
    # warm start of the inner problem: support and weights of the last evaluation (None: cold start)
    free: np.ndarray | None = None
    wf: np.ndarray | None = None
    last: tuple[Any, ...] = ()  # what `jac` needs from the last evaluation
    best: tuple[float, Any, Any] = (math.inf, None, None)  # best (loss, v, w) evaluated

    def fun(v: np.ndarray) -> float:
        nonlocal free, wf, last, best
        if free is not None and free.size > 1:
            fl = free.tolist()
            if fl != sorted(fl):  # a warm start sees the support in increasing donor order
                order = np.argsort(free)
                free, wf = free[order], wf[order]
        sv = np.sqrt(v)
        F, wF, K = simplex_ls(X0t * sv, x1 * sv, free, wf, scale)
        free, wf = F, wF
        w = np.zeros(J)
        w[F] = wF
        Ztz_F = Ztz.take(F)
        ZtZw = ZtZ.take(F, 0).dot(w)
        # loss = (z1 - Z0 w)'(z1 - Z0 w) / T from precomputed cross-products
        loss = max((ztz - 2.0 * float(Ztz_F.dot(wF)) + float(ZtZw.dot(wF))) / T, 0.0)
        if loss < best[0]:
            # keep the best (v, w) pair evaluated: when V zeroes predictors the inner optimum can be
            # non-unique, and a cold re-solve could land elsewhere on the optimal face
            best = (loss, v, w)
        last = (F, wF, K, Ztz_F, ZtZw)
        return loss

    def jac() -> np.ndarray:
        F, wF, K, Ztz_F, ZtZw = last
        kf = F.size
        rhs = np.zeros(kf + 1)
        rhs[:kf] = (-2.0 / T) * (Ztz_F - ZtZw)
        # K is the inner problem's KKT matrix on the support: reuse it for the adjoint solve
        _, _, sol, info = _dgesv(K, rhs)
        if info != 0:
            sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
        X0F = X0t.take(F, 0)
        return (x1 - wF.dot(X0F)) * (sol[:kf].dot(X0F))

    # short runs from every start, then run the most promising one to convergence
    ends = []
    for x0 in starts:
        free = wf = None
        ends.append(_spg_simplex(fun, jac, x0 / x0.sum(), max_iter=6))
    v_best = min(ends, key=lambda e: e[1])[0]
    free = wf = None
    _spg_simplex(fun, jac, v_best, max_iter=50)
    _, v, w = best
    return v, w


def _project_simplex(x: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (sort-based; plain Python for small k)."""
    css = 0.0
    theta = 0.0
    for i, ui in enumerate(sorted(x.tolist(), reverse=True), 1):
        css += ui
        t = (css - 1.0) / i
        if ui > t:
            theta = t
    return np.maximum(x - theta, 0.0)


def _abs_max(x: np.ndarray) -> float:
    """max |x_i| of a short vector, NaN if any x_i is NaN (as NumPy's); cheaper than NumPy at this size."""
    xl = x.tolist()
    return math.nan if math.isnan(sum(xl)) else max(map(abs, xl))


def _spg_simplex(
    fun: Any, jac: Any, v0: np.ndarray, *, max_iter: int = 300, memory: int = 8, tol: float = 1e-10
) -> tuple[np.ndarray, float]:
    """Spectral projected gradient on the simplex (Birgin, Martinez & Raydan 2000), non-monotone
    Armijo line search with Barzilai-Borwein steps. ``fun(v) -> f``; ``jac()`` is the gradient at the
    point ``fun`` last evaluated (asked only for the points kept: rejected trial steps need no gradient)."""
    v = _project_simplex(v0)
    f = fun(v)
    g = jac()
    history = [f]
    d = _project_simplex(v - g) - v
    lam = 1.0 / max(_abs_max(d), 1e-12)
    lam_min, lam_max = 1e-12, 1e12
    failures = 0
    for _ in range(max_iter):
        gmax = _abs_max(g)
        if not math.isfinite(gmax):
            break
        lam = min(lam, 1e6 / max(gmax, 1e-300))
        d = _project_simplex(v - lam * g) - v
        if _abs_max(d) < tol:
            break
        gd = float(g.dot(d))
        if gd >= 0:
            d = _project_simplex(v - g) - v
            gd = float(g.dot(d))
            if gd >= -tol * tol:
                break
        f_ref = max(history[-memory:])
        t = 1.0
        accepted = False
        for _ in range(8):
            vn = v + t * d
            fn = fun(vn)
            if fn <= f_ref + 1e-4 * t * gd:
                accepted = True
                break
            # safeguarded quadratic interpolation of the step
            denom = 2.0 * (fn - f - t * gd)
            t_q = -gd * t * t / denom if denom > 0 else 0.5 * t
            t = min(max(t_q, 0.1 * t), 0.5 * t)
        if not accepted:
            # a kink (the inner support changes): retry once with a much shorter spectral step
            failures += 1
            if failures >= 2:
                break
            lam *= 0.01
            continue
        failures = 0
        gn = jac()
        s_vec, y_vec = vn - v, gn - g
        sy = float(s_vec.dot(y_vec))
        lam = min(lam_max, max(lam_min, float(s_vec.dot(s_vec)) / sy)) if sy > 0 else lam_max
        v, f, g = vn, fn, gn
        history.append(f)
        # stall: no relative progress (1e-6) over the last 4 iterations (kinks where the support changes)
        if len(history) > 4 and min(history[-4:]) >= min(history[:-4]) - 1e-6 * max(1.0, abs(f)):
            break
    return v, f


def ols_start(x1: np.ndarray, X0: np.ndarray, z1: np.ndarray, Z0: np.ndarray) -> np.ndarray | None:
    """pysyncon's ``optim_initial="ols"`` starting value for V."""
    X = np.column_stack([X0, x1])
    Xr = np.column_stack([np.ones(X.shape[1]), X.T])
    Z = np.column_stack([Z0, z1])
    beta, *_ = np.linalg.lstsq(Xr, Z.T, rcond=None)
    beta = beta[1:]
    x0 = np.einsum("ij,ij->i", beta, beta)
    return x0 / x0.sum() if np.isfinite(x0).all() and x0.sum() > 0 else None
