"""Risk adjustment and "similar patients".

`risk_model(pop)` fits a simple additive score: a weighted least-squares regression of each person's yearly
amount (amount ÷ share of the year observed, weighted by that share) on age bands, sex, the five chronic
conditions, long-term-condition cover and low-income cover (when the data have it), in the reference year. A
person's score is the prediction divided by its exposure-weighted mean over the reference year's population, so
the score has mean 1.0 there; predictions are floored at 1 % of that mean. This is the form of the CMS-HCC model
(an additive linear regression of annual spending on demographics and condition flags: Pope et al., "Risk
adjustment of Medicare capitation payments using the CMS-HCC model", Health Care Financing Review 25(4), 2004),
with our data's few flags in place of the hierarchical condition categories.

`similar_rate(...)`: the mean yearly amount of similar patients (same age band, sex, long-term condition, low-income
cover where the data have it, and number of conditions 0/1/2/3+), the basis of the PEPS forfait; cells with fewer
than `min_person_years` fall back to age band × sex, then to everyone.

The reference year is the year before the performance year (prospective use: weights known in advance), or the
performance year when the data have only one year.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tremplin.funding.population import CONDITIONS, Population

AGE_BANDS: tuple[int, ...] = (0, 18, 40, 55, 65, 75, 85)
"""Lower bounds of the age bands (years): a modelling choice of Tremplin, coarser than the CMS-HCC model's 5-year
bands (Pope et al. 2004) so that every cell of "similar patients" holds enough persons in a territory's data, with
the 65 and 75 edges of the PEPS and MSSP populations kept."""
FLOOR_SHARE = 0.01
"""Risk predictions are floored at this share of their mean (an additive fit can predict a negative spending for
the healthiest cells): a modelling choice of Tremplin."""
MIN_PERSON_YEARS = 30.0
"""Fewest person-years of a cell of similar patients before its mean is used (else the coarser cell): a modelling
choice of Tremplin (a mean of fewer than ~30 yearly amounts of skewed care spending is too noisy to price on)."""


def reference_index(pop: Population) -> int:
    """Index (into `pop.years`) of the reference year: the year before the performance year when there is one."""
    return len(pop.years) - 2 if len(pop.years) >= 2 else len(pop.years) - 1


def age_band(age: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(AGE_BANDS), np.asarray(age), side="right") - 1


def features(pop: Population, year_index: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Design matrix of the risk score for the persons' characteristics in a year."""
    band = np.clip(age_band(pop.age(year_index)), 0, len(AGE_BANDS) - 1)
    cols = [np.ones(pop.n_persons)]
    names = ["intercept"]
    for b in range(1, len(AGE_BANDS)):
        cols.append((band == b).astype(float))
        names.append(f"age_{AGE_BANDS[b]}+")
    cols.append(pop.female.astype(float))
    names.append("female")
    for j, name in enumerate(CONDITIONS):
        cols.append(pop.conditions[:, j].astype(float))
        names.append(name)
    cols.append(pop.long_term_condition.astype(float))
    names.append("long_term_condition")
    if pop.low_income is not None:
        cols.append(pop.low_income.astype(float))
        names.append("low_income")
    return np.column_stack(cols), tuple(names)


@dataclass(frozen=True)
class RiskModel:
    """Coefficients of the additive risk score and its normalisation (mean 1.0 in the reference year)."""

    names: tuple[str, ...]
    coefficients: np.ndarray
    reference_year: int
    scale: float
    floor: float

    def scores(self, pop: Population, year_index: int = -1) -> np.ndarray:
        """Risk score of every person with the characteristics of a year (age changes, flags do not)."""
        x, _ = features(pop, year_index)
        return np.maximum(x @ self.coefficients, self.floor) / self.scale

    def to_dict(self) -> dict:
        return {"reference_year": self.reference_year,
                "coefficients": dict(zip(self.names, (float(c) for c in self.coefficients), strict=True))}


def risk_model(pop: Population) -> RiskModel:
    """Fit (once per population) the additive risk score on the reference year."""

    def fit() -> RiskModel:
        ref = reference_index(pop)
        w = pop.exposure[ref]
        sel = w > 0
        x, names = features(pop, ref)
        # weighted least squares (weight w: share of the year observed; response: amount per year observed, so
        # w·y is the amount itself) by its normal equations, a (features x features) system; the persons not
        # observed weigh nothing. A rank-deficient design (a flag nobody has) gets the minimum-norm coefficients,
        # whose predictions are the unique fit.
        wy = np.where(sel, pop.spending(ref), 0.0)
        gram = x.T @ (x * w[:, None])
        coef, *_ = np.linalg.lstsq(gram, x.T @ wy, rcond=None)
        pred = x @ coef
        observed = sel.any()
        mean = float(np.average(pred, weights=w)) if observed else 1.0
        floor = FLOOR_SHARE * mean if mean > 0 else 1e-9
        scale = float(np.average(np.maximum(pred, floor), weights=w)) if observed else 1.0
        return RiskModel(names=names, coefficients=coef, reference_year=pop.years[ref], scale=scale, floor=floor)

    return pop._cached("risk_model", fit)


def cells(pop: Population, year_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Fine cell and coarse (age band × sex) cell of every person in a year."""
    band = np.clip(age_band(pop.age(year_index)), 0, len(AGE_BANDS) - 1)
    sex = pop.female.astype(np.int64)
    ltc = pop.long_term_condition.astype(np.int64)
    low = np.zeros(pop.n_persons, np.int64) if pop.low_income is None else pop.low_income.astype(np.int64)
    ncond = np.minimum(pop.conditions.sum(axis=1), 3)
    coarse = band * 2 + sex
    fine = ((coarse * 2 + ltc) * 2 + low) * 4 + ncond
    return fine, coarse


def similar_rate(pop: Population, amount: np.ndarray, *, reference: int, target: int = -1,
                 min_person_years: float = MIN_PERSON_YEARS) -> np.ndarray:
    """Mean yearly `amount` (per person, reference year) of the persons similar to each person (target year's
    characteristics), per year observed."""
    w = pop.exposure[reference]
    fine_r, coarse_r = cells(pop, reference)
    fine_t, coarse_t = cells(pop, target)
    n_fine = int(max(fine_r.max(initial=0), fine_t.max(initial=0))) + 1
    n_coarse = int(max(coarse_r.max(initial=0), coarse_t.max(initial=0))) + 1
    py_f = np.bincount(fine_r, w, minlength=n_fine)
    am_f = np.bincount(fine_r, amount, minlength=n_fine)
    py_c = np.bincount(coarse_r, w, minlength=n_coarse)
    am_c = np.bincount(coarse_r, amount, minlength=n_coarse)
    overall = amount.sum() / w.sum() if w.sum() > 0 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_f = np.where(py_f >= min_person_years, am_f / py_f, np.nan)
        rate_c = np.where(py_c >= min_person_years, am_c / py_c, np.nan)
    rate = rate_f[fine_t]
    rate = np.where(np.isnan(rate), rate_c[coarse_t], rate)
    return np.where(np.isnan(rate), overall, rate)
