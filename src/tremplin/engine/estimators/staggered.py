"""Callaway & Sant'Anna (2021) difference-in-differences with staggered adoption.

Numbers happen in pure functions on wide arrays (`compute_att_gt`, `aggregate`, `pretrend_test`);
`CallawaySantAnna` orchestrates them and builds a `CSResult`.

Conventions follow R `did` / Python `csdid` (the test reference, matched to 1e-6 on mpdta):
* varying ("short") base period: pre-treatment cells compare t with t-1, post-treatment cells compare t
  with the last period before g - anticipation;
* controls: never treated (cohort 0), or not yet treated (never treated plus cohorts g' > t + anticipation,
  g' != g);
* cohorts later than the last period (+ anticipation) are never treated; units treated in the first period
  are dropped; without never-treated units the last cohort serves as control and later periods are dropped;
* estimation per 2x2 cell: "or" = `reg_did_panel`, "ipw" = normalised (Hajek) IPW `std_ipw_did_panel`,
  "dr" = the traditional doubly robust `drdid_panel` (logit propensity score by maximum likelihood,
  propensity trimmed at 0.995 for controls) — the estimator `csdid`'s `est_method="dr"` uses (not the
  "improved" `drdid_imp_panel`); without covariates all four coincide with the unconditional estimator;
* covariates and weights enter each cell at the earlier of its two periods; weights are per unit;
* influence functions are scaled so that se = sqrt(sum_c S_c^2) / n (S_c: cluster sums; c = unit by default);
  without covariates they are never materialised: IF_i = w_i (Y_i . beta[cohort_i] + kappa[cohort_i]), so
  analytic SEs come from per-cohort second moments and the multiplier bootstrap from per-cohort draw-weighted
  sums of w*Y (B*n*T work instead of B*n*cells); with covariates they are an n x cells matrix;
* aggregations (simple, dynamic, group, calendar) weight cohorts by their (weighted) share and include the
  estimation effect of these weights ("wif"), as in `aggte`.
"""

from __future__ import annotations

import warnings as _warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import sparse, special, stats

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.panel_input import Panel, build_panel
from tremplin.engine.estimators.results import CSResult, Effect, Estimate, InferenceInfo, PretrendTest
from tremplin.engine.inference import (
    cluster_sums,
    fragility_warning,
    multiplier_bootstrap,
    normal_ci,
    randomization_inference,
)
from tremplin.engine.options import AggregationKind, Control, Estimation, check_choice, checked_options, choices

AGGREGATIONS: tuple[AggregationKind, ...] = choices(AggregationKind)

TRIM_LEVEL = 0.995

__all__ = [
    "CallawaySantAnna",
    "GroupTime",
    "Aggregate",
    "aggregate",
    "callaway_santanna",
    "compute_att_gt",
    "pretrend_test",
]


# --------------------------------------------------------------------------------------------------
# 2x2 panel estimators (pure NumPy ports of DRDID's panel estimators)
# --------------------------------------------------------------------------------------------------


def _logit(x: np.ndarray, d: np.ndarray, w: np.ndarray, *, tol: float = 1e-13, max_iter: int = 100) -> np.ndarray:
    """Weighted logistic regression by Newton-Raphson; returns fitted probabilities."""
    beta = np.zeros(x.shape[1])
    pbar = np.clip(np.sum(w * d) / np.sum(w), 1e-6, 1 - 1e-6)
    beta[0] = np.log(pbar / (1 - pbar)) if np.allclose(x[:, 0], 1) else 0.0
    for _ in range(max_iter):
        p = special.expit(x @ beta)
        grad = x.T @ (w * (d - p))
        hess = x.T @ (x * (w * p * (1 - p))[:, None])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError as exc:
            raise EngineInputError("The propensity-score design is singular; remove collinear covariates.") from exc
        beta = beta + step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            break
    return special.expit(x @ beta)


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)
    return beta


