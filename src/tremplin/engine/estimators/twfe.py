"""Two-way fixed effects DiD and the canonical 2x2 DiD, with CR1 / wild-bootstrap / randomisation inference.

TWFE: y_it = a_i + l_t + beta * D_it + x_it' g + e_it (optionally weighted), fixed effects projected out by
exact two-way demeaning (alternating projections; one sweep is exact on balanced unweighted panels).
2x2 DiD: y = b0 + b1 treated + b2 post + beta treated*post (+ x'g), for a single adoption date; with
several adoption dates, the stacked 2x2 DiD (one clean sub-experiment per cohort, Cengiz et al. 2019).
Standard errors are CR1 clustered by unit (or `cluster`), with pyfixest's small-sample factor (see
`tremplin.engine.inference`). Under staggered adoption TWFE also reports the Goodman-Bacon decomposition
and warns, pointing to Callaway–Sant'Anna, when the effects appear to change over time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import sparse, stats

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.bacon import bacon_decomposition
from tremplin.engine.estimators.panel_input import build_panel
from tremplin.engine.estimators.results import Estimate, InferenceInfo, TWFEResult
from tremplin.engine.estimators.staggered import CallawaySantAnna
from tremplin.engine.inference import (
    cr1_vcov,
    fragility_warning,
    normal_ci,
    randomization_inference,
    wild_cluster_bootstrap,
)
from tremplin.engine.options import TwfeMethod, WildWeights, check_choice, checked_options

__all__ = ["TwoWayFE", "demean_two_way", "did_2x2", "fit_did_stacked", "fit_twfe", "twfe"]



# --------------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------------


def demean_two_way(
    values: np.ndarray,
    unit: np.ndarray,
    time: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> np.ndarray:
    """Residuals of `values` (n x m) on unit and time dummies (weighted), by alternating projections."""
    v = np.array(values, dtype=float, copy=True)
    squeeze = v.ndim == 1
    if squeeze:
        v = v[:, None]
    n = v.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    projections = []
    for codes in (unit, time):
        m = int(codes.max()) + 1
        tot = np.bincount(codes, weights=w, minlength=m)
        # weighted group-mean operator: means = (A @ v) with A[g, i] = w_i / W_g
        a = sparse.csr_matrix((w / tot[codes], (codes, np.arange(n))), shape=(m, n))
        projections.append((codes, a))
    scale = np.maximum(np.abs(v).max(axis=0), 1.0)
    for _ in range(max_iter):
        change = np.zeros(v.shape[1])
        for codes, a in projections:
            means = np.asarray(a @ v)
            v -= means[codes]
            change = np.maximum(change, np.abs(means).max(axis=0))
        if np.max(change / scale) < tol:
            break
    return v[:, 0] if squeeze else v


@dataclass(frozen=True)
class RegressionFit:
    coef: np.ndarray
    vcov: np.ndarray
    names: tuple[str, ...]
    n_clusters: int
    resid: np.ndarray
    x: np.ndarray
    y: np.ndarray
    df_k: int


def fit_twfe(
    y: np.ndarray,
    d: np.ndarray,
    unit: np.ndarray,
    time: np.ndarray,
    cluster: np.ndarray,
    *,
    covariates: np.ndarray | None = None,
    covariate_names: Sequence[str] = (),
    weights: np.ndarray | None = None,
) -> RegressionFit:
    """TWFE regression of y on D (+ covariates) with unit and time fixed effects; CR1 vcov."""
    cols = [d] if covariates is None else [d, *np.asarray(covariates, dtype=float).T]
    x_raw = np.column_stack(cols)
    z = demean_two_way(np.column_stack([y, x_raw]), unit, time, weights)
    yd, xd = z[:, 0], z[:, 1:]
    w = np.ones(len(y)) if weights is None else weights
    xtwx = (xd * w[:, None]).T @ xd
    if np.linalg.matrix_rank(xtwx) < xtwx.shape[0]:
        raise EngineInputError(
            "The treatment (or a covariate) is collinear with the unit and time fixed effects: it must vary "
            "within units over time."
        )
    bread = np.linalg.inv(xtwx)
    coef = bread @ ((xd * w[:, None]).T @ yd)
    resid = yd - xd @ coef
    df_k = xd.shape[1] + int(time.max()) + 1  # pyfixest: unit FE nested in clusters count 1, time FE count T-1+1
    cv = cr1_vcov(xd, resid, cluster, bread=bread, weights=None if weights is None else w, df_k=df_k)
    return RegressionFit(coef, cv.vcov, ("treatment", *covariate_names), cv.n_clusters, resid, xd, yd, df_k)


def fit_did_2x2(
    y: np.ndarray,
    treated: np.ndarray,
    post: np.ndarray,
    cluster: np.ndarray,
    *,
    covariates: np.ndarray | None = None,
    covariate_names: Sequence[str] = (),
    weights: np.ndarray | None = None,
) -> RegressionFit:
    """OLS of y on 1, treated, post, treated*post (+ covariates); CR1 vcov (k = number of columns)."""
    cols = [np.ones(len(y)), treated, post, treated * post]
    if covariates is not None:
        cols += list(np.asarray(covariates, dtype=float).T)
    names = ("intercept", "treated", "post", "treatment", *covariate_names)
    return _ols_cr1(np.column_stack(cols), y, cluster, weights, names,
                    "The 2x2 DiD design is singular (no pre or no post period, or collinear covariates).")


def _ols_cr1(x: np.ndarray, y: np.ndarray, cluster: np.ndarray, weights: np.ndarray | None,
             names: tuple[str, ...], singular: str) -> RegressionFit:
    """(Weighted) OLS with CR1 clustered covariance; `singular` is the error when X'WX is rank deficient."""
    w = np.ones(len(y)) if weights is None else weights
    xtwx = (x * w[:, None]).T @ x
    if np.linalg.matrix_rank(xtwx) < xtwx.shape[0]:
        raise EngineInputError(singular)
    bread = np.linalg.inv(xtwx)
    coef = bread @ ((x * w[:, None]).T @ y)
    resid = y - x @ coef
    cv = cr1_vcov(x, resid, cluster, bread=bread, weights=None if weights is None else w)
    return RegressionFit(coef, cv.vcov, names, cv.n_clusters, resid, x, y, x.shape[1])


