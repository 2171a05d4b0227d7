"""Power and duration for difference-in-differences designs on territory panels.

Analytical minimum detectable effect (MDE)
-------------------------------------------
Units (territories) are randomised or selected into treatment as a block (``n_treated`` of
``n_units``); each is observed ``m`` periods before and ``r`` periods after the start. With
unit and period fixed effects the DiD estimate is the treated-minus-control difference of the unit
contrasts d_i = mean(post) - mean(pre), so, with independent units sharing the within-unit
covariance sigma^2 R,

    Var(tau_hat) = deff * sigma^2 * c'Rc * (1/n_T + 1/n_C),   c = (-1/m, ..., -1/m, 1/r, ..., 1/r)

    MDE = (q_{1-alpha/2} + q_{power}) * sqrt(Var(tau_hat))            (Bloom 1995, 2005)

with q the t(G-1) quantiles (G clusters; ``inference="normal"`` uses z). For equicorrelated errors
(correlation rho between any two periods of a unit) c'Rc = (1+(m-1)rho)/m + (1+(r-1)rho)/r - 2 rho,
the serial-correlation adjustment of Frison & Pocock (1992) and McKenzie (2012, J. Dev. Econ. 99,
eq. for the DiD estimator); for AR(1) errors (R_st = phi^|s-t|, the default, as in Burlig, Preonas
& Woerman 2020) c'Rc is computed exactly. ``deff = 1 + (cluster_size - 1) * icc`` is Bloom's design
effect when treatment is assigned to groups of ``cluster_size`` units. Relative effects are fractions
of ``baseline_mean`` (-0.10 = a 10 % reduction).

Simulation-based power
----------------------
`simulate_power` draws placebo assignments (random treated units, random windows of m + r periods)
on a real panel, injects the effect, and tests it with TWFE DiD and CR1 cluster-robust SEs (pyfixest's
default small-sample convention: G/(G-1) * (n-1)/(n-k) with k = 1 + number of periods, since unit
effects nested in the clusters are not counted; t(G-1) critical values). The balanced-block design makes TWFE equal to a two-group comparison of unit contrasts, so all
simulations are computed at once in NumPy.

`months_required` answers "how many months of follow-up to detect this effect with this power?".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.panel_input import require_role_columns, wide_panel
from tremplin.engine.options import Correlation, Inference, check_choice

__all__ = [
    "Baseline",
    "Correlation",
    "DurationResult",
    "MDEResult",
    "SimulationResult",
    "TWFEResult",
    "baseline_from_panel",
    "did_variance_factor",
    "mde_did",
    "months_required",
    "power_did",
    "simulate_power",
    "twfe_did",
]



# --------------------------------------------------------------------------------------------------
# Closed forms
# --------------------------------------------------------------------------------------------------


def _block_mean_var_ar1(length: int, phi: float) -> float:
    """Var of the mean of ``length`` consecutive AR(1) terms with unit variance."""
    h = np.arange(1, length)
    return float((length + 2.0 * np.sum((length - h) * phi**h)) / length**2)


def did_variance_factor(pre_periods: int, post_periods: int, rho: float, correlation: Correlation = "ar1") -> float:
    """c'Rc: variance of mean(post) - mean(pre) for a unit-variance series with correlation R."""
    m, r = int(pre_periods), int(post_periods)
    if m < 1 or r < 1:
        raise EngineInputError("pre_periods and post_periods must be at least 1.")
    if correlation == "equicorrelated":
        return (1 + (m - 1) * rho) / m + (1 + (r - 1) * rho) / r - 2 * rho
    phi = rho
    if phi == 0:
        return 1.0 / m + 1.0 / r
    geo = lambda n: (1 - phi**n) / (1 - phi)  # noqa: E731
    cov = phi * geo(m) * geo(r) / (m * r)
    return _block_mean_var_ar1(m, phi) + _block_mean_var_ar1(r, phi) - 2.0 * cov


def _check_common(
    n_units: int,
    n_treated: int,
    alpha: float,
    power: float,
    cluster_size: float,
    icc: float,
    rho: float,
    correlation: str,
    inference: str,
) -> None:
    check_choice("correlation", correlation, Correlation)
    check_choice("inference", inference, Inference)
    if n_units < 3 or not 1 <= n_treated < n_units:
        raise EngineInputError(
            f"Need at least 3 units and 1 <= n_treated < n_units; got n_units={n_units}, n_treated={n_treated}."
        )
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise EngineInputError("alpha and power must be strictly between 0 and 1.")
    if cluster_size < 1 or not 0 <= icc < 1:
        raise EngineInputError("cluster_size must be >= 1 and icc in [0, 1).")
    lo = -0.99 if correlation == "ar1" else 0.0
    if not lo <= rho < 1:
        raise EngineInputError(f"The serial correlation must be in [{lo}, 1); got {rho}.")


