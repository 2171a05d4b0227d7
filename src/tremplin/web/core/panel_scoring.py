"""Panel scoring: several scorers rate several items; normalisation per scorer, aggregation, disagreement.

Pure functions on plain values (no Django, no ORM): ratings are `(scorer, item, score)` triples whose scorer and
item are any hashable keys (user ids, proposal ids, signal ids). Used by the calls app (reviews of proposals),
the horizon app (panel scores of signals) and, later, stage-gate panels. The rules:

- Weighted mean of one rating over criteria: sum(w_i * s_i) / sum(w_i) (scores `SCORE_MIN`–`SCORE_MAX`, 0–4).
- Scorer-normalised score: each scorer's scores are turned into z-scores (z = (x - mean_s) / sd_s, population
  standard deviation). A scorer with fewer than `MIN_RATINGS_FOR_Z` ratings or no variation carries no
  information about their scale: their z-scores are 0. An item's normalised score is the mean z of its ratings.
- Spread: population standard deviation of the scores an item received.
- Strong disagreement: spread >= `DISAGREEMENT_STD_THRESHOLD` (1.0 point on the 0–4 scale; for two scorers that
  is a gap of 2 points, e.g. 1 vs 3) with at least two ratings.

The aggregate type is chosen by the caller (`factory`, called positionally with item, n, mean, normalised,
spread, disagreement), so that each app keeps its own vocabulary without a second copy of the arithmetic.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SCORE_MIN, SCORE_MAX = 0, 4
DISAGREEMENT_STD_THRESHOLD = 1.0
MIN_RATINGS_FOR_Z = 2
_EPS = 1e-12

Rating = tuple[Hashable, Hashable, float]  # (scorer, item, score)


@dataclass(frozen=True)
class ItemAggregate:
    """What a panel says about one item (`mean`, `normalised`, `spread` are None without ratings)."""

    item: Any
    n: int
    mean: float | None
    normalised: float | None
    spread: float | None
    disagreement: bool


Factory = Callable[..., Any]


def weighted_mean(scores: Mapping[object, float], weights: Mapping[object, float]) -> float:
    """Weighted mean of the scores over the criteria that have a weight (every weighted criterion is required)."""
    missing = [key for key in weights if key not in scores]
    if missing:
        raise ValueError(f"missing scores for criteria {missing}")
    total_weight = sum(float(w) for w in weights.values())
    if total_weight <= 0:
        raise ValueError("the weights must sum to a positive number")
    for key, score in scores.items():
        if key in weights and not SCORE_MIN <= score <= SCORE_MAX:
            raise ValueError(f"score {score} for {key} outside {SCORE_MIN}–{SCORE_MAX}")
    return sum(float(weights[k]) * float(scores[k]) for k in weights) / total_weight


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _pstdev(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    m = _mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / len(values))


def is_disagreement(n: int, spread: float) -> bool:
    """The disagreement flag for an item rated `n` times with this spread."""
    return n >= 2 and spread >= DISAGREEMENT_STD_THRESHOLD - _EPS


def empty(item, factory: Factory = ItemAggregate):
    """The aggregate of an item nobody rated."""
    return factory(item, 0, None, None, None, False)


@dataclass(frozen=True)
class ScorerStats:
    """A scorer's scores: count, mean, population standard deviation."""

    n: int
    mean: float
    sd: float

    def z(self, score: float) -> float:
        """z-score of `score` on this scorer's scale (0 without information about the scale, as above)."""
        if self.n < MIN_RATINGS_FOR_Z or self.sd < _EPS:
            return 0.0
        return (score - self.mean) / self.sd


def scorer_z_scores(ratings: Iterable[Rating]) -> dict[tuple[object, object], float]:
    """z-score of each (scorer, item) rating among the scorer's ratings (0 when undefined)."""
    by_scorer: dict[object, list[tuple[object, float]]] = defaultdict(list)
    for scorer, item, score in ratings:
        by_scorer[scorer].append((item, score))
    result: dict[tuple[object, object], float] = {}
    for scorer, items in by_scorer.items():
        values = [score for _item, score in items]
        sd = _pstdev(values)
        m = _mean(values)
        for item, score in items:
            z = 0.0 if len(values) < MIN_RATINGS_FOR_Z or sd < _EPS else (score - m) / sd
            result[(scorer, item)] = z
    return result