def fit_did_stacked(
    y: np.ndarray,
    stack: np.ndarray,
    treated: np.ndarray,
    post: np.ndarray,
    cluster: np.ndarray,
    *,
    covariates: np.ndarray | None = None,
    covariate_names: Sequence[str] = (),
    weights: np.ndarray | None = None,
) -> RegressionFit:
    """Stacked 2x2 DiD (Cengiz, Dube, Lindner & Zipperer 2019): one sub-experiment per cohort (the cohort and
    the never-treated units), stacked; OLS of y on stack-specific intercepts, treated and post dummies and one
    common treated*post coefficient (column 0). CR1 by `cluster` (units repeated across stacks stay one
    cluster)."""
    stacks = np.unique(stack)
    cols = [treated * post]
    for s in stacks:
        in_s = (stack == s).astype(float)
        cols += [in_s, in_s * treated, in_s * post]
    if covariates is not None:
        cols += list(np.asarray(covariates, dtype=float).T)
    names = ("treatment", *[f"{kind}[{s:g}]" for s in stacks for kind in ("intercept", "treated", "post")],
             *covariate_names)
    return _ols_cr1(np.column_stack(cols), y, cluster, weights, names,
                    "The stacked DiD design is singular (a cohort without pre or post periods, or collinear "
                    "covariates).")


def _stacked(g_obs, t_obs, never_obs, yv, cl, xv, wv, cohorts, covariate_names=()):
    """Stack the observations of each cohort with the never-treated ones; returns (fit, row index)."""
    rows, stack_ids = [], []
    for c in cohorts:
        keep = np.flatnonzero((g_obs == c) | never_obs)
        rows.append(keep)
        stack_ids.append(np.full(keep.size, c, dtype=float))
    r = np.concatenate(rows)
    sv = np.concatenate(stack_ids)
    treated = (g_obs[r] == sv).astype(float)
    post = (t_obs[r] >= sv).astype(float)
    fit = fit_did_stacked(yv[r], sv, treated, post, cl[r], covariates=None if xv is None else xv[r],
                          covariate_names=covariate_names, weights=None if wv is None else wv[r])
    return fit, r