def _quantiles(alpha: float, power: float, df: float, inference: str) -> tuple[float, float]:
    dist = stats.t(df) if inference == "t" else stats.norm()
    return float(dist.ppf(1 - alpha / 2)), float(dist.ppf(power))


@dataclass(frozen=True)
class MDEResult:
    """Analytical MDE of a DiD design (absolute units of the outcome)."""

    mde: float
    se: float
    multiplier: float
    variance_factor: float
    design_effect: float
    df: float
    assumptions: dict[str, Any]


def mde_did(
    *,
    n_units: int,
    n_treated: int,
    pre_periods: int,
    post_periods: int,
    sd: float,
    rho: float = 0.0,
    correlation: Correlation = "ar1",
    alpha: float = 0.05,
    power: float = 0.8,
    cluster_size: float = 1.0,
    icc: float = 0.0,
    inference: Inference = "t",
) -> MDEResult:
    """Minimum detectable effect (two-sided test) of a block DiD design; see the module docstring."""
    _check_common(n_units, n_treated, alpha, power, cluster_size, icc, rho, correlation, inference)
    if not sd > 0:
        raise EngineInputError("sd (standard deviation of the outcome's residual) must be positive.")
    factor = did_variance_factor(pre_periods, post_periods, rho, correlation)
    deff = 1.0 + (cluster_size - 1.0) * icc
    n_c = n_units - n_treated
    se = sd * math.sqrt(deff * factor * (1.0 / n_treated + 1.0 / n_c))
    G = n_units / cluster_size
    df = max(G - 1.0, 1.0)
    q_a, q_p = _quantiles(alpha, power, df, inference)
    return MDEResult(
        mde=(q_a + q_p) * se,
        se=se,
        multiplier=q_a + q_p,
        variance_factor=factor,
        design_effect=deff,
        df=df,
        assumptions={
            "formula": "Bloom (1995) MDE = (q_{1-a/2} + q_power) * SE; SE^2 = deff * sd^2 * c'Rc * "
            "(1/n_T + 1/n_C); c'Rc from Frison & Pocock (1992) / McKenzie (2012)",
            "n_units": n_units,
            "n_treated": n_treated,
            "pre_periods": pre_periods,
            "post_periods": post_periods,
            "sd": sd,
            "rho": rho,
            "correlation": correlation,
            "alpha": alpha,
            "power": power,
            "cluster_size": cluster_size,
            "icc": icc,
            "inference": inference,
            "df": df,
        },
    )


def power_did(
    effect: float, se: float, *, alpha: float = 0.05, df: float = math.inf, inference: Inference = "t"
) -> float:
    """Power of the two-sided test to detect ``effect`` (absolute) when the estimator's SE is ``se``."""
    dist = stats.t(df) if inference == "t" and math.isfinite(df) else stats.norm()
    crit = float(dist.ppf(1 - alpha / 2))
    delta = abs(effect) / se
    return float(dist.sf(crit - delta) + dist.cdf(-crit - delta))