def did_panel_2x2(
    dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray, method: str
) -> tuple[float, np.ndarray]:
    """ATT and influence function of one 2x2 panel DiD on its subsample (treated d=1, controls d=0).

    `x` includes the intercept column; `w` are unit weights. Mirrors DRDID's `reg_did_panel`,
    `std_ipw_did_panel` and `drdid_panel` (trimmed, as used by csdid).
    """
    n = len(d)
    w = w / np.mean(w)
    if method == "or":
        ctrl = d == 0
        beta = _wls(x[ctrl], dy[ctrl], w[ctrl])
        out = x @ beta
        w_treat = w * d
        mt = np.mean(w_treat)
        att_treat = w_treat * dy
        att_cont = w_treat * out
        eta_t = np.mean(att_treat) / mt
        eta_c = np.mean(att_cont) / mt
        wo = w * (1 - d)
        xpx = (x * wo[:, None]).T @ x / n
        asy = (x * (wo * (dy - out))[:, None]) @ np.linalg.inv(xpx)
        inf_treat = (att_treat - w_treat * eta_t) / mt
        m1 = np.mean(x * w_treat[:, None], axis=0)
        inf_control = (att_cont - w_treat * eta_c + asy @ m1) / mt
        return float(eta_t - eta_c), inf_treat - inf_control

    ps = _logit(x, d, w)
    ps = np.minimum(ps, 1 - 1e-6)
    keep = np.where(d == 1, True, ps < TRIM_LEVEL)
    w_treat = keep * w * d
    w_cont = keep * w * ps * (1 - d) / (1 - ps)
    info = x.T @ (x * (w * ps * (1 - ps))[:, None])
    hess = np.linalg.inv(info) * n
    asy_ps = (x * (w * (d - ps))[:, None]) @ hess
    mt, mc = np.mean(w_treat), np.mean(w_cont)
    if method == "ipw":
        att_treat = w_treat * dy
        att_cont = w_cont * dy
        eta_t = np.mean(att_treat) / mt
        eta_c = np.mean(att_cont) / mc
        inf_treat = (att_treat - w_treat * eta_t) / mt
        m2 = np.mean(x * (w_cont * (dy - eta_c))[:, None], axis=0)
        inf_control = (att_cont - w_cont * eta_c + asy_ps @ m2) / mc
        return float(eta_t - eta_c), inf_treat - inf_control

    # doubly robust (traditional drdid_panel)
    ctrl = d == 0
    beta = _wls(x[ctrl], dy[ctrl], w[ctrl])
    out = x @ beta
    resid = dy - out
    att_treat = w_treat * resid
    att_cont = w_cont * resid
    eta_t = np.mean(att_treat) / mt
    eta_c = np.mean(att_cont) / mc
    wo = w * (1 - d)
    xpx = (x * wo[:, None]).T @ x / n
    asy_ols = (x * (wo * resid)[:, None]) @ np.linalg.inv(xpx)
    m1 = np.mean(x * w_treat[:, None], axis=0)
    inf_treat = (att_treat - w_treat * eta_t - asy_ols @ m1) / mt
    m2 = np.mean(x * (w_cont * (resid - eta_c))[:, None], axis=0)
    m3 = np.mean(x * w_cont[:, None], axis=0)
    inf_control = (att_cont - w_cont * eta_c + asy_ps @ m2 - asy_ols @ m3) / mc
    return float(eta_t - eta_c), inf_treat - inf_control


# --------------------------------------------------------------------------------------------------
# Influence functions: dense (covariates) or structured (unconditional: never materialised)
# --------------------------------------------------------------------------------------------------