# --------------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwoWayFE:
    """TWFE ("twfe") or canonical 2x2 ("did") estimator; `fit(data, ...)` returns a `TWFEResult`.

    `bootstrap`: wild cluster bootstrap draws (restricted, null imposed) for the treatment coefficient,
    with `wild_weights` "rademacher" or "webb"; `randomization`: permutations of cohorts across units.
    """

    method: TwfeMethod = "twfe"
    bootstrap: int | None = None
    wild_weights: WildWeights = "rademacher"
    randomization: int = 0
    alpha: float = 0.05
    seed: int = 0
    bacon: bool = True

    def __post_init__(self) -> None:
        check_choice("method", self.method, TwfeMethod)
        check_choice("wild_weights", self.wild_weights, WildWeights)
        if not 0 < self.alpha < 1:
            raise EngineInputError("alpha must be strictly between 0 and 1.")

    def fit(
        self,
        data: pd.DataFrame,
        *,
        outcome: str,
        unit: str,
        time: str,
        cohort: str | None = None,
        treatment: str | None = None,
        covariates: Sequence[str] = (),
        weights: str | None = None,
        cluster: str | None = None,
    ) -> TWFEResult:
        covariates = tuple(covariates or ())
        panel = build_panel(data, outcome=outcome, unit=unit, time=time, cohort=cohort, treatment=treatment,
                            covariates=covariates, weights=weights, cluster=cluster, require_balanced=False)
        obs = np.isfinite(panel.y)
        ui, ti = np.nonzero(obs)
        yv = panel.y[ui, ti]
        g = panel.cohort
        if treatment is not None:
            frame = data.loc[data[outcome].notna()]
            d_long = pd.Series(frame[treatment].to_numpy(float),
                               index=pd.MultiIndex.from_arrays([frame[unit].to_numpy(), frame[time].to_numpy()]))
            key = pd.MultiIndex.from_arrays([panel.unit_labels[ui], panel.time_labels[ti]])
            dv = d_long.reindex(key).to_numpy()
        else:
            dv = ((g[ui] > 0) & (panel.times[ti] >= g[ui])).astype(float)
        xv = None if panel.covariates is None else panel.covariates[ui, ti, :]
        wv = None if panel.weights is None else panel.weights[ui]
        cl = panel.cluster[ui]

        treated_units = np.zeros(panel.n_units, dtype=bool)
        np.logical_or.at(treated_units, ui, dv > 0)
        if not treated_units.any():
            raise EngineInputError("No treated unit: the treatment is never on, so there is nothing to estimate.")
        first_on = np.full(panel.n_units, np.inf)
        np.minimum.at(first_on, ui, np.where(dv > 0, panel.times[ti], np.inf))
        if treated_units.all() and np.unique(first_on).size == 1:
            raise EngineInputError(
                "No control units: every unit is treated and all start at the same period, so there is no "
                "comparison group."
            )

        notes: list[str] = []
        if self.method == "did":
            cohorts = np.unique(g[(g > 0) & (g <= panel.times.max())])
            if cohorts.size == 0:
                raise EngineInputError("No treated unit with a start inside the panel: nothing to estimate.")
            never = (g == 0) | (g > panel.times.max())
            if not never.any():
                raise EngineInputError("No control units: the 2x2 DiD needs never-treated units.")
            if treatment is not None and cohorts.size > 1:
                raise EngineInputError("The stacked DiD for several adoption dates needs `cohort`, not `treatment`.")
            if cohorts.size == 1:
                treated = (g[ui] == cohorts[0]).astype(float)
                post = (panel.times[ti] >= cohorts[0]).astype(float)
                fit = fit_did_2x2(yv, treated, post, cl, covariates=xv, covariate_names=covariates, weights=wv)
                coef_idx = 3
            else:
                # staggered adoption: stack one clean 2x2 per cohort (the cohort against never-treated units)
                fit, r = _stacked(g[ui], panel.times[ti], never[ui], yv, cl, xv, wv, cohorts, covariates)
                ui, ti, yv, cl = ui[r], ti[r], yv[r], cl[r]
                xv = None if xv is None else xv[r]
                wv = None if wv is None else wv[r]
                coef_idx = 0
                notes.append(
                    f"{cohorts.size} adoption dates: stacked 2x2 DiD (each cohort against the never-treated "
                    "units, Cengiz et al. 2019); the common coefficient weights cohorts by their treatment "
                    "variance, not their size. Use `method=\"cs\"` for cohort-size weights and event-time effects."
                )

            def demean(v):
                return v  # no fixed effects
        else:
            fit = fit_twfe(yv, dv, ui, ti, cl, covariates=xv, covariate_names=covariates, weights=wv)
            coef_idx = 0

            def demean(v):
                return demean_two_way(v, ui, ti, wv)

        beta = float(fit.coef[coef_idx])
        se = float(np.sqrt(fit.vcov[coef_idx, coef_idx]))
        # t-based inference with G-1 degrees of freedom, as pyfixest/fixest do for CR1
        dof = fit.n_clusters - 1
        tcrit = stats.t.ppf(1 - self.alpha / 2, dof)
        p = float(2 * stats.t.sf(abs(beta / se), dof)) if se > 0 else float("nan")
        att = Estimate(beta, se, beta - tcrit * se, beta + tcrit * se, p)
        coefs = {}
        for j, name in enumerate(fit.names):
            s = float(np.sqrt(fit.vcov[j, j]))
            lo, hi, pj = normal_ci(float(fit.coef[j]), s, self.alpha)
            coefs[name] = Estimate(float(fit.coef[j]), s, lo, hi, pj)
        coefs["treatment"] = att

        n_treated_clusters = int(np.unique(panel.cluster[treated_units]).size)
        fragile = fragility_warning(n_treated_clusters)
        if fragile:
            notes.append(fragile)

        wild = None
        if self.bootstrap:
            if wv is not None:
                raise EngineInputError("The wild cluster bootstrap is not available with weights; drop `weights`.")
            fe = {"unit": ui, "time": ti} if self.method == "twfe" else {"demean": demean}
            wild = wild_cluster_bootstrap(fit.x, fit.y, cl, coef=coef_idx, **fe, n_boot=self.bootstrap,
                                          weights=self.wild_weights, seed=self.seed, df_k=fit.df_k)
        ri = None
        if self.randomization:
            ri = self._randomization(panel, ui, ti, yv, xv, wv, cl, beta)

        bacon = None
        if self.method == "twfe" and self.bacon and panel.balanced and panel.covariates is None \
                and panel.weights is None and treatment is None:
            staggered = np.unique(g[(g > panel.times[0]) & (g <= panel.times.max())]).size >= 2
            if staggered:
                bacon = bacon_decomposition(panel.y, panel.times, g)
                warning = self._staggered_warning(panel, beta, bacon)
                if warning:
                    notes.append(warning)

        info = InferenceInfo(
            method=f"CR1 cluster-robust SE (pyfixest small-sample convention), t({dof}) intervals",
            cluster=panel.cluster_name,
            n_clusters=fit.n_clusters,
            n_treated_clusters=n_treated_clusters,
            alpha=self.alpha,
            n_boot=None if wild is None else wild.n_boot,
            seed=self.seed,
            wild_bootstrap_p_value=None if wild is None else wild.p_value,
            wild_bootstrap_weights=None if wild is None else wild.weights,
            randomization_p_value=None if ri is None else ri.p_value,
            randomization_permutations=None if ri is None else ri.n_permutations,
            fragile=fragile is not None,
        )
        return TWFEResult(
            method=self.method,
            outcome=outcome,
            n_units=panel.n_units,
            n_periods=panel.n_periods,
            n_obs=panel.n_obs,
            att=att,
            coefficients=coefs,
            inference=info,
            bacon=bacon,
            warnings=tuple(notes),
        )

    def _staggered_warning(self, panel, beta: float, bacon) -> str | None:
        """Warn when TWFE mixes in already-treated controls and the effects appear to vary over time."""
        if bacon.forbidden_weight <= 0.01:
            return None
        try:
            has_never = bool(((panel.cohort == 0) | (panel.cohort > panel.times.max())).any())
            unit_panel = replace(panel, cluster=np.arange(panel.n_units), cluster_labels=panel.unit_labels)
            cs = CallawaySantAnna(control="never" if has_never else "not-yet", estimation="unconditional",
                                  band_draws=0, seed=self.seed).fit(unit_panel)
        except EngineInputError:
            return None
        post = [e for e in cs.event_study if e.relative_period >= 0 and np.isfinite(e.se)]
        dynamic = False
        if len(post) >= 2:
            est = np.array([e.estimate for e in post])
            se = np.array([e.se for e in post])
            dynamic = bool(np.ptp(est) > 2 * np.sqrt(np.min(se) ** 2 + np.max(se) ** 2))
        diff = abs(beta - cs.att.estimate) > 2 * cs.att.se
        if not (dynamic or diff):
            return None
        return (
            f"Staggered adoption with effects that change over time: TWFE ({beta:.4g}) gives "
            f"{bacon.forbidden_weight:.0%} of its weight to comparisons that use already-treated units as controls "
            f"and can be badly biased. Callaway–Sant'Anna gives an overall ATT of {cs.att.estimate:.4g} "
            f"(SE {cs.att.se:.3g}); use `method=\"cs\"`."
        )

    def _randomization(self, panel, ui, ti, yv, xv, wv, cl, observed: float):
        g_units = panel.cohort

        def stat(perm: np.ndarray) -> float:
            d = ((perm[ui] > 0) & (panel.times[ti] >= perm[ui])).astype(float)
            if self.method == "did":
                c = np.unique(perm[(perm > 0) & (perm <= panel.times.max())])
                if c.size > 1:
                    never = (perm == 0) | (perm > panel.times.max())
                    return float(_stacked(perm[ui], panel.times[ti], never[ui], yv, cl, xv, wv, c)[0].coef[0])
                tr = (perm[ui] == c[0]).astype(float)
                po = (panel.times[ti] >= c[0]).astype(float)
                return float(fit_did_2x2(yv, tr, po, cl, covariates=xv, weights=wv).coef[3])
            return float(fit_twfe(yv, d, ui, ti, cl, covariates=xv, weights=wv).coef[0])

        return randomization_inference(stat, g_units, observed=observed, n_permutations=self.randomization,
                                       seed=self.seed)


