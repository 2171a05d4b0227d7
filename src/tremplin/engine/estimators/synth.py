"""Synthetic control (Abadie & Gardeazabal 2003; Abadie, Diamond & Hainmueller 2010, 2015).

One treated unit is compared with a convex combination of never-treated donor units (weights on the
simplex) that reproduces its pre-treatment path. Inference is by placebo-in-space permutation: the
method is re-run with every donor as a fake treated unit and the treated unit's post/pre RMSPE ratio
is ranked among the placebos'. A leave-one-out check refits without each donor that has weight.

Specifications (option ``v``):

* ``"identity"`` (default when no predictors are given): the predictors are the pre-treatment
  outcomes, unscaled, with V = identity, so the weights minimise the pre-treatment mean squared
  prediction error. This is a convex problem with a unique synthetic path.
* ``"nested"`` (default when ``covariates`` or ``outcome_lags`` are given): predictors are scaled by
  their standard deviation across units and V (diagonal, on the simplex) is chosen to minimise the
  pre-treatment outcome MSPE of the resulting synthetic control, as in Synth/pysyncon. The outer
  problem is non-convex; we use a spectral projected gradient on the simplex with the exact gradient
  (implicit differentiation of the inner QP's KKT system), short runs from ``n_starts`` starts
  (equal V; the treated fit's V for placebos or pysyncon's regression start; random draws) and a
  longer run from the best, keeping the best (V, W) pair evaluated. Another optimiser (pysyncon's
  Nelder-Mead) may stop at another local optimum: compare pre-treatment MSPEs, not weights. On Prop 99
  ours is the lower one on every specification tried.
* ``"equal"``: scaled predictors with equal V (pysyncon's ``custom_V`` of ones).

The inner problem (weights on the simplex for a given V) is solved exactly by a primal active-set
method (`solve_simplex_qp`; `_simplex_ls` in factor form for the nested search), warm-started from the
previous outer iterate. When the predictors are matched exactly the weights are not unique (a note says
so). Several treated units are handled by `synth_staggered` (one fit each, gaps averaged).

Numbers happen in the pure NumPy functions (`solve_simplex_qp`, `fit_synth`, `placebo_in_space`,
`leave_one_out`); `synthetic_control` validates the input and orchestrates.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy.linalg.lapack import dgesv as _dgesv

from tremplin.engine.errors import EngineInputError

__all__ = [
    "PlaceboResult",
    "SynthFit",
    "SynthResult",
    "VMethod",
    "fit_synth",
    "leave_one_out",
    "placebo_in_space",
    "solve_simplex_qp",
    "synthetic_control",
]

VMethod = Literal["auto", "identity", "equal", "nested"]

# --------------------------------------------------------------------------------------------------
# Small private panel helpers (shared with its.py and power.py)
# --------------------------------------------------------------------------------------------------


def _validate_choice(name: str, value: object, allowed: Sequence[object]) -> None:
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise EngineInputError(f"Invalid {name} {value!r}: allowed values are {choices}.")


def _require_columns(data: pd.DataFrame, columns: dict[str, str | None]) -> None:
    if not isinstance(data, pd.DataFrame):
        raise EngineInputError("The panel must be a pandas DataFrame.")
    available = list(map(str, data.columns))
    for role, col in columns.items():
        if col is None:
            continue
        if col not in data.columns:
            raise EngineInputError(
                f"Unknown {role} column {col!r}; available columns: {', '.join(available)}."
            )


def _numeric(series: pd.Series, name: str) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & series.notna().to_numpy()
    if bad.any():
        example = series[bad].iloc[0]
        raise EngineInputError(f"Column {name!r} must be numeric; found {example!r}.")
    return values


def _wide_panel(
    data: pd.DataFrame, *, outcome: str, unit: str, time: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (units, times, Y) with Y[t, i]; raise on duplicates, missing cells or missing values."""
    y = _numeric(data[outcome], outcome)
    frame = pd.DataFrame({"u": data[unit].to_numpy(), "t": data[time].to_numpy(), "y": y})
    if frame["u"].isna().any() or frame["t"].isna().any():
        raise EngineInputError(f"Columns {unit!r} and {time!r} must not contain missing values.")
    dup = frame.duplicated(["u", "t"])
    if dup.any():
        row = frame[dup].iloc[0]
        raise EngineInputError(
            f"Duplicate observation for {unit}={row['u']!r}, {time}={row['t']!r} (line {int(dup.idxmax())})."
        )
    wide = frame.pivot(index="t", columns="u", values="y").sort_index()
    if wide.isna().to_numpy().any():
        missing = wide.isna().stack()
        t, u = missing[missing].index[0]
        raise EngineInputError(
            f"The panel must be balanced with no missing {outcome!r}: no value for {unit}={u!r}, "
            f"{time}={t!r}."
        )
    return wide.columns.to_numpy(), wide.index.to_numpy(), wide.to_numpy(dtype=float)