@dataclass(frozen=True)
class DurationResult:
    """Answer of `months_required`.

    ``months_required`` is the shortest follow-up (in periods) reaching the target power, or None if not
    reachable within ``max_months``. ``mde``/``power`` are evaluated at ``evaluated_months``: the planned
    follow-up when given, otherwise ``months_required`` (or ``max_months`` when unreachable).
    """

    months_required: int | None
    mde: float  # absolute
    mde_relative: float | None  # as a fraction of the baseline mean
    power: float
    evaluated_months: int
    sufficient: bool | None  # planned_months >= months_required (None without a plan)
    effect: float  # absolute effect tested
    assumptions: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def months_required(
    *,
    n_units: int,
    n_treated: int,
    baseline_mean: float,
    sd: float,
    autocorrelation: float = 0.0,
    effect: float = -0.10,
    relative: bool = True,
    power: float = 0.8,
    alpha: float = 0.05,
    pre_months: int = 12,
    max_months: int = 120,
    planned_months: int | None = None,
    correlation: Correlation = "ar1",
    cluster_size: float = 1.0,
    icc: float = 0.0,
    inference: Inference = "t",
) -> DurationResult:
    """Months of follow-up needed to detect ``effect`` with ``power`` in a DiD on ``n_units`` territories.

    ``effect`` is a fraction of ``baseline_mean`` when ``relative`` (default: -0.10, a 10 % drop),
    otherwise in outcome units. ``sd`` and ``autocorrelation`` describe a territory's monthly outcome
    around its own mean and the common monthly means (see `baseline_from_panel`). ``planned_months``
    (e.g. the authorisation's remaining follow-up) is evaluated too and flagged ``sufficient``.
    """
    if relative and not baseline_mean:
        raise EngineInputError("A relative effect needs a non-zero baseline_mean.")
    if effect == 0:
        raise EngineInputError("effect must be non-zero.")
    if pre_months < 1 or max_months < 1:
        raise EngineInputError("pre_months and max_months must be at least 1.")
    if planned_months is not None and planned_months < 1:
        raise EngineInputError("planned_months must be at least 1.")
    abs_effect = effect * baseline_mean if relative else effect
    common = {
        "n_units": n_units,
        "n_treated": n_treated,
        "pre_periods": pre_months,
        "sd": sd,
        "rho": autocorrelation,
        "correlation": correlation,
        "alpha": alpha,
        "power": power,
        "cluster_size": cluster_size,
        "icc": icc,
        "inference": inference,
    }

    def at(months: int) -> MDEResult:
        return mde_did(post_periods=months, **common)

    # MDE decreases with follow-up: bisection on months
    needed: int | None = None
    if at(max_months).mde <= abs(abs_effect):
        lo, hi = 1, max_months
        if at(1).mde <= abs(abs_effect):
            hi = 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if at(mid).mde <= abs(abs_effect):
                hi = mid
            else:
                lo = mid
        needed = hi
    evaluated = planned_months if planned_months is not None else (needed or max_months)
    res = at(evaluated)
    pw = power_did(abs_effect, res.se, alpha=alpha, df=res.df, inference=inference)
    assumptions = dict(res.assumptions)
    assumptions.pop("post_periods", None)
    assumptions.update(
        {
            "baseline_mean": baseline_mean,
            "effect": effect,
            "relative": relative,
            "pre_months": pre_months,
            "max_months": max_months,
            "planned_months": planned_months,
            "target_power": power,
        }
    )
    return DurationResult(
        months_required=needed,
        mde=res.mde,
        mde_relative=res.mde / abs(baseline_mean) if baseline_mean else None,
        power=pw,
        evaluated_months=int(evaluated),
        sufficient=None if planned_months is None else (needed is not None and planned_months >= needed),
        effect=abs_effect,
        assumptions=assumptions,
    )


# --------------------------------------------------------------------------------------------------
# Baseline from a real panel
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """Outcome features of a panel used by the analytical formulas."""

    n_units: int
    n_periods: int
    baseline_mean: float
    sd: float  # residual SD around unit and period means (AR(1) innovation-free, stationary)
    autocorrelation: float  # AR(1) coefficient, corrected for the within-unit demeaning bias

    def as_kwargs(self) -> dict[str, float | int]:
        return {
            "n_units": self.n_units,
            "baseline_mean": self.baseline_mean,
            "sd": self.sd,
            "autocorrelation": self.autocorrelation,
        }


def _ar1_corr(T: int, phi: float) -> np.ndarray:
    idx = np.arange(T)
    return phi ** np.abs(idx[:, None] - idx[None, :])