class UnitStats:
    """Per (cluster, cohort label) sums of w*Y and of w: the sufficient statistics of the unconditional
    estimator. With unit-level clusters each row is one unit and clusters are numbered label by label, so
    every label owns a contiguous block of clusters (the bootstrap then reads draws by slicing)."""

    def __init__(self, y: np.ndarray, w: np.ndarray, label: np.ndarray, n_labels: int,
                 cluster: np.ndarray | None) -> None:
        self.blocks: list[tuple[slice | np.ndarray, np.ndarray, np.ndarray]] = []
        self.unit_level = cluster is None
        if cluster is None:
            order = np.argsort(label, kind="stable")
            counts = np.bincount(label, minlength=n_labels)
            starts = np.concatenate([[0], np.cumsum(counts)])
            for s in range(n_labels):
                idx = order[starts[s]:starts[s + 1]]
                self.blocks.append((slice(int(starts[s]), int(starts[s + 1])), w[idx, None] * y[idx], w[idx]))
            self.n_clusters = len(label)
        else:
            self.n_clusters = int(cluster.max()) + 1
            for s in range(n_labels):
                m = label == s
                uniq, inv = np.unique(cluster[m], return_inverse=True)
                agg = sparse.csr_matrix((np.ones(inv.size), (inv, np.arange(inv.size))), shape=(uniq.size, inv.size))
                self.blocks.append((uniq, np.asarray(agg @ (w[m, None] * y[m])), np.asarray(agg @ w[m])))

    @cached_property
    def blocks32(self) -> list[tuple[slice | np.ndarray, np.ndarray]]:
        """Per label: (rows, float32 [w*Y | w]) for the bootstrap products."""
        return [(rows, np.column_stack([zy, zw]).astype(np.float32)) for rows, zy, zw in self.blocks]

    def project(self, xi: np.ndarray) -> list[np.ndarray]:
        """Per label: xi[:, rows] @ [w*Y | w] (b x (T+1)); memoised for the last draws so that every
        parameter block of one bootstrap reuses the same products."""
        last = getattr(self, "_last", None)
        if last is not None and last[0]() is xi:
            return last[1]
        out = [(xi[:, rows] @ zyw).astype(np.float64) for rows, zyw in self.blocks32]
        self._last = (weakref.ref(xi), out)  # a weak reference: the draws are not kept alive
        return out

    @cached_property
    def moments(self) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Per label: (sum zy zy', sum zy zw, sum zw^2) -- second moments for unit-level clusters."""
        # einsum (no BLAS threads): these small products are latency-bound, and multithreaded BLAS stalls
        # badly when the cores are shared
        return [(np.einsum("it,is->ts", zy, zy), np.einsum("it,i->t", zy, zw), float(np.einsum("i,i->", zw, zw)))
                for _, zy, zw in self.blocks]


@dataclass(frozen=True)
class StructuredInfluence:
    """m influence functions of the form IF_i = w_i (Y_i . beta[label_i] + kappa[label_i])."""

    beta: np.ndarray  # (n_labels, n_periods, m)
    kappa: np.ndarray  # (n_labels, m)
    stats: UnitStats

    @property
    def n_params(self) -> int:
        return int(self.kappa.shape[1])

    @property
    def n_clusters(self) -> int:
        return self.stats.n_clusters

    def combine(self, weights: np.ndarray, kappa: np.ndarray) -> StructuredInfluence:
        """Linear combinations IF @ weights (K x m) plus w_i * kappa[label_i] (n_labels x m)."""
        return StructuredInfluence(np.einsum("stk,km->stm", self.beta, weights), self.kappa @ weights + kappa,
                                   self.stats)

    def cluster_sums(self) -> np.ndarray:
        out = np.zeros((self.n_clusters, self.n_params))
        for s, (rows, zy, zw) in enumerate(self.stats.blocks):
            out[rows] += zy @ self.beta[s] + zw[:, None] * self.kappa[s][None, :]
        return out

    def sum_of_squares(self) -> np.ndarray | None:
        """sum_c S_c^2 per parameter from second moments (unit-level clusters only; else None)."""
        if not self.stats.unit_level:
            return None
        out = np.zeros(self.n_params)
        for s, (gram, h, sw2) in enumerate(self.stats.moments):
            b, k = self.beta[s], self.kappa[s]
            out += np.sum(b * (gram @ b), axis=0) + 2 * k * (h @ b) + sw2 * k**2
        return out

    def weighted_sums(self, xi: np.ndarray) -> np.ndarray:
        out = np.zeros((xi.shape[0], self.n_params))
        for s, proj in enumerate(self.stats.project(xi)):
            out += proj[:, :-1] @ self.beta[s] + np.outer(proj[:, -1], self.kappa[s])
        return out


@dataclass(frozen=True)
class DenseInfluence:
    """m influence functions stored as an (n_units x m) matrix (used with covariates)."""

    matrix: np.ndarray
    unit_weight: np.ndarray
    unit_label: np.ndarray
    cluster: np.ndarray
    n_clusters: int

    @property
    def n_params(self) -> int:
        return int(self.matrix.shape[1])

    def combine(self, weights: np.ndarray, kappa: np.ndarray) -> DenseInfluence:
        m = self.matrix @ weights + self.unit_weight[:, None] * kappa[self.unit_label]
        return DenseInfluence(m, self.unit_weight, self.unit_label, self.cluster, self.n_clusters)

    def cluster_sums(self) -> np.ndarray:
        return cluster_sums(self.matrix, self.cluster, self.n_clusters)

    def sum_of_squares(self) -> np.ndarray:
        return np.sum(self.cluster_sums() ** 2, axis=0)

    @cached_property
    def _sums32(self) -> np.ndarray:
        return self.cluster_sums().astype(np.float32)

    def weighted_sums(self, xi: np.ndarray) -> np.ndarray:
        return (xi @ self._sums32).astype(np.float64)


Influence = StructuredInfluence | DenseInfluence


def influence_standard_errors(inf: Influence, n_units: int) -> np.ndarray:
    """Analytic SEs sqrt(sum_c S_c^2) / n (second moments when possible, else cluster sums in chunks)."""
    ss = inf.sum_of_squares() if isinstance(inf, StructuredInfluence) else None
    if ss is None:
        ss = np.empty(inf.n_params)
        step = max(1, int(4_000_000 // max(inf.n_clusters, 1)))
        for start in range(0, inf.n_params, step):
            cols = np.arange(start, min(inf.n_params, start + step))
            sel = np.zeros((inf.n_params, cols.size))
            sel[cols, np.arange(cols.size)] = 1.0
            part = inf.combine(sel, np.zeros((_n_labels(inf), cols.size))) if inf.n_params > step else inf
            ss[cols] = np.sum(part.cluster_sums() ** 2, axis=0)
    out = np.sqrt(ss) / n_units
    return np.where(np.isfinite(out) & (out > 0), out, np.nan)


def influence_covariance(inf: Influence, n_units: int) -> np.ndarray:
    """sum_c S_c S_c' / n^2 for all parameters of `inf`."""
    if isinstance(inf, StructuredInfluence) and inf.stats.unit_level:
        v = np.zeros((inf.n_params, inf.n_params))
        for s, (gram, h, sw2) in enumerate(inf.stats.moments):
            b, k = inf.beta[s], inf.kappa[s]
            hb = h @ b
            v += b.T @ gram @ b + np.outer(hb, k) + np.outer(k, hb) + sw2 * np.outer(k, k)
        return v / n_units**2
    s = inf.cluster_sums()
    return (s.T @ s) / n_units**2


def _n_labels(inf: Influence) -> int:
    return inf.kappa.shape[0] if isinstance(inf, StructuredInfluence) else int(inf.unit_label.max()) + 1


# --------------------------------------------------------------------------------------------------
# Group-time ATT
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupTime:
    """ATT(g,t) with their influence functions and what the aggregations need.

    `labels` are the distinct cohort values of the kept units (0 = never treated); `unit_label` indexes them.
    """

    groups: np.ndarray
    times: np.ndarray
    att: np.ndarray
    influence: Influence
    unit_cohort: np.ndarray
    unit_weight: np.ndarray
    unit_label: np.ndarray
    labels: np.ndarray
    cohorts: np.ndarray
    period_values: np.ndarray
    anticipation: float
    kept_units: np.ndarray
    warnings: tuple[str, ...]

    @property
    def n_units(self) -> int:
        return int(self.unit_cohort.size)

    @property
    def post(self) -> np.ndarray:
        return self.groups <= self.times


def _prepare(times: np.ndarray, cohort: np.ndarray, control: str, anticipation: float):
    """Recode cohorts and select periods/units as R `did` does. Returns (unit mask, period mask, g, glist, notes)."""
    notes: list[str] = []
    g = np.asarray(cohort, dtype=float).copy()
    period_mask = np.ones(len(times), dtype=bool)
    if not (g > 0).any():
        raise EngineInputError("No treated unit: every unit has cohort 0 / no treatment, so there is nothing to estimate.")
    g[g > times.max() + anticipation] = 0.0
    if not (g > 0).any():
        raise EngineInputError(
            "No treated unit within the panel: every cohort starts after the last observed period."
        )
    latest = None
    if not (g == 0).any():
        latest = g.max()
        period_mask = times < latest - anticipation
        if control == "never":
            g[g == latest] = 0.0
        notes.append(
            f"No never-treated units: cohort {latest:g} is used only as a control and periods from "
            f"{latest - anticipation:g} on are dropped."
        )
        if not period_mask.any():
            raise EngineInputError("No control units: no period precedes the last cohort's treatment start.")
    t_kept = times[period_mask]
    fp = t_kept[0]
    first_treated = (g > 0) & (g <= fp + anticipation)
    if first_treated.any():
        notes.append(f"Dropped {int(first_treated.sum())} units already treated in the first period.")
    unit_mask = ~first_treated
    gk = g[unit_mask]
    glist = np.unique(gk[gk > fp + anticipation])
    if latest is not None and control != "never":
        glist = glist[glist < latest]
    if glist.size == 0:
        if latest is not None and np.unique(g[g > 0]).size <= 1:
            raise EngineInputError(
                "No control units: there are no never-treated units and all treated units start at the same "
                "period, so no group can serve as a comparison."
            )
        raise EngineInputError("No treated cohort with a pre-treatment period remains to estimate an effect.")
    if control == "never" and not (gk == 0).any():
        raise EngineInputError("No control units: no never-treated unit remains; try `control=\"not-yet\"`.")
    if t_kept.size < 2:
        raise EngineInputError("At least two periods are needed.")
    return unit_mask, period_mask, gk, glist, notes


def _cells(glist: np.ndarray, labels: np.ndarray, tl: np.ndarray, control: str, anticipation: float):
    """Cell layout: (cohort, time index, base index, control-label matrix n_labels x K)."""
    n_t = tl.size
    cg, ct, cb, ctrl = [], [], [], []
    for gv in glist:
        last_pre = np.flatnonzero(tl + anticipation < gv)[-1]
        for ti in range(1, n_t):
            base = last_pre if gv - anticipation <= tl[ti] else ti - 1
            c = labels == 0
            if control != "never":
                c = c | ((labels > tl[ti] + anticipation) & (labels != gv))
            cg.append(gv)
            ct.append(ti)
            cb.append(base)
            ctrl.append(c)
    return np.array(cg), np.array(ct), np.array(cb), np.column_stack(ctrl)


def compute_att_gt(
    y: np.ndarray,
    times: np.ndarray,
    cohort: np.ndarray,
    *,
    covariates: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    cluster: np.ndarray | None = None,
    control: Control = "never",
    estimation: Estimation = "dr",
    anticipation: float = 0,
) -> GroupTime:
    """All ATT(g,t) with their influence functions from a balanced wide panel.

    `y` is (n_units, n_periods), `times` the sorted period values, `cohort` per unit (0 = never treated),
    `covariates` (n_units, n_periods, p) or None, `weights` per unit or None, `cluster` integer codes per
    unit (None: units are the clusters).
    """
    check_choice("control", control, Control)
    check_choice("estimation", estimation, Estimation)
    y = np.asarray(y, dtype=float)
    times = np.asarray(times, dtype=float)
    if not np.isfinite(y).all():
        raise EngineInputError("The Callaway–Sant'Anna estimator needs a balanced panel without missing outcomes.")
    unit_mask, period_mask, g, glist, notes = _prepare(times, cohort, control, anticipation)
    y = y[unit_mask][:, period_mask]
    tl = times[period_mask]
    n, n_t = y.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)[unit_mask]
    cl = None if cluster is None else np.unique(np.asarray(cluster)[unit_mask], return_inverse=True)[1]
    labels, unit_label = np.unique(g, return_inverse=True)
    n_lab = labels.size
    x = None
    if covariates is not None and covariates.shape[-1] > 0:
        if estimation == "unconditional":
            raise EngineInputError("Covariates need estimation 'or', 'ipw' or 'dr' (not 'unconditional').")
        x = np.asarray(covariates, dtype=float)[unit_mask][:, period_mask, :]

    cg, ct, cb, ctrl = _cells(glist, labels, tl, control, anticipation)
    has_ctrl = ctrl.any(axis=0)
    if not has_ctrl.all():
        for gv in np.unique(cg[~has_ctrl]):
            bad = tl[ct[(cg == gv) & ~has_ctrl]].tolist()
            notes.append(f"Cohort {gv:g}: no control units for periods {bad}; those cells are skipped.")
        cg, ct, cb, ctrl = cg[has_ctrl], ct[has_ctrl], cb[has_ctrl], ctrl[:, has_ctrl]
    k = cg.size
    treated_lab = np.searchsorted(labels, cg)

    if x is None:
        onehot = sparse.csr_matrix((w, (unit_label, np.arange(n))), shape=(n_lab, n))
        m1 = np.asarray(onehot @ y)  # (n_labels, T): sum of w*Y per label
        wsum = np.bincount(unit_label, weights=w, minlength=n_lab)
        diff = m1[:, ct] - m1[:, cb]  # (n_labels, K)
        w_g = wsum[treated_lab]
        m_g = diff[treated_lab, np.arange(k)] / w_g
        w_c = ctrl.T @ wsum
        m_c = np.sum(ctrl * diff, axis=0) / w_c
        att = m_g - m_c
        beta = np.zeros((n_lab, n_t, k))
        kappa = np.zeros((n_lab, k))
        kk = np.arange(k)
        beta[treated_lab, ct, kk] += n / w_g
        beta[treated_lab, cb, kk] -= n / w_g
        kappa[treated_lab, kk] -= n * m_g / w_g
        s_idx, k_idx = np.nonzero(ctrl)
        beta[s_idx, ct[k_idx], k_idx] -= n / w_c[k_idx]
        beta[s_idx, cb[k_idx], k_idx] += n / w_c[k_idx]
        kappa[s_idx, k_idx] += n * m_c[k_idx] / w_c[k_idx]
        influence: Influence = StructuredInfluence(beta, kappa, UnitStats(y, w, unit_label, n_lab, cl))
        keep = np.isfinite(att)
    else:
        att = np.full(k, np.nan)
        mat = np.zeros((n, k))
        method = {"or": "or", "ipw": "ipw", "dr": "dr"}[estimation]
        unit_ctrl = ctrl[unit_label]  # (n, K)
        for j in range(k):
            treated = g == cg[j]
            sub = treated | unit_ctrl[:, j]
            dy = y[sub, ct[j]] - y[sub, cb[j]]
            xs = np.column_stack([np.ones(sub.sum()), x[sub, min(ct[j], cb[j]), :]])
            d = treated[sub].astype(float)
            try:
                with np.errstate(all="ignore"):
                    if method in ("ipw", "dr") and _logit(xs, d, np.ones(d.size)).max() >= 0.999:
                        raise EngineInputError("overlap")
                    att[j], inf_sub = did_panel_2x2(dy, d, xs, w[sub], method)
            except (EngineInputError, np.linalg.LinAlgError):
                notes.append(f"ATT({cg[j]:g},{tl[ct[j]]:g}) not estimable (overlap violated or singular "
                             "covariates); cell dropped.")
                continue
            mat[sub, j] = inf_sub * (n / sub.sum())
        keep = np.isfinite(att)
        influence = DenseInfluence(np.ascontiguousarray(mat[:, keep]), w, unit_label,
                                   np.arange(n) if cl is None else cl, n if cl is None else int(cl.max()) + 1)
    if not keep.all() and isinstance(influence, StructuredInfluence):
        influence = StructuredInfluence(influence.beta[:, :, keep], influence.kappa[:, keep], influence.stats)
    return GroupTime(
        groups=cg[keep].astype(float),
        times=tl[ct[keep]],
        att=att[keep],
        influence=influence,
        unit_cohort=g,
        unit_weight=w,
        unit_label=unit_label,
        labels=labels,
        cohorts=glist,
        period_values=tl,
        anticipation=float(anticipation),
        kept_units=unit_mask,
        warnings=tuple(notes),
    )


# --------------------------------------------------------------------------------------------------
# Aggregations
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Aggregate:
    """An aggregation of ATT(g,t): per-label effects and the overall average.

    Each aggregated parameter is a linear combination of the cell influence functions (`weights`,
    K x m) plus the influence of the estimated cohort shares, w_i * `wif_kappa`[label_i] (n_labels x m).
    """

    kind: str
    labels: np.ndarray
    att: np.ndarray
    weights: np.ndarray
    wif_kappa: np.ndarray
    overall_att: float
    overall_weights: np.ndarray
    overall_wif_kappa: np.ndarray

    def influence(self, gt: GroupTime) -> Influence:
        return gt.influence.combine(self.weights, self.wif_kappa)

    def overall_influence(self, gt: GroupTime) -> Influence:
        return gt.influence.combine(self.overall_weights[:, None], self.overall_wif_kappa[:, None])


def _wif_kappa(gt: GroupTime, cohorts: np.ndarray, pg: np.ndarray, att: np.ndarray) -> np.ndarray:
    """csdid's `wif` @ att written as w_i * kappa[label_i]: kappa_s = a_s / S - k_s sum(pg att) / S^2."""
    s_tot = pg.sum()
    spa = np.sum(pg * att)
    lab = np.searchsorted(gt.labels, cohorts)
    a = np.bincount(lab, weights=att, minlength=gt.labels.size)
    cnt = np.bincount(lab, minlength=gt.labels.size)
    return a / s_tot - cnt * spa / s_tot**2


def aggregate(gt: GroupTime, kind: AggregationKind, *, min_e: float = -np.inf, max_e: float = np.inf) -> Aggregate:
    """Aggregate ATT(g,t) as `aggte` does: simple, dynamic (event study), group or calendar."""
    check_choice("kind", kind, AggregationKind)
    k = gt.att.size
    pg_lab = np.bincount(gt.unit_label, weights=gt.unit_weight, minlength=gt.labels.size) / gt.n_units
    pg = pg_lab[np.searchsorted(gt.labels, gt.groups)]
    e = gt.times - gt.groups
    post = gt.post & (e >= min_e) & (e <= max_e)
    if not post.any():
        raise EngineInputError("No post-treatment ATT(g,t) is available to aggregate.")

    def combo(idx: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        wts = pg[idx] / pg[idx].sum()
        col = np.zeros(k)
        col[idx] = wts
        return float(np.sum(gt.att[idx] * wts)), col, _wif_kappa(gt, gt.groups[idx], pg[idx], gt.att[idx])

    def stack(items):
        atts = np.array([a for a, _, _ in items])
        return atts, np.column_stack([c for _, c, _ in items]), np.column_stack([q for _, _, q in items])

    if kind == "simple":
        att, col, kap = combo(np.flatnonzero(post))
        return Aggregate(kind, np.array([]), np.array([]), np.zeros((k, 0)), np.zeros((gt.labels.size, 0)),
                         att, col, kap)
    if kind == "group":
        labs, items = [], []
        for c in gt.cohorts:
            idx = np.flatnonzero((gt.groups == c) & post)
            if idx.size:
                col = np.zeros(k)
                col[idx] = 1 / idx.size
                labs.append(c)
                items.append((float(np.mean(gt.att[idx])), col, np.zeros(gt.labels.size)))
        labels_a = np.asarray(labs)
        atts, cols, kaps = stack(items)
        pgg = pg_lab[np.searchsorted(gt.labels, labels_a)]
        share = pgg / pgg.sum()
        overall = float(np.sum(atts * share))
        return Aggregate(kind, labels_a, atts, cols, kaps, overall, cols @ share,
                         _wif_kappa(gt, labels_a, pgg, atts))
    if kind == "dynamic":
        eseq = np.unique(e[(e >= min_e) & (e <= max_e)])
        atts, cols, kaps = stack([combo(np.flatnonzero(e == ev)) for ev in eseq])
        pos = eseq >= 0
        return Aggregate(kind, eseq, atts, cols, kaps, float(np.mean(atts[pos])), cols[:, pos].mean(axis=1),
                         kaps[:, pos].mean(axis=1))
    tlist = np.unique(gt.times[gt.post & (gt.times >= gt.cohorts.min())])
    atts, cols, kaps = stack([combo(np.flatnonzero((gt.times == t1) & gt.post)) for t1 in tlist])
    return Aggregate(kind, tlist, atts, cols, kaps, float(np.mean(atts)), cols.mean(axis=1), kaps.mean(axis=1))


def pretrend_test(gt: GroupTime) -> PretrendTest | None:
    """Wald test that every pre-treatment ATT(g,t) (t < g - anticipation) is zero."""
    pre = np.flatnonzero(gt.groups - gt.anticipation > gt.times)
    if pre.size == 0:
        return None
    sel = np.zeros((gt.att.size, pre.size))
    sel[pre, np.arange(pre.size)] = 1.0
    v = influence_covariance(gt.influence.combine(sel, np.zeros((gt.labels.size, pre.size))), gt.n_units)
    ok = np.diag(v) > 0
    pre, v = pre[ok], v[np.ix_(ok, ok)]
    if pre.size == 0 or np.linalg.cond(v, 1) > 1 / np.finfo(float).eps:
        return None
    a = gt.att[pre]
    w_stat = float(a @ np.linalg.solve(v, a))
    return PretrendTest(statistic=w_stat, df=int(pre.size), p_value=float(stats.chi2.sf(w_stat, pre.size)))


# --------------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallawaySantAnna:
    """Estimator object: options validated at construction, `fit(panel)` returns a `CSResult`.

    `bootstrap` = number of multiplier-bootstrap draws for standard errors (None/0: analytic SEs). Uniform
    event-study bands always use `band_draws` multiplier-bootstrap draws. `randomization` = number of
    cohort permutations for randomisation inference on the overall ATT (0: none).
    """

    control: Control = "never"
    estimation: Estimation = "dr"
    anticipation: float = 0
    bootstrap: int | None = None
    band_draws: int = 999
    randomization: int = 0
    alpha: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("control", self.control, Control)
        check_choice("estimation", self.estimation, Estimation)
        if self.anticipation < 0:
            raise EngineInputError("anticipation must be >= 0.")
        if self.bootstrap is not None and self.bootstrap < 0:
            raise EngineInputError("bootstrap must be a non-negative number of draws.")
        if not 0 < self.alpha < 1:
            raise EngineInputError("alpha must be strictly between 0 and 1.")

    def fit(self, panel: Panel) -> CSResult:
        unit_clusters = np.array_equal(panel.cluster, np.arange(panel.n_units))
        gt = compute_att_gt(
            panel.y,
            panel.times,
            panel.cohort,
            covariates=panel.covariates,
            weights=panel.weights,
            cluster=None if unit_clusters else panel.cluster,
            control=self.control,
            estimation=self.estimation,
            anticipation=self.anticipation,
        )
        cluster = _recode(panel.cluster[gt.kept_units])
        n = gt.n_units
        aggs = {k: aggregate(gt, k) for k in AGGREGATIONS}
        inf = gt.influence
        overall_w = np.column_stack([aggs[k].overall_weights for k in AGGREGATIONS])
        overall_k = np.column_stack([aggs[k].overall_wif_kappa for k in AGGREGATIONS])
        blocks = [inf, aggs["dynamic"].influence(gt), aggs["group"].influence(gt), aggs["calendar"].influence(gt),
                  inf.combine(overall_w, overall_k)]
        if self.bootstrap:
            mb = multiplier_bootstrap(blocks, None, n_units=n, n_boot=self.bootstrap, seed=self.seed,
                                      alpha=self.alpha, n_clusters=inf.n_clusters)
            ses = list(mb.se)
            crit = mb.crit[1]
            method = f"multiplier bootstrap ({self.bootstrap} Rademacher draws, clustered by {panel.cluster_name})"
        else:
            ses = [influence_standard_errors(b, n) for b in blocks]
            crit = float("nan")
            if self.band_draws:
                mb = multiplier_bootstrap([blocks[1]], None, n_units=n, n_boot=self.band_draws, seed=self.seed,
                                          alpha=self.alpha, n_clusters=inf.n_clusters)
                crit = mb.crit[0]
            method = f"analytic influence-function SEs clustered by {panel.cluster_name}"
        z = stats.norm.ppf(1 - self.alpha / 2)
        has_band = bool(self.bootstrap or self.band_draws)
        if has_band and (not np.isfinite(crit) or crit < z):
            crit = z

        def est(a: float, s: float) -> Estimate:
            lo, hi, p = normal_ci(a, s, self.alpha)
            return Estimate(float(a), float(s), lo, hi, p)

        overall = {k: est(aggs[k].overall_att, ses[4][i]) for i, k in enumerate(AGGREGATIONS)}

        def effects(labels, atts, se, field: str, uniform: float | None = None, post=None):
            out = []
            for i, (lab, a, s) in enumerate(zip(labels, atts, se, strict=True)):
                lo, hi, p = normal_ci(a, s, self.alpha)
                kw = {field: lab} if field != "gt" else {"cohort": lab[0], "time": lab[1]}
                if uniform is not None and np.isfinite(s):
                    kw.update(ci_low_uniform=a - uniform * s, ci_high_uniform=a + uniform * s)
                if post is not None:
                    kw["post"] = bool(post[i])
                out.append(Effect(estimate=float(a), se=float(s), ci_low=lo, ci_high=hi, p_value=p, **kw))
            return tuple(out)

        tl = panel.time_labels[np.isin(panel.times, gt.period_values)]
        to_label = dict(zip(gt.period_values.tolist(), tl.tolist(), strict=True))

        def lab(v: float):
            return to_label.get(v, v)

        gt_rows = effects([(lab(g), lab(t)) for g, t in zip(gt.groups, gt.times, strict=True)], gt.att, ses[0],
                          "gt", post=gt.post)
        dyn = aggs["dynamic"]
        es_rows = effects(dyn.labels, dyn.att, ses[1], "relative_period", uniform=crit if has_band else None)
        grp = aggs["group"]
        grp_rows = effects([lab(c) for c in grp.labels], grp.att, ses[2], "cohort")
        cal = aggs["calendar"]
        cal_rows = effects([lab(t) for t in cal.labels], cal.att, ses[3], "time")

        notes = list(gt.warnings)
        treated_units = gt.unit_cohort > 0
        n_clusters = int(cluster.max()) + 1
        n_treated_clusters = int(np.unique(cluster[treated_units]).size)
        fragile = fragility_warning(n_treated_clusters)
        if fragile:
            notes.append(fragile)
        ri_p = None
        if self.randomization:
            ri_p = self._randomization(panel, gt, aggs["simple"].overall_att)
        info = InferenceInfo(
            method=method,
            cluster=panel.cluster_name,
            n_clusters=n_clusters,
            n_treated_clusters=n_treated_clusters,
            alpha=self.alpha,
            n_boot=(self.bootstrap or self.band_draws) or None,
            seed=self.seed,
            randomization_p_value=None if ri_p is None else ri_p.p_value,
            randomization_permutations=None if ri_p is None else ri_p.n_permutations,
            fragile=fragile is not None,
        )
        pre = pretrend_test(gt)
        if pre is not None and pre.p_value < 0.05:
            notes.append(
                f"Pre-trend test rejects parallel pre-trends (p = {pre.p_value:.3f}): treat the estimates with caution."
            )
        return CSResult(
            outcome=panel.outcome,
            n_units=panel.n_units,
            n_periods=panel.n_periods,
            n_obs=panel.n_obs,
            control=self.control,
            estimation=self.estimation,
            anticipation=self.anticipation,
            att=overall["simple"],
            group_time=gt_rows,
            event_study=es_rows,
            groups=grp_rows,
            calendar=cal_rows,
            dynamic_att=overall["dynamic"],
            group_att=overall["group"],
            calendar_att=overall["calendar"],
            pretrend=pre,
            inference=info,
            uniform_crit=float(crit),
            warnings=tuple(notes),
        )

    def _randomization(self, panel: Panel, gt: GroupTime, observed: float):
        """Permute cohorts across units and recompute the simple ATT (point estimate only)."""
        mask = gt.kept_units

        def stat(perm: np.ndarray) -> float:
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore")
                g2 = compute_att_gt(
                    panel.y[mask], panel.times, perm,
                    covariates=None if panel.covariates is None else panel.covariates[mask],
                    weights=None if panel.weights is None else panel.weights[mask],
                    control=self.control, estimation=self.estimation, anticipation=self.anticipation,
                )
                return aggregate(g2, "simple").overall_att

        return randomization_inference(stat, panel.cohort[mask], observed=observed,
                                       n_permutations=self.randomization, seed=self.seed)


def _recode(codes: np.ndarray) -> np.ndarray:
    return np.unique(codes, return_inverse=True)[1]


@checked_options("Callaway–Sant'Anna")
def callaway_santanna(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    treatment: str | None = None,
    control: Control = "never",
    estimation: Estimation = "dr",
    covariates: Sequence[str] = (),
    anticipation: float = 0,
    cluster: str | None = None,
    weights: str | None = None,
    bootstrap: int | None = None,
    band_draws: int = 999,
    randomization: int = 0,
    alpha: float = 0.05,
    seed: int = 0,
) -> CSResult:
    """Callaway & Sant'Anna (2021) from a long data frame (one row per unit and period).

    `bootstrap`: multiplier-bootstrap draws for all SEs (None: analytic); `band_draws`: draws for the uniform
    event-study band when SEs are analytic (0: no uniform band); `randomization`: cohort permutations.
    """
    estimator = CallawaySantAnna(control=control, estimation=estimation, anticipation=anticipation,
                                 bootstrap=bootstrap, band_draws=band_draws, randomization=randomization,
                                 alpha=alpha, seed=seed)
    panel = build_panel(data, outcome=outcome, unit=unit, time=time, cohort=cohort, treatment=treatment,
                        covariates=covariates, weights=weights, cluster=cluster, require_balanced=True)
    return estimator.fit(panel)