def _first_treated(
    data: pd.DataFrame, *, unit: str, time: str, cohort: str | None, treatment: str | None
) -> dict[Any, Any]:
    """Map every unit to its first treated period (None when never treated)."""
    if (cohort is None) == (treatment is None):
        raise EngineInputError("Give exactly one of `cohort` (first treated period) or `treatment` (0/1).")
    out: dict[Any, Any] = {}
    if cohort is not None:
        for u, values in data.groupby(unit, sort=False)[cohort]:
            vals = values.dropna().unique()
            if len(vals) > 1:
                raise EngineInputError(f"Cohort column {cohort!r} varies within {unit}={u!r}: {list(vals)}.")
            g = vals[0] if len(vals) else None
            if g is not None and isinstance(g, int | float | np.integer | np.floating) and float(g) == 0:
                g = None
            out[u] = g
        return out
    d = _numeric(data[treatment], treatment)
    if not np.isin(d[~np.isnan(d)], (0.0, 1.0)).all():
        raise EngineInputError(f"Treatment column {treatment!r} must contain only 0 and 1.")
    frame = pd.DataFrame({"u": data[unit].to_numpy(), "t": data[time].to_numpy(), "d": d})
    for u, grp in frame.groupby("u", sort=False):
        treated_times = grp.loc[grp["d"] == 1, "t"]
        out[u] = treated_times.min() if len(treated_times) else None
    return out


def _py(x: Any) -> Any:
    """Plain Python scalar for JSON (dates as ISO strings)."""
    if isinstance(x, np.datetime64 | pd.Timestamp | datetime.date):
        ts = pd.Timestamp(x)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()
    if isinstance(x, np.generic):
        return x.item()
    return x


