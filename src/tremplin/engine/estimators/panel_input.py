"""Shared panel-input helpers for every estimator (DiD, TWFE, Callaway–Sant'Anna, synth, ITS) and power.

Reading a panel, checking columns, deriving the adoption cohort from a 0/1 treatment column, the
balanced-panel check, and `build_panel`, which turns a long data frame into the wide NumPy arrays the
DiD family computes on; `wide_panel`, `first_treated` and `predictors` do the same for the synthetic
control, the interrupted time series and the power simulations (time in rows, units in columns).
User data is never mutated: every function works on copies or new arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.results import py_scalar

__all__ = [
    "Panel",
    "build_panel",
    "check_balanced",
    "cohort_from_treatment",
    "first_treated",
    "load_panel",
    "numeric_values",
    "predictors",
    "require_columns",
    "require_role_columns",
    "resolve_cohort",
    "wide_panel",
]

ONE_OF_COHORT_TREATMENT = "Give exactly one of `cohort` (first treated period) or `treatment` (0/1 column)."


def load_panel(path: str | Path) -> pd.DataFrame:
    """Read a long panel from a CSV or Parquet file (chosen by extension)."""
    path = Path(path)
    if not path.exists():
        raise EngineInputError(f"Panel file not found: {path}")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    try:
        if suffix in {".csv", ".csv.gz", ".txt"}:
            return pd.read_csv(path)
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise EngineInputError(f"Could not read panel file {path}: {exc}") from exc
    raise EngineInputError(
        f"Unsupported panel file type {path.suffix!r} for {path}: allowed are .csv, .csv.gz, .parquet."
    )


def require_columns(data: pd.DataFrame, columns: Iterable[str | None], *, role: dict[str, str] | None = None) -> None:
    """Raise EngineInputError naming each missing column (and its role) and listing the available ones."""
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        role = role or {}
        names = ", ".join(f"{c!r}" + (f" ({role[c]})" if c in role else "") for c in missing)
        available = ", ".join(map(str, data.columns))
        raise EngineInputError(f"Unknown column {names}. Available columns: {available}.")


def check_balanced(data: pd.DataFrame, *, unit: str, time: str) -> tuple[bool, int]:
    """Return (balanced, number of incomplete units). Duplicated (unit, time) rows raise."""
    dup = data.duplicated([unit, time])
    if dup.any():
        first = data.loc[dup, [unit, time]].iloc[0].tolist()
        raise EngineInputError(
            f"{int(dup.sum())} duplicated ({unit}, {time}) rows, e.g. {first}: one row per unit and period "
            "is required."
        )
    n_periods = data[time].nunique()
    counts = data.groupby(unit, sort=False)[time].size()
    incomplete = int((counts < n_periods).sum())
    return incomplete == 0, incomplete


def cohort_from_treatment(data: pd.DataFrame, *, unit: str, time: str, treatment: str) -> pd.Series:
    """Per-row adoption cohort (first period with treatment == 1; 0 = never treated).

    The treatment must be 0/1 and absorbing (once treated, a unit stays treated).
    """
    d = data[treatment]
    if d.isna().any():
        raise EngineInputError(f"Treatment column {treatment!r} has {int(d.isna().sum())} missing values.")
    values = set(pd.unique(d.astype(float)))
    if not values <= {0.0, 1.0}:
        bad = ", ".join(f"{float(v):g}" for v in sorted(values - {0.0, 1.0})[:5])
        raise EngineInputError(
            f"Treatment column {treatment!r} must be 0/1; found values {bad}. A column of first treated periods "
            "goes with `cohort`."
        )
    u_codes = pd.factorize(data[unit])[0]
    t_key = _time_key(data[time])
    dv = d.to_numpy(float)
    order = np.lexsort((t_key, u_codes))
    us, ds = u_codes[order], dv[order]
    same = np.r_[False, us[1:] == us[:-1]]
    off = same & (ds < np.r_[0.0, ds[:-1]])
    if off.any():
        bad_units = pd.unique(data[unit].to_numpy()[order][off])[:5].tolist()
        raise EngineInputError(
            f"Treatment column {treatment!r} is not absorbing: units {bad_units} switch from 1 back to 0. "
            "Staggered-adoption estimators need a treatment that stays on once started."
        )
    first_key = np.full(u_codes.max() + 1, np.inf)
    np.minimum.at(first_key, u_codes, np.where(dv == 1, t_key, np.inf))
    unit_first = first_key[u_codes]
    times = data[time]
    if _is_numeric(times):
        cohort = pd.Series(np.where(np.isfinite(unit_first), unit_first, 0.0), index=data.index)
    else:
        lookup = dict(zip(t_key, times, strict=False))
        cohort = pd.Series([lookup[k] if np.isfinite(k) else 0 for k in unit_first], index=data.index, dtype=object)
    return cohort.rename("cohort")


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _time_key(s: pd.Series) -> np.ndarray:
    """Sortable key for a time column (numbers as is, dates/strings by their sorted order)."""
    if _is_numeric(s):
        return s.to_numpy(dtype=float)
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.to_numpy().astype("datetime64[ns]").astype(np.int64).astype(float)
    labels = pd.Index(pd.unique(s.astype(str))).sort_values()
    return labels.get_indexer(s.astype(str)).astype(float)


def resolve_cohort(
    data: pd.DataFrame, *, unit: str, time: str, cohort: str | None, treatment: str | None,
    unit_codes: np.ndarray | None = None,
) -> pd.Series:
    """Per-row cohort from either a cohort column (0/empty = never treated) or a 0/1 treatment column.

    `unit_codes` (optional) are integer codes of `data[unit]`, to avoid factorising twice."""
    if (cohort is None) == (treatment is None):
        raise EngineInputError(ONE_OF_COHORT_TREATMENT)
    if treatment is not None:
        return cohort_from_treatment(data, unit=unit, time=time, treatment=treatment)
    g = data[cohort]
    never = g.isna() if _is_numeric(g) else (g.isna() | (g.astype(str).str.strip() == ""))
    g = g.where(~never, 0)
    codes = pd.factorize(data[unit])[0] if unit_codes is None else unit_codes
    first_row = np.zeros(codes.max() + 1, dtype=np.int64)
    first_row[codes[::-1]] = np.arange(codes.size)[::-1]
    gv = g.to_numpy()
    differs = gv != gv[first_row[codes]]
    if differs.any():
        bad = pd.unique(data[unit].to_numpy()[differs])[:5].tolist()
        raise EngineInputError(f"Cohort column {cohort!r} varies within units {bad}; it must be constant per unit.")
    return g.rename("cohort")


@dataclass(frozen=True)
class Panel:
    """A balanced (or, for TWFE, possibly unbalanced) panel as wide NumPy arrays.

    `y` is (n_units, n_periods) with NaN where a unit is not observed. `times` are the period values
    used for comparisons with `cohort` (the original numbers when time is numeric, else 1..T).
    `cohort` is 0 for never-treated units. `covariates` is (n_units, n_periods, p) or None.
    """

    outcome: str
    unit_labels: np.ndarray
    time_labels: np.ndarray
    times: np.ndarray
    y: np.ndarray
    cohort: np.ndarray
    covariates: np.ndarray | None
    covariate_names: tuple[str, ...]
    weights: np.ndarray | None
    cluster: np.ndarray
    cluster_labels: np.ndarray
    cluster_name: str
    n_obs: int

    @property
    def n_units(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_periods(self) -> int:
        return int(self.y.shape[1])

    @property
    def balanced(self) -> bool:
        return bool(np.isfinite(self.y).all())


def build_panel(
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
    require_balanced: bool = True,
) -> Panel:
    """Validate a long panel and pivot it to wide arrays (the user's frame is not modified)."""
    if not isinstance(data, pd.DataFrame):
        raise EngineInputError("The panel must be a pandas DataFrame.")
    covariates = tuple(covariates or ())
    roles = {outcome: "outcome", unit: "unit", time: "time"}
    for name, col in (("cohort", cohort), ("treatment", treatment), ("weights", weights), ("cluster", cluster)):
        if col is not None:
            roles[col] = name
    for c in covariates:
        roles[c] = "covariate"
    require_columns(data, [outcome, unit, time, cohort, treatment, weights, cluster, *covariates], role=roles)
    if data.empty:
        raise EngineInputError("The panel is empty.")
    for col in (outcome, *covariates) + ((weights,) if weights else ()):
        if not _is_numeric(data[col]):
            raise EngineInputError(f"Column {col!r} must be numeric (found dtype {data[col].dtype}).")
    if data[unit].isna().any() or data[time].isna().any():
        raise EngineInputError(f"Unit column {unit!r} and time column {time!r} must not have missing values.")

    all_codes, all_labels = pd.factorize(data[unit], sort=True)
    g_rows = resolve_cohort(data, unit=unit, time=time, cohort=cohort, treatment=treatment, unit_codes=all_codes)
    present = data[outcome].notna().to_numpy()
    if present.all():
        frame, unit_codes, unit_labels = data, all_codes, all_labels
    else:
        frame, g_rows = data.loc[present], g_rows.loc[present]
        if frame.empty:
            raise EngineInputError(f"Outcome column {outcome!r} has no non-missing values.")
        unit_codes, unit_labels = pd.factorize(frame[unit], sort=True)
    times_raw = frame[time]
    if _is_numeric(times_raw):
        time_labels = np.sort(pd.unique(times_raw.to_numpy()))
        times = time_labels.astype(float)
        time_codes = np.searchsorted(time_labels, times_raw.to_numpy())
    else:
        key = _time_key(times_raw)
        order = np.unique(key)
        time_codes = np.searchsorted(order, key)
        first_label = pd.Series(times_raw.to_numpy()).groupby(time_codes).first()
        time_labels = first_label.to_numpy()
        times = np.arange(1, len(order) + 1, dtype=float)
    n, t = len(unit_labels), len(time_labels)
    counts = np.bincount(unit_codes * t + time_codes, minlength=n * t)
    if (counts > 1).any():
        k = int(np.flatnonzero(counts > 1)[0])
        raise EngineInputError(
            f"{int((counts[counts > 1] - 1).sum())} duplicated ({unit}, {time}) rows, e.g. "
            f"[{unit_labels[k // t]!r}, {time_labels[k % t]!r}]: one row per unit and period is required."
        )
    incomplete = int((counts.reshape(n, t) == 0).any(axis=1).sum())
    if require_balanced and incomplete:
        raise EngineInputError(
            f"Unbalanced panel: {incomplete} units are not observed (with a non-missing {outcome!r}) in every "
            f"period. This estimator needs a balanced panel; drop or complete those units first."
        )

    y = np.full((n, t), np.nan)
    y[unit_codes, time_codes] = frame[outcome].to_numpy(dtype=float)

    first_row = np.zeros(n, dtype=np.int64)
    first_row[unit_codes[::-1]] = np.arange(unit_codes.size)[::-1]
    g_unit = g_rows.to_numpy()[first_row]
    g_num = _cohort_to_times(g_unit, time_labels, times, numeric=_is_numeric(times_raw), name=cohort or treatment)

    x = None
    if covariates:
        x = np.full((n, t, len(covariates)), np.nan)
        vals = frame[list(covariates)].to_numpy(dtype=float)
        if not np.isfinite(vals).all():
            raise EngineInputError(f"Covariates {list(covariates)} have missing or non-finite values.")
        x[unit_codes, time_codes, :] = vals

    w = None
    if weights is not None:
        wv = frame[weights].to_numpy(dtype=float)
        if not np.isfinite(wv).all() or (wv < 0).any() or wv.sum() <= 0:
            raise EngineInputError(f"Weights column {weights!r} must be finite, non-negative, with a positive sum.")
        w = wv[first_row]
        if (wv != w[unit_codes]).any():
            raise EngineInputError(f"Weights column {weights!r} must be constant within each unit.")

    if cluster is not None:
        cl = frame[cluster]
        if cl.isna().any():
            raise EngineInputError(f"Cluster column {cluster!r} has missing values.")
        clv = cl.to_numpy()
        first_cl = clv[first_row]
        if (clv != first_cl[unit_codes]).any():
            raise EngineInputError(
                f"Cluster column {cluster!r} varies within units; clusters must contain whole units."
            )
        codes, cluster_labels = pd.factorize(pd.Series(first_cl), sort=True)
        cluster_codes = np.asarray(codes)
        cluster_name = cluster
    else:
        cluster_codes = np.arange(n)
        cluster_labels = np.asarray(unit_labels)
        cluster_name = unit

    return Panel(
        outcome=outcome,
        unit_labels=np.asarray(unit_labels),
        time_labels=np.asarray(time_labels),
        times=times,
        y=y,
        cohort=g_num,
        covariates=x,
        covariate_names=covariates,
        weights=w,
        cluster=cluster_codes,
        cluster_labels=np.asarray(cluster_labels),
        cluster_name=cluster_name,
        n_obs=int(len(frame)),
    )


def _cohort_to_times(g: np.ndarray, time_labels: np.ndarray, times: np.ndarray, *, numeric: bool, name) -> np.ndarray:
    """Express cohorts on the same scale as `times` (0 = never treated)."""
    if numeric:
        try:
            out = np.asarray(g, dtype=float)
        except (TypeError, ValueError) as exc:
            raise EngineInputError(
                f"Cohort column {name!r} must hold periods on the time scale (or 0/empty for never treated)."
            ) from exc
        if not np.isfinite(out).all():
            raise EngineInputError(f"Cohort column {name!r} has non-finite values.")
        return out
    is_dt = np.issubdtype(np.asarray(time_labels).dtype, np.datetime64)

    def norm(v):
        return pd.Timestamp(v).value if is_dt else str(v)

    lookup = {norm(lab): float(v) for lab, v in zip(time_labels, times, strict=True)}
    out = np.zeros(len(g))
    for i, val in enumerate(g):
        if (isinstance(val, int | float) and val == 0) or (isinstance(val, str) and val.strip() in {"", "0"}):
            continue
        try:
            key = norm(val)
        except (TypeError, ValueError):
            key = None
        if key not in lookup:
            raise EngineInputError(f"Cohort value {val!r} in {name!r} is not one of the panel's periods.")
        out[i] = lookup[key]
    return out


# --------------------------------------------------------------------------------------------------
# Wide panels with time in rows (synthetic control, interrupted time series, power)
# --------------------------------------------------------------------------------------------------


def require_role_columns(data: pd.DataFrame, columns: dict[str, str | None]) -> None:
    """Raise EngineInputError for the first column (by role: {"outcome": "y", ...}) that `data` lacks."""
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


def numeric_values(series: pd.Series, name: str) -> np.ndarray:
    """The column as floats (missing values as NaN); a value that is not a number raises."""
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & series.notna().to_numpy()
    if bad.any():
        example = series[bad].iloc[0]
        raise EngineInputError(f"Column {name!r} must be numeric; found {example!r}.")
    return values


def wide_panel(
    data: pd.DataFrame, *, outcome: str, unit: str, time: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (units, times, Y) with Y[t, i]; raise on duplicates, missing cells or missing values."""
    y = numeric_values(data[outcome], outcome)
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


def first_treated(
    data: pd.DataFrame, *, unit: str, time: str, cohort: str | None, treatment: str | None
) -> dict[Any, Any]:
    """Map every unit to its first treated period (None when never treated)."""
    if (cohort is None) == (treatment is None):
        raise EngineInputError(ONE_OF_COHORT_TREATMENT)
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
    d = numeric_values(data[treatment], treatment)
    if not np.isin(d[~np.isnan(d)], (0.0, 1.0)).all():
        raise EngineInputError(f"Treatment column {treatment!r} must contain only 0 and 1.")
    frame = pd.DataFrame({"u": data[unit].to_numpy(), "t": data[time].to_numpy(), "d": d})
    for u, grp in frame.groupby("u", sort=False):
        treated_times = grp.loc[grp["d"] == 1, "t"]
        out[u] = treated_times.min() if len(treated_times) else None
    return out


def predictors(
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
    names = [f"{outcome}[{py_scalar(times[r])}]" for r in lag_rows]
    if covariates:
        pre_times = set(times[pre].tolist())
        if covariate_periods is not None:
            outside = [p for p in covariate_periods if p not in pre_times]
            if outside:
                raise EngineInputError(f"covariate_periods must be pre-treatment periods; not: {outside[:5]}.")
            pre_times = set(covariate_periods)
        sub = data[data[time].isin(pre_times)]
        for c in covariates:
            vals = pd.Series(numeric_values(sub[c], c), index=sub.index).groupby(sub[unit].to_numpy()).mean()
            row = vals.reindex(units).to_numpy(dtype=float)
            if np.isnan(row).any():
                missing = units[np.isnan(row)][0]
                raise EngineInputError(f"Covariate {c!r} has no pre-treatment value for {unit}={missing!r}.")
            blocks.append(row[None, :])
            names.append(f"mean({c})")
    return np.vstack(blocks), names