def baseline_from_panel(data: pd.DataFrame, *, outcome: str, unit: str, time: str) -> Baseline:
    """Estimate mean, residual SD and AR(1) autocorrelation from a balanced panel (pre-intervention data).

    Residuals are two-way demeaned; the lag-1 autocorrelation and the variance of demeaned AR(1) series
    are biased in short panels (Nickell), so phi and sigma solve the exact finite-T moment equations
    E[sum_t e_t e_(t-1)] / E[sum_t e_t^2] = tr(M L M R(phi)) / tr(M R(phi)) with M the demeaning matrix.
    """
    require_role_columns(data, {"outcome": outcome, "unit": unit, "time": time})
    _, _, Y = wide_panel(data, outcome=outcome, unit=unit, time=time)
    T, N = Y.shape
    if T < 4 or N < 3:
        raise EngineInputError(f"Need at least 4 periods and 3 units to estimate a baseline; got {T} x {N}.")
    E = Y - Y.mean(axis=0, keepdims=True) - Y.mean(axis=1, keepdims=True) + Y.mean()
    ss = float(np.sum(E**2))
    if ss <= 0:
        raise EngineInputError(f"Outcome {outcome!r} has no variation around unit and period means.")
    lag = float(np.sum(E[1:] * E[:-1]))
    target = lag / ss
    M = np.eye(T) - 1.0 / T
    L = np.eye(T, k=-1)
    MLM = M @ (0.5 * (L + L.T)) @ M

    def ratio(phi: float) -> float:
        R = _ar1_corr(T, phi)
        return float(np.trace(MLM @ R) / np.trace(M @ R))

    lo, hi = -0.95, 0.995
    if target <= ratio(lo):
        phi = lo
    elif target >= ratio(hi):
        phi = hi
    else:
        phi = float(optimize.brentq(lambda p: ratio(p) - target, lo, hi, xtol=1e-10))
    sigma2 = ss / ((N - 1) * float(np.trace(M @ _ar1_corr(T, phi))))
    return Baseline(n_units=N, n_periods=T, baseline_mean=float(Y.mean()), sd=math.sqrt(sigma2), autocorrelation=phi)


# --------------------------------------------------------------------------------------------------
# TWFE DiD with CR1 and simulation
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TWFEResult:
    estimate: float
    se: float
    t_stat: float
    p_value: float
    n_clusters: int
    n_obs: int


def twfe_did(y: np.ndarray, d: np.ndarray, unit_codes: np.ndarray, time_codes: np.ndarray) -> TWFEResult:
    """TWFE DiD ``y ~ d | unit + time`` with CR1 SEs clustered by unit (pyfixest's default ssc).

    Works on balanced or unbalanced panels (alternating projections to absorb both fixed effects).
    """
    y = np.asarray(y, float)
    d = np.asarray(d, float)
    uc = np.asarray(unit_codes)
    tc = np.asarray(time_codes)
    _, ui = np.unique(uc, return_inverse=True)
    _, ti = np.unique(tc, return_inverse=True)

    def demean(x: np.ndarray) -> np.ndarray:
        x = x.copy()
        cu, ct = np.bincount(ui), np.bincount(ti)
        for _ in range(10_000):
            x -= (np.bincount(ui, x) / cu)[ui]
            step = (np.bincount(ti, x) / ct)[ti]
            x -= step
            if np.max(np.abs(step)) < 1e-13 * (1 + np.max(np.abs(x))):
                break
        return x

    yt, dt = demean(y), demean(d)
    dd = float(dt @ dt)
    if dd <= 0:
        raise EngineInputError("The treatment does not vary within units and periods.")
    beta = float(dt @ yt) / dd
    e = yt - beta * dt
    scores = np.bincount(ui, dt * e)
    G = int(ui.max() + 1)
    n = y.size
    # pyfixest's default small-sample correction (fixef_k="nested"): unit effects are nested in the
    # cluster and not counted, period effects are: k = 1 + number of periods
    k = 1 + int(ti.max() + 1)
    ssc = G / (G - 1) * (n - 1) / (n - k)
    var = ssc * float(scores @ scores) / dd**2
    se = math.sqrt(var)
    t = beta / se
    return TWFEResult(
        estimate=beta, se=se, t_stat=t, p_value=float(2 * stats.t(G - 1).sf(abs(t))), n_clusters=G, n_obs=n
    )


@dataclass(frozen=True)
class SimulationResult:
    """Simulation-based power on a real panel."""

    power: float
    power_se: float
    size: float  # rejection rate without injected effect (should be close to alpha)
    mean_estimate: float
    sd_estimate_null: float
    mde: float  # multiplier * SD of the placebo estimates (absolute)
    effect: float  # absolute effect injected (mean over simulations for relative effects)
    n_sims: int
    assumptions: dict[str, Any]