def _by_item(ratings: Iterable[Rating]) -> dict[object, list[tuple[object, float]]]:
    grouped: dict[object, list[tuple[object, float]]] = defaultdict(list)
    for scorer, item, score in ratings:
        grouped[item].append((scorer, score))
    return grouped


def _aggregate_groups(groups: Mapping[object, list[tuple[object, float]]], z: Callable[[object, object, float], float],
                      items: Iterable[object], factory: Factory) -> dict:
    result = {i: empty(i, factory) for i in items}
    for item, rated in groups.items():
        values = [score for _scorer, score in rated]
        spread = _pstdev(values)
        result[item] = factory(item, len(rated), _mean(values), _mean([z(s, item, x) for s, x in rated]), spread,
                               is_disagreement(len(rated), spread))
    return result


def aggregate(ratings: Iterable[Rating], items: Iterable[object] = (), *, factory: Factory = ItemAggregate) -> dict:
    """Aggregate ratings per item (`items` without ratings get an empty aggregate)."""
    ratings = list(ratings)
    z = scorer_z_scores(ratings)
    return _aggregate_groups(_by_item(ratings), lambda scorer, item, _x: z[(scorer, item)], items, factory)


def aggregate_with_stats(ratings: Iterable[Rating], stats: Mapping[object, ScorerStats], items: Iterable[object] = (),
                         *, factory: Factory = ItemAggregate) -> dict:
    """Same result as `aggregate`, for a subset of the items: the z-scores come from `stats` (each scorer's
    statistics over all their ratings), so that only the ratings of the items displayed need to be read."""
    return _aggregate_groups(_by_item(ratings), lambda scorer, _item, x: stats[scorer].z(x), items, factory)


def aggregate_arrays(scorers, items, scores, all_items: Iterable[object] = (), *,
                     factory: Factory = ItemAggregate) -> dict:
    """Same result as `aggregate`, vectorised with NumPy for large panels (tens of thousands of ratings)."""
    import numpy as np

    r = np.asarray(scorers)
    p = np.asarray(items)
    x = np.asarray(scores, dtype=np.float64)
    result: dict = {}
    if x.size == 0:
        return {q: empty(q, factory) for q in all_items}
    _ur, inv_r = np.unique(r, return_inverse=True)
    n_r = np.bincount(inv_r)
    mean_r = np.bincount(inv_r, weights=x) / n_r
    dev_r = x - mean_r[inv_r]
    sd_r = np.sqrt(np.bincount(inv_r, weights=dev_r * dev_r) / n_r)
    ok = (n_r[inv_r] >= MIN_RATINGS_FOR_Z) & (sd_r[inv_r] >= _EPS)
    z = np.where(ok, dev_r / np.where(sd_r[inv_r] < _EPS, 1.0, sd_r[inv_r]), 0.0)
    up, inv_p = np.unique(p, return_inverse=True)
    n_p = np.bincount(inv_p)
    mean_p = np.bincount(inv_p, weights=x) / n_p
    dev_p = x - mean_p[inv_p]
    spread = np.sqrt(np.bincount(inv_p, weights=dev_p * dev_p) / n_p)
    spread = np.where(n_p < 2, 0.0, spread)
    norm = np.bincount(inv_p, weights=z) / n_p
    for i, q in enumerate(up.tolist()):
        result[q] = factory(q, int(n_p[i]), float(mean_p[i]), float(norm[i]), float(spread[i]),
                            is_disagreement(int(n_p[i]), float(spread[i])))
    for q in all_items:
        if q not in result:
            result[q] = empty(q, factory)
    return result


def scorer_stats_arrays(scorers, scores) -> dict[object, ScorerStats]:
    """Statistics of every scorer (vectorised, two-pass like `scorer_z_scores`): the cacheable part of the
    normalisation, computed once over all the ratings."""
    import numpy as np

    r = np.asarray(scorers)
    x = np.asarray(scores, dtype=np.float64)
    if x.size == 0:
        return {}
    ur, inv = np.unique(r, return_inverse=True)
    n = np.bincount(inv)
    mean = np.bincount(inv, weights=x) / n
    dev = x - mean[inv]
    sd = np.sqrt(np.bincount(inv, weights=dev * dev) / n)
    return {key: ScorerStats(int(k), float(m), float(s))
            for key, k, m, s in zip(ur.tolist(), n.tolist(), mean.tolist(), sd.tolist(), strict=True)}