def _fnum(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None



def _predictors(
    data: pd.DataFrame,
    Y: np.ndarray,
    units: np.ndarray,
    times: np.ndarray,
    pre: np.ndarray,
    *,
    outcome: str,
    unit: str,
    time: str,
    covariates: list[str],
    covariate_periods: Sequence[Any] | None,
    outcome_lags: Sequence[Any] | None,
) -> tuple[np.ndarray, list[str]]:
    """Predictor matrix X (k, N): outcome lags (default every pre period) + covariate means over the pre period."""
    if outcome_lags is None:
        lag_rows = np.flatnonzero(pre)
    else:
        rows = []
        for lag in outcome_lags:
            hit = np.flatnonzero(times == lag)
            if hit.size == 0 or not pre[hit[0]]:
                raise EngineInputError(f"Outcome lag {lag!r} is not a pre-treatment period of {time!r}.")
            rows.append(int(hit[0]))
        lag_rows = np.asarray(rows, dtype=int)
    blocks = [Y[lag_rows]]
    names = [f"{outcome}[{_py(times[r])}]" for r in lag_rows]
    if covariates:
        pre_times = set(times[pre].tolist())
        if covariate_periods is not None:
            outside = [p for p in covariate_periods if p not in pre_times]
            if outside:
                raise EngineInputError(f"covariate_periods must be pre-treatment periods; not: {outside[:5]}.")
            pre_times = set(covariate_periods)
        sub = data[data[time].isin(pre_times)]
        for c in covariates:
            vals = pd.Series(_numeric(sub[c], c), index=sub.index).groupby(sub[unit].to_numpy()).mean()
            row = vals.reindex(units).to_numpy(dtype=float)
            if np.isnan(row).any():
                missing = units[np.isnan(row)][0]
                raise EngineInputError(f"Covariate {c!r} has no pre-treatment value for {unit}={missing!r}.")
            blocks.append(row[None, :])
            names.append(f"mean({c})")
    return np.vstack(blocks), names


# --------------------------------------------------------------------------------------------------
# Numerics
# --------------------------------------------------------------------------------------------------


def _kkt_solve(P: np.ndarray, q: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Solve [P_FF 1; 1' 0][z; mu] = [q_F; 1] (least squares when singular)."""
    k = F.size
    K = np.ones((k + 1, k + 1))
    K[:k, :k] = P.take(F, 0).take(F, 1)
    K[k, k] = 0.0
    rhs = np.ones(k + 1)
    rhs[:k] = q.take(F)
    _, _, sol, info = _dgesv(K, rhs)
    if info == 0 and np.isfinite(sol).all():
        return sol
    return np.linalg.lstsq(K, rhs, rcond=None)[0]


def solve_simplex_qp(
    P: np.ndarray, q: np.ndarray, w0: np.ndarray | None = None, *, tol: float = 1e-12, max_iter: int = 1000
) -> np.ndarray:
    """Minimise ``0.5 w'Pw - q'w`` subject to ``w >= 0, sum(w) = 1`` (P symmetric PSD).

    Primal active-set method (exact up to rounding; finite). Starts from the best vertex, or from the
    support of ``w0`` (warm start). Each step solves the equality-constrained problem on the free set;
    blocked steps drop a variable, and the most negative reduced gradient enters.
    """
    n = q.size
    if w0 is not None and w0.shape == (n,) and np.all(w0 >= 0) and w0.sum() > 0:
        w = w0 / w0.sum()
        free = list(np.flatnonzero(w > 0))
    else:
        j = int(np.argmin(0.5 * np.diag(P) - q))
        w = np.zeros(n)
        w[j] = 1.0
        free = [j]
    scale = max(1.0, float(np.abs(np.diag(P)).max()), float(np.abs(q).max()))
    for _ in range(max_iter):
        F = np.asarray(free)
        sol = _kkt_solve(P, q, F)
        z = sol[:-1]
        if z.min() > 0:
            w = np.zeros(n)
            w[F] = z
            reduced = P @ w - q + sol[-1]
            reduced[F] = np.inf
            j = int(np.argmin(reduced))
            if reduced[j] >= -tol * scale:
                return w
            free.append(j)
            continue
        # blocked step from w_F toward z; drop the blocking variable(s)
        wf = w[F]
        blocking = z <= 0
        ratios = np.full(F.size, np.inf)
        ratios[blocking] = wf[blocking] / (wf[blocking] - z[blocking])
        i = int(np.argmin(ratios))
        t = ratios[i]
        new = wf + t * (z - wf)
        new[i] = 0.0
        new[new <= 1e-15] = 0.0
        w = np.zeros(n)
        w[F] = new
        w /= w.sum()
        free = [int(f) for f, val in zip(F, new, strict=True) if val > 0]
        if not free:  # pragma: no cover - numerical safeguard
            free = [int(F[np.argmax(z)])]
            w = np.zeros(n)
            w[free[0]] = 1.0
    return w  # pragma: no cover - max_iter reached


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


def _scale_predictors(x1: np.ndarray, X0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Divide each predictor by its standard deviation across all units (ddof=1), like pysyncon."""
    allx = np.column_stack([X0, x1])
    sd = allx.std(axis=1, ddof=1)
    sd[~(sd > 0)] = 1.0
    return x1 / sd, X0 / sd[:, None]


def _weights_for_v(
    x1: np.ndarray, X0: np.ndarray, v: np.ndarray, w0: np.ndarray | None = None
) -> np.ndarray:
    P = X0.T @ (v[:, None] * X0)
    q = X0.T @ (v * x1)
    return solve_simplex_qp(P, q, w0)


def _kkt_frame(kf: int) -> np.ndarray:
    """The constant part of the KKT matrix on a support of size kf, ``[0 1; 1' 0]`` (read-only: copy it)."""
    frame = _KKT_FRAMES.get(kf)
    if frame is None:
        frame = np.ones((kf + 1, kf + 1))
        frame[kf, kf] = 0.0
        frame.flags.writeable = False
        _KKT_FRAMES[kf] = frame  # only once complete (threads may share the cache)
    return frame


_KKT_FRAMES: dict[int, np.ndarray] = {}


def _simplex_ls(
    Bt: np.ndarray,
    b: np.ndarray,
    free: np.ndarray | None,
    wf: np.ndarray | None,
    scale: float,
    tol: float = 1e-12,
    max_iter: int = 500,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``min ||Bt' w - b||^2`` on the simplex, active set in factor form (never forms the J x J matrix).

    Same algorithm as `solve_simplex_qp`; ``Bt`` is (J, k): one row of predictors per donor, usually
    k << J. Warm start from the support ``free`` (donor indices, increasing) with positive weights ``wf``;
    ``None``: the best vertex. Returns (support F, weights on F, KKT matrix on F) so the caller can reuse
    the KKT matrix for the implicit gradient. ``scale`` sets the optimality tolerance (about max |Bt|^2).

    The nested V search calls this thousands of times on systems of a few unknowns, where NumPy's
    per-call overhead is the cost, not flops: hence the support-sized arrays, the ``.dot`` method (a
    cheaper call than ``@``, same BLAS routines) and plain Python for the tests and the ratio step on a
    few numbers. The arithmetic itself (which products, in which order) is deliberately the one the
    placebo results were checked with, see `_nested_v`.
    """
    if free is None:
        j = int(np.argmin(np.einsum("ij,ij->i", Bt, Bt) * 0.5 - Bt @ b))
        free = np.array([j])
        wl = [1.0]
    else:
        wl = wf.tolist()
    thresh = -tol * scale
    for _ in range(max_iter):
        kf = free.size
        BF = Bt.take(free, 0)
        K = _kkt_frame(kf).copy()
        K[:kf, :kf] = BF.dot(BF.T)
        rhs = np.empty(kf + 1)
        BF.dot(b, out=rhs[:kf])
        rhs[kf] = 1.0
        _, _, sol, info = _dgesv(K, rhs)
        if info != 0:
            sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
        z = sol[:kf]
        zl = sol.tolist()
        mu = zl.pop()
        if min(zl) > 0 and not math.isnan(sum(zl)):  # z.min() > 0, False with a NaN as in NumPy
            reduced = Bt.dot(z.dot(BF) - b)
            reduced += mu
            j = int(reduced.argmin())
            if j in free.tolist():  # rounding on the support: look among the other donors only
                reduced[free] = np.inf
                j = int(reduced.argmin())
            if reduced[j] >= thresh:
                return free, z, K
            grown = np.empty(kf + 1, dtype=free.dtype)
            grown[:kf] = free
            grown[kf] = j
            free, wl = grown, [*zl, 0.0]
            continue
        # blocked step from wl toward z: the first weight to reach zero leaves the support (a NaN ratio,
        # 0/0 for a donor that entered at zero, wins as it would in NumPy's argmin)
        t, i = math.inf, 0
        for a, (w, x) in enumerate(zip(wl, zl, strict=True)):
            if x <= 0:
                r = w / (w - x) if w != x else math.nan
                if r != r:
                    t, i = r, a
                    break
                if r < t:
                    t, i = r, a
        new = [w + t * (x - w) for w, x in zip(wl, zl, strict=True)]
        new[i] = 0.0
        keep = [a for a, x in enumerate(new) if x > 1e-15]
        if not keep:  # pragma: no cover - numerical safeguard
            keep = [int(np.argmax(z))]
            new[keep[0]] = 1.0
        kept = np.array([new[a] for a in keep])
        kept /= kept.sum()
        free, wl = free.take(keep), kept.tolist()
    return free, np.array(wl), K  # pragma: no cover - max_iter reached


def _nested_v(
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
        F, wF, K = _simplex_ls(X0t * sv, x1 * sv, free, wf, scale)
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


def _ols_start(x1: np.ndarray, X0: np.ndarray, z1: np.ndarray, Z0: np.ndarray) -> np.ndarray | None:
    """pysyncon's ``optim_initial="ols"`` starting value for V."""
    X = np.column_stack([X0, x1])
    Xr = np.column_stack([np.ones(X.shape[1]), X.T])
    Z = np.column_stack([Z0, z1])
    beta, *_ = np.linalg.lstsq(Xr, Z.T, rcond=None)
    beta = beta[1:]
    x0 = np.einsum("ij,ij->i", beta, beta)
    return x0 / x0.sum() if np.isfinite(x0).all() and x0.sum() > 0 else None


def fit_synth(
    y1: np.ndarray,
    Y0: np.ndarray,
    x1: np.ndarray,
    X0: np.ndarray,
    pre: np.ndarray,
    *,
    v_method: Literal["identity", "equal", "nested"] = "identity",
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
        xs1, XS0 = _scale_predictors(x1, X0)
    k = xs1.size
    if v_fixed is not None:
        v = np.asarray(v_fixed, dtype=float)
        w = _weights_for_v(xs1, XS0, v)
    elif v_method in ("identity", "equal") or k == 1:
        v = np.full(k, 1.0 / k)
        w = _weights_for_v(xs1, XS0, v)
    else:
        starts = [np.full(k, 1.0 / k)]
        if v_start is not None:
            starts.append(np.asarray(v_start, dtype=float))
        # pysyncon's regression start, unless the starts are already enough (placebos with n_starts=2)
        ols = _ols_start(xs1, XS0, y1[pre], Y0[pre]) if len(starts) < n_starts else None
        if ols is not None:
            starts.append(ols)
        rng = rng if rng is not None else np.random.default_rng(0)
        while len(starts) < n_starts:
            starts.append(rng.dirichlet(np.ones(k)))
        v, w = _nested_v(xs1, XS0, y1[pre], Y0[pre], starts[: max(n_starts, 1)])
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
    v_method: Literal["identity", "equal", "nested"],
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
    v_method: Literal["identity", "equal", "nested"],
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


# --------------------------------------------------------------------------------------------------
# Result object
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthResult:
    """Synthetic-control result: ``summary()``, ``to_dict()`` (JSON contract) and Plotly figures."""

    outcome: str
    unit: str
    time: str
    treated_unit: Any
    treatment_start: Any
    times: np.ndarray
    pre: np.ndarray
    treated: np.ndarray
    donors: np.ndarray  # donor unit labels
    predictor_names: tuple[str, ...]
    fit: SynthFit
    placebo: PlaceboResult | None
    loo_dropped: np.ndarray  # donor labels
    loo_gaps: np.ndarray
    n_units: int
    n_obs: int
    v_method: str
    notes: tuple[str, ...] = field(default=())

    @property
    def att(self) -> float:
        """Average post-treatment gap."""
        return float(np.mean(self.fit.gap[~self.pre]))

    @property
    def weights(self) -> dict[Any, float]:
        return {_py(u): float(w) for u, w in zip(self.donors, self.fit.weights, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        post = ~self.pre
        placebo = self.placebo
        d: dict[str, Any] = {
            "method": "synth",
            "outcome": self.outcome,
            "treated_unit": _py(self.treated_unit),
            "treatment_start": _py(self.treatment_start),
            "n_units": self.n_units,
            "n_periods": int(self.times.size),
            "n_obs": self.n_obs,
            "n_pre_periods": int(self.pre.sum()),
            "n_post_periods": int(post.sum()),
            "att": {
                "estimate": self.att,
                "se": None,
                "ci_low": None,
                "ci_high": None,
                "p_value": None if placebo is None else placebo.p_value,
                "inference": "placebo-in-space permutation (post/pre RMSPE ratio rank)",
                "note": "Synthetic control has no sampling standard error; the p-value ranks the treated "
                "unit's post/pre RMSPE ratio among the placebo units' ratios.",
            },
            "synth": {
                "weights": {k: v for k, v in self.weights.items() if v > 0},
                "all_weights": self.weights,
                "v_method": self.v_method,
                "v": dict(zip(self.predictor_names, map(float, self.fit.v), strict=True)),
                "pre_rmspe": self.fit.pre_rmspe,
                "post_rmspe": _fnum(self.fit.post_rmspe),
                "rmspe_ratio": _fnum(self.fit.ratio),
                "placebo_p_value": None if placebo is None else placebo.p_value,
                "placebo_att_p_value": None if placebo is None else placebo.att_p_value,
                "n_placebos": 0 if placebo is None else int(placebo.units.size),
            },
            "gap_path": [
                {"time": _py(t), "treated": float(y), "synthetic": float(s), "gap": float(g), "post": bool(p)}
                for t, y, s, g, p in zip(
                    self.times, self.treated, self.fit.synthetic, self.fit.gap, post, strict=True
                )
            ],
            "notes": list(self.notes),
        }
        if placebo is not None:
            d["placebos"] = [
                {
                    "unit": _py(self.donors[i]),
                    "pre_rmspe": float(a),
                    "post_rmspe": float(b),
                    "ratio": _fnum(c),
                    "att": float(np.mean(g[post])),
                }
                for i, a, b, c, g in zip(
                    range(placebo.units.size), placebo.pre_rmspe, placebo.post_rmspe, placebo.ratios,
                    placebo.gaps, strict=True,
                )
            ]
        d["leave_one_out"] = [
            {"dropped": _py(u), "att": float(np.mean(g[post]))}
            for u, g in zip(self.loo_dropped, self.loo_gaps, strict=True)
        ]
        return d

    def summary(self) -> str:
        lines = [
            f"Synthetic control — outcome {self.outcome!r}, treated unit {self.treated_unit!r} "
            f"from {self.time}={self.treatment_start!r}",
            f"Donor pool: {self.donors.size} units; {int(self.pre.sum())} pre / {int((~self.pre).sum())} "
            f"post periods; V: {self.v_method}",
            f"Average post-treatment gap (ATT): {self.att:.4g}",
            f"Pre-treatment RMSPE {self.fit.pre_rmspe:.4g}; post {self.fit.post_rmspe:.4g}; "
            f"ratio {self.fit.ratio:.3g}",
        ]
        if self.placebo is not None:
            n = self.placebo.units.size
            rank = 1 + int(np.sum(self.placebo.ratios > self.fit.ratio * (1 - 1e-12)))
            lines.append(
                f"Placebo-in-space p-value (RMSPE ratio): {self.placebo.p_value:.3f} "
                f"(rank {rank} of {n + 1}; smallest attainable {1 / (n + 1):.3f})"
            )
        lines.append("Weights:")
        for u, w in sorted(self.weights.items(), key=lambda kv: -kv[1]):
            if w >= 5e-4:
                lines.append(f"  {u!s:<24} {w:.3f}")
        if self.loo_dropped.size:
            atts = self.loo_gaps[:, ~self.pre].mean(axis=1)
            lines.append(f"Leave-one-out ATT range: [{atts.min():.4g}, {atts.max():.4g}]")
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)

    def plot_gaps(self, *, max_pre_rmspe_ratio: float | None = 5.0):
        """Gap path of the treated unit (bold) over the placebo gaps (grey).

        Placebos whose pre-treatment RMSPE exceeds ``max_pre_rmspe_ratio`` times the treated unit's are
        hidden (as in Abadie et al. 2010); ``None`` shows them all.
        """
        import plotly.graph_objects as go

        fig = go.Figure()
        x = [_py(t) for t in self.times]
        if self.placebo is not None:
            for i, g in enumerate(self.placebo.gaps):
                if max_pre_rmspe_ratio is not None and (
                    self.placebo.pre_rmspe[i] > max_pre_rmspe_ratio * self.fit.pre_rmspe
                ):
                    continue
                fig.add_trace(go.Scatter(
                    x=x, y=g, mode="lines", line={"color": "lightgrey", "width": 1},
                    name=str(_py(self.donors[i])), showlegend=False, hoverinfo="name",
                ))
        fig.add_trace(go.Scatter(x=x, y=self.fit.gap, mode="lines", line={"color": "black", "width": 3},
                                 name=str(self.treated_unit), meta={"role": "treated_gap"}))
        fig.add_hline(y=0, line_dash="dot")
        fig.add_vline(x=_py(self.treatment_start), line_dash="dash")
        fig.update_layout(template="plotly_white", title=f"Gap in {self.outcome}: treated minus synthetic (placebos in grey)",
                          xaxis_title=self.time, yaxis_title="gap",
                          meta={"figure": "synth_gaps", "outcome": self.outcome, "time": self.time})
        return fig

    def plot_paths(self):
        """Treated and synthetic outcome paths."""
        import plotly.graph_objects as go

        x = [_py(t) for t in self.times]
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=x, y=self.treated, mode="lines", name=str(self.treated_unit)))
        fig.add_trace(go.Scatter(x=x, y=self.fit.synthetic, mode="lines", line={"dash": "dash"},
                                 name="synthetic"))
        fig.add_vline(x=_py(self.treatment_start), line_dash="dash")
        fig.update_layout(template="plotly_white", title=f"{self.outcome}: treated vs synthetic", xaxis_title=self.time,
                          yaxis_title=self.outcome)
        return fig

    plot = plot_gaps


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------

_OPTIONS = ("covariates", "covariate_periods", "outcome_lags", "v", "placebo", "leave_one_out", "n_starts",
            "n_placebo_draws", "loo_donors")


def synthetic_control(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    treatment: str | None = None,
    seed: int = 0,
    **options: Any,
) -> SynthResult:
    """Synthetic control for one treated unit against the never-treated donors.

    Options: ``covariates`` (columns averaged over the pre-treatment periods, or over
    ``covariate_periods`` when given), ``outcome_lags``
    (pre-treatment periods whose outcome is a predictor; default all pre-treatment periods),
    ``v`` ("auto" | "identity" | "equal" | "nested"; auto = identity without covariates/lags, nested
    otherwise), ``placebo`` (bool, default True), ``leave_one_out`` (bool, default True),
    ``n_starts`` (starts of the nested V search: equal weights, then the treated fit's V for placebos or
    pysyncon's regression-based start, then random Dirichlet draws; default 2).

    With several treated units (staggered or not), each gets its own synthetic control fitted on its own
    pre-treatment periods and the gaps are averaged in event time (see `synth_staggered`); options
    ``n_placebo_draws`` (placebo averages drawn, default 2000) and ``loo_donors`` (donors dropped in turn
    by the leave-one-out, largest average weight first, default 10) apply there.
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise EngineInputError(
            f"Unknown synthetic-control option(s) {unknown}; allowed: {', '.join(_OPTIONS)}."
        )
    covariates = list(options.get("covariates") or [])
    covariate_periods = options.get("covariate_periods")
    outcome_lags = options.get("outcome_lags")
    v_opt = options.get("v", "auto")
    _validate_choice("v (V matrix method)", v_opt, get_args(VMethod))
    do_placebo = bool(options.get("placebo", True))
    do_loo = bool(options.get("leave_one_out", True))
    n_starts = int(options.get("n_starts", 2))
    if n_starts < 1:
        raise EngineInputError("n_starts must be at least 1.")
    _require_columns(
        data, {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort, "treatment": treatment}
    )
    for c in covariates:
        _require_columns(data, {"covariate": c})

    units, times, Y = _wide_panel(data, outcome=outcome, unit=unit, time=time)
    first = _first_treated(data, unit=unit, time=time, cohort=cohort, treatment=treatment)
    treated_units = [u for u in units if first.get(u) is not None]
    if not treated_units:
        raise EngineInputError("No treated unit: synthetic control needs at least one treated unit.")
    v_method = v_opt
    if v_opt == "auto":
        v_method = "nested" if (covariates or outcome_lags is not None) else "identity"
    if len(treated_units) > 1:
        from tremplin.engine.estimators.synth_staggered import staggered_synthetic_control

        draws = int(options.get("n_placebo_draws", 2000))
        loo_donors = int(options.get("loo_donors", 10))
        if draws < 1 or loo_donors < 0:
            raise EngineInputError("n_placebo_draws must be at least 1 and loo_donors at least 0.")
        return staggered_synthetic_control(
            data, outcome=outcome, unit=unit, time=time, units=units, times=times, Y=Y, first=first,
            covariates=covariates, covariate_periods=covariate_periods, outcome_lags=outcome_lags,
            v_method=v_method, do_placebo=do_placebo, do_loo=do_loo, n_starts=n_starts,
            n_placebo_draws=draws, loo_donors=loo_donors, rng=np.random.default_rng(seed),
        )
    tu = treated_units[0]
    start = first[tu]
    try:
        pre = times < start
    except TypeError as exc:
        raise EngineInputError(f"Treatment start {start!r} is not comparable with {time!r} values.") from exc
    if pre.sum() < 2:
        raise EngineInputError(f"Unit {tu!r} is treated from {start!r}: at least 2 pre-treatment periods needed.")
    if pre.all():
        raise EngineInputError(f"Unit {tu!r} is treated from {start!r}, after the last period: no post period.")
    donor_mask = np.array([first.get(u) is None for u in units])
    if donor_mask.sum() < 2:
        raise EngineInputError("No control: synthetic control needs at least 2 never-treated donor units.")
    ti = int(np.flatnonzero(units == tu)[0])
    donor_idx = np.flatnonzero(donor_mask)

    X, names = _predictors(data, Y, units, times, pre, outcome=outcome, unit=unit, time=time,
                           covariates=covariates, covariate_periods=covariate_periods, outcome_lags=outcome_lags)
    rng = np.random.default_rng(seed)
    fit = fit_synth(
        Y[:, ti], Y[:, donor_idx], X[:, ti], X[:, donor_idx], pre,
        v_method=v_method, n_starts=n_starts, rng=rng,
    )
    notes: list[str] = []
    placebo = None
    if do_placebo:
        placebo = placebo_in_space(Y, X, donor_idx, pre, fit, v_method=v_method, n_starts=n_starts, rng=rng)
        if placebo.units.size < 19:
            notes.append(
                f"Only {placebo.units.size} placebo units: the smallest attainable p-value is "
                f"{1 / (placebo.units.size + 1):.3f}."
            )
    loo_dropped = donor_idx[:0]
    loo_gaps = np.empty((0, times.size))
    if do_loo:
        pos, loo_gaps = leave_one_out(
            Y[:, ti], Y[:, donor_idx], X[:, ti], X[:, donor_idx], pre, fit,
            v_method=v_method, n_starts=n_starts, rng=rng,
        )
        loo_dropped = units[donor_idx][pos]
    pre_bias = abs(float(np.mean(fit.gap[pre])))
    if fit.pre_rmspe > 0 and pre_bias > 0.5 * fit.pre_rmspe:
        notes.append(f"Systematic pre-treatment gap (mean {pre_bias:.3g} against an RMSPE of {fit.pre_rmspe:.3g}): "
                     "the treated unit probably lies outside the donors' convex hull; interpret with care.")
    if fit.loss_w <= 1e-10 * max(1.0, float(np.abs(X[:, ti]).max()) ** 2):
        notes.append("The predictors are matched exactly: the weights are not unique (the treated unit lies "
                     "inside the donors' convex hull in predictor space); add predictors or use v='identity'.")
    if v_method == "nested":
        notes.append("V chosen by nested optimisation (non-convex): weights may differ from other "
                     "software that stops at another local optimum; compare pre-RMSPE.")
    return SynthResult(
        outcome=outcome, unit=unit, time=time, treated_unit=_py(tu), treatment_start=_py(start),
        times=times, pre=pre, treated=Y[:, ti].copy(), donors=units[donor_idx], predictor_names=tuple(names),
        fit=fit, placebo=placebo, loo_dropped=loo_dropped, loo_gaps=loo_gaps,
        n_units=int(1 + donor_idx.size), n_obs=int((1 + donor_idx.size) * times.size),
        v_method=v_method, notes=tuple(notes),
    )