@checked_options("TWFE")
def twfe(data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str | None = None,
         treatment: str | None = None, covariates: Sequence[str] = (), weights: str | None = None,
         cluster: str | None = None, bootstrap: int | None = None, wild_weights: WildWeights = "rademacher",
         randomization: int = 0, alpha: float = 0.05, seed: int = 0) -> TWFEResult:
    """Two-way fixed effects DiD (unit and time FE) from a long data frame."""
    return TwoWayFE("twfe", bootstrap, wild_weights, randomization, alpha, seed).fit(
        data, outcome=outcome, unit=unit, time=time, cohort=cohort, treatment=treatment, covariates=covariates,
        weights=weights, cluster=cluster)


@checked_options("2x2 DiD")
def did_2x2(data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str | None = None,
            treatment: str | None = None, covariates: Sequence[str] = (), weights: str | None = None,
            cluster: str | None = None, bootstrap: int | None = None, wild_weights: WildWeights = "rademacher",
            randomization: int = 0, alpha: float = 0.05, seed: int = 0) -> TWFEResult:
    """Canonical 2x2 DiD (treated x post) for a single adoption date, from a long data frame."""
    return TwoWayFE("did", bootstrap, wild_weights, randomization, alpha, seed).fit(
        data, outcome=outcome, unit=unit, time=time, cohort=cohort, treatment=treatment, covariates=covariates,
        weights=weights, cluster=cluster)
