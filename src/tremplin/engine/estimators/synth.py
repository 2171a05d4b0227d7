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
method (`solve_simplex_qp`; `simplex_ls` in factor form for the nested search), warm-started from the
previous outer iterate. When the predictors are matched exactly the weights are not unique (a note says
so). Several treated units are handled by `synth_staggered` (one fit each, gaps averaged).

Numbers happen in pure NumPy functions, one module per concern: the inner problem (`synth_solvers`), the
nested V search (`synth_vsearch`), one fit (`synth_fit`), placebo and leave-one-out inference
(`synth_inference`); the result object is in `synth_result`, the staggered design in `synth_staggered`.
`synthetic_control` validates the input and orchestrates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators import synth_inference
from tremplin.engine.estimators.panel_input import first_treated, predictors, require_role_columns, wide_panel
from tremplin.engine.estimators.results import py_scalar
from tremplin.engine.estimators.synth_fit import SynthFit, fit_synth
from tremplin.engine.estimators.synth_inference import PlaceboResult, leave_one_out, placebo_in_space
from tremplin.engine.estimators.synth_result import SynthResult
from tremplin.engine.estimators.synth_solvers import solve_simplex_qp
from tremplin.engine.estimators.synth_staggered import StaggeredSynthResult, staggered_synthetic_control
from tremplin.engine.options import VMethod, check_choice, checked_options

# The synthetic control's public names, wherever they are computed (solvers, V search, inference, result).
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


@checked_options("synthetic-control")
def synthetic_control(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    treatment: str | None = None,
    covariates: Sequence[str] | None = None,
    covariate_periods: Sequence[Any] | None = None,
    outcome_lags: Sequence[Any] | None = None,
    v: VMethod = "auto",
    placebo: bool = True,
    leave_one_out: bool = True,
    n_starts: int = 2,
    n_placebo_draws: int = 2000,
    loo_donors: int = 10,
    seed: int = 0,
) -> SynthResult | StaggeredSynthResult:
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
    covariates = list(covariates or [])
    check_choice("v", v, VMethod)
    do_placebo = bool(placebo)
    do_loo = bool(leave_one_out)
    n_starts = int(n_starts)
    if n_starts < 1:
        raise EngineInputError("`n_starts` must be at least 1.")
    require_role_columns(
        data, {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort, "treatment": treatment}
    )
    for c in covariates:
        require_role_columns(data, {"covariate": c})

    units, times, Y = wide_panel(data, outcome=outcome, unit=unit, time=time)
    first = first_treated(data, unit=unit, time=time, cohort=cohort, treatment=treatment)
    treated_units = [u for u in units if first.get(u) is not None]
    if not treated_units:
        raise EngineInputError("No treated unit: synthetic control needs at least one treated unit.")
    v_method = v
    if v == "auto":
        v_method = "nested" if (covariates or outcome_lags is not None) else "identity"
    if len(treated_units) > 1:
        draws = int(n_placebo_draws)
        loo_donors = int(loo_donors)
        if draws < 1 or loo_donors < 0:
            raise EngineInputError("`n_placebo_draws` must be at least 1 and `loo_donors` at least 0.")
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

    X, names = predictors(data, Y, units, times, pre, outcome=outcome, unit=unit, time=time,
                          covariates=covariates, covariate_periods=covariate_periods, outcome_lags=outcome_lags)
    rng = np.random.default_rng(seed)
    fit = fit_synth(
        Y[:, ti], Y[:, donor_idx], X[:, ti], X[:, donor_idx], pre,
        v_method=v_method, n_starts=n_starts, rng=rng,
    )
    warnings: list[str] = []
    placebos = None
    if do_placebo:
        placebos = placebo_in_space(Y, X, donor_idx, pre, fit, v_method=v_method, n_starts=n_starts, rng=rng)
        if placebos.units.size < 19:
            warnings.append(
                f"Only {placebos.units.size} placebo units: the smallest attainable p-value is "
                f"{1 / (placebos.units.size + 1):.3f}."
            )
    loo_dropped = donor_idx[:0]
    loo_gaps = np.empty((0, times.size))
    if do_loo:
        pos, loo_gaps = synth_inference.leave_one_out(
            Y[:, ti], Y[:, donor_idx], X[:, ti], X[:, donor_idx], pre, fit,
            v_method=v_method, n_starts=n_starts, rng=rng,
        )
        loo_dropped = units[donor_idx][pos]
    pre_bias = abs(float(np.mean(fit.gap[pre])))
    if fit.pre_rmspe > 0 and pre_bias > 0.5 * fit.pre_rmspe:
        warnings.append(f"Systematic pre-treatment gap (mean {pre_bias:.3g} against an RMSPE of "
                        f"{fit.pre_rmspe:.3g}): the treated unit probably lies outside the donors' convex hull; "
                        "interpret with care.")
    if fit.loss_w <= 1e-10 * max(1.0, float(np.abs(X[:, ti]).max()) ** 2):
        warnings.append("The predictors are matched exactly: the weights are not unique (the treated unit lies "
                        "inside the donors' convex hull in predictor space); add predictors or use v='identity'.")
    if v_method == "nested":
        warnings.append("V chosen by nested optimisation (non-convex): weights may differ from other "
                        "software that stops at another local optimum; compare pre-RMSPE.")
    return SynthResult(
        outcome=outcome, unit=unit, time=time, treated_unit=py_scalar(tu), treatment_start=py_scalar(start),
        times=times, pre=pre, treated=Y[:, ti].copy(), donors=units[donor_idx], predictor_names=tuple(names),
        fit=fit, placebo=placebos, loo_dropped=loo_dropped, loo_gaps=loo_gaps,
        n_units=int(1 + donor_idx.size), n_obs=int((1 + donor_idx.size) * times.size),
        v_method=v_method, warnings=tuple(warnings),
    )