def _did_batch(dpre: np.ndarray, assign: np.ndarray, n_treated: int, n_periods: int) -> tuple[np.ndarray, np.ndarray]:
    """TWFE estimates and CR1 SEs for many block assignments at once.

    ``dpre`` (S, N) unit contrasts mean(post) - mean(pre) (effect already injected for treated units);
    ``assign`` (S, N) boolean treated indicators. Uses the identity TWFE = difference in mean contrasts
    and its CR1 variance G/(G-1) * (n-1)/(n-k) * (sum_T u^2 / n_T^2 + sum_C u^2 / n_C^2), with n = N * T
    observations and k = 1 + T (see `twfe_did`).
    """
    S, N = dpre.shape
    n_c = N - n_treated
    a = assign.astype(float)
    s_t = np.einsum("ij,ij->i", a, dpre)
    s_all = dpre.sum(axis=1)
    q_t = np.einsum("ij,ij->i", a, dpre**2)
    q_all = np.einsum("ij,ij->i", dpre, dpre)
    m_t = s_t / n_treated
    m_c = (s_all - s_t) / n_c
    ss_t = q_t - n_treated * m_t**2
    ss_c = (q_all - q_t) - n_c * m_c**2
    n = N * n_periods
    ssc = N / (N - 1) * (n - 1) / (n - 1 - n_periods)
    var = ssc * (np.maximum(ss_t, 0) / n_treated**2 + np.maximum(ss_c, 0) / n_c**2)
    return m_t - m_c, np.sqrt(var)


def simulate_power(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    n_treated: int,
    effect: float = -0.10,
    relative: bool = True,
    pre_periods: int | None = None,
    post_periods: int | None = None,
    n_sims: int = 1000,
    alpha: float = 0.05,
    power: float = 0.8,
    seed: int = 0,
) -> SimulationResult:
    """Power of TWFE DiD (CR1, t(G-1)) by placebo assignments on a real, untreated panel.

    Each simulation picks ``n_treated`` units at random and a random window of ``pre_periods`` +
    ``post_periods`` consecutive periods (default: the whole panel split in two halves), multiplies the
    treated units' post outcomes by (1 + effect) (relative) or adds ``effect`` (absolute), and tests it.
    """
    require_role_columns(data, {"outcome": outcome, "unit": unit, "time": time})
    _, _, Y = wide_panel(data, outcome=outcome, unit=unit, time=time)
    T, N = Y.shape
    m = pre_periods if pre_periods is not None else T // 2
    r = post_periods if post_periods is not None else T - m
    if m < 1 or r < 1 or m + r > T:
        raise EngineInputError(f"pre_periods + post_periods must fit in the panel's {T} periods (got {m} + {r}).")
    if not 1 <= n_treated < N - 1:
        raise EngineInputError(f"n_treated must be between 1 and {N - 2} for this panel of {N} units.")
    if n_sims < 10:
        raise EngineInputError("n_sims must be at least 10.")
    if not 0 < alpha < 1:
        raise EngineInputError("alpha must be between 0 and 1.")
    rng = np.random.default_rng(seed)
    C = np.vstack([np.zeros((1, N)), np.cumsum(Y, axis=0)])
    starts = rng.integers(0, T - (m + r) + 1, size=n_sims)
    pre_mean = (C[starts + m] - C[starts]) / m
    post_mean = (C[starts + m + r] - C[starts + m]) / r
    contrast = post_mean - pre_mean
    order = np.argsort(rng.random((n_sims, N)), axis=1)
    assign = np.zeros((n_sims, N), dtype=bool)
    np.put_along_axis(assign, order[:, :n_treated], True, axis=1)
    shift = effect * post_mean if relative else np.full_like(post_mean, effect)
    crit = float(stats.t(N - 1).ppf(1 - alpha / 2))
    est0, se0 = _did_batch(contrast, assign, n_treated, m + r)
    est1, se1 = _did_batch(contrast + shift * assign, assign, n_treated, m + r)
    reject1 = np.abs(est1 / se1) > crit
    reject0 = np.abs(est0 / se0) > crit
    pw = float(reject1.mean())
    injected = float(np.mean(np.sum(shift * assign, axis=1) / n_treated))
    mult = crit + float(stats.t(N - 1).ppf(power))
    sd0 = float(np.std(est0, ddof=1))
    return SimulationResult(
        power=pw,
        power_se=math.sqrt(pw * (1 - pw) / n_sims),
        size=float(reject0.mean()),
        mean_estimate=float(est1.mean()),
        sd_estimate_null=sd0,
        mde=mult * sd0,
        effect=injected,
        n_sims=n_sims,
        assumptions={
            "method": "placebo assignments + injected effect; TWFE DiD, CR1 by unit, t(G-1)",
            "n_units": N,
            "n_periods": T,
            "n_treated": n_treated,
            "pre_periods": m,
            "post_periods": r,
            "effect": effect,
            "relative": relative,
            "alpha": alpha,
            "seed": seed,
        },
    )
