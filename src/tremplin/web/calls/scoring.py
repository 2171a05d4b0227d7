"""Review aggregation: pure functions (no Django), numbers in, frozen dataclasses out.

- Weighted mean of a review: sum(w_i * s_i) / sum(w_i) over the call's criteria (scores 0–4).
- Reviewer-normalised score: each reviewer's weighted scores in a call are turned into z-scores
  (z = (x - mean_r) / sd_r, population standard deviation). A reviewer with fewer than
  `MIN_REVIEWS_FOR_Z` reviews or no variation carries no information about their scale: their
  z-scores are 0. A proposal's normalised score is the mean z of its reviews.
- Spread: population standard deviation of the weighted scores a proposal received.
- Strong disagreement: spread >= `DISAGREEMENT_STD_THRESHOLD` (1.0 point on the 0–4 scale; for two
  reviewers that is a gap of 2 points, e.g. 1 vs 3) with at least two reviews.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SCORE_MIN, SCORE_MAX = 0, 4
DISAGREEMENT_STD_THRESHOLD = 1.0
MIN_REVIEWS_FOR_Z = 2


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


@dataclass(frozen=True)
class ReviewScore:
    reviewer: object
    proposal: object
    score: float  # weighted mean of the review, 0–4


@dataclass(frozen=True)
class ProposalAggregate:
    proposal: object
    n_reviews: int
    mean: float | None
    normalised: float | None
    spread: float | None
    disagreement: bool


def reviewer_z_scores(reviews: Iterable[ReviewScore]) -> dict[tuple[object, object], float]:
    """z-score of each (reviewer, proposal) review among the reviewer's reviews (0 when undefined)."""
    by_reviewer: dict[object, list[ReviewScore]] = defaultdict(list)
    for review in reviews:
        by_reviewer[review.reviewer].append(review)
    result: dict[tuple[object, object], float] = {}
    for reviewer, items in by_reviewer.items():
        values = [r.score for r in items]
        sd = _pstdev(values)
        m = _mean(values)
        for r in items:
            z = 0.0 if len(values) < MIN_REVIEWS_FOR_Z or sd < 1e-12 else (r.score - m) / sd
            result[(reviewer, r.proposal)] = z
    return result


def aggregate(reviews: Iterable[ReviewScore], proposals: Iterable[object] = ()) -> dict[object, ProposalAggregate]:
    """Aggregate submitted reviews per proposal (proposals without reviews get an empty aggregate)."""
    reviews = list(reviews)
    z = reviewer_z_scores(reviews)
    by_proposal: dict[object, list[ReviewScore]] = defaultdict(list)
    for review in reviews:
        by_proposal[review.proposal].append(review)
    result = {p: ProposalAggregate(p, 0, None, None, None, False) for p in proposals}
    for proposal, items in by_proposal.items():
        values = [r.score for r in items]
        spread = _pstdev(values)
        result[proposal] = ProposalAggregate(
            proposal=proposal,
            n_reviews=len(items),
            mean=_mean(values),
            normalised=_mean([z[(r.reviewer, proposal)] for r in items]),
            spread=spread,
            disagreement=len(items) >= 2 and spread >= DISAGREEMENT_STD_THRESHOLD - 1e-12,
        )
    return result


def aggregate_arrays(reviewers, proposals, scores, all_proposals: Iterable[object] = ()
                     ) -> dict[object, ProposalAggregate]:
    """Same result as `aggregate`, vectorised with NumPy for large calls (tens of thousands of reviews)."""
    import numpy as np

    r = np.asarray(reviewers)
    p = np.asarray(proposals)
    x = np.asarray(scores, dtype=np.float64)
    result: dict[object, ProposalAggregate] = {}
    if x.size == 0:
        return {q: ProposalAggregate(q, 0, None, None, None, False) for q in all_proposals}
    _ur, inv_r = np.unique(r, return_inverse=True)
    n_r = np.bincount(inv_r)
    mean_r = np.bincount(inv_r, weights=x) / n_r
    dev_r = x - mean_r[inv_r]
    sd_r = np.sqrt(np.bincount(inv_r, weights=dev_r * dev_r) / n_r)
    ok = (n_r[inv_r] >= MIN_REVIEWS_FOR_Z) & (sd_r[inv_r] >= 1e-12)
    z = np.where(ok, dev_r / np.where(sd_r[inv_r] < 1e-12, 1.0, sd_r[inv_r]), 0.0)
    up, inv_p = np.unique(p, return_inverse=True)
    n_p = np.bincount(inv_p)
    mean_p = np.bincount(inv_p, weights=x) / n_p
    dev_p = x - mean_p[inv_p]
    spread = np.sqrt(np.bincount(inv_p, weights=dev_p * dev_p) / n_p)
    spread = np.where(n_p < 2, 0.0, spread)
    norm = np.bincount(inv_p, weights=z) / n_p
    for i, q in enumerate(up.tolist()):
        result[q] = ProposalAggregate(
            proposal=q, n_reviews=int(n_p[i]), mean=float(mean_p[i]), normalised=float(norm[i]),
            spread=float(spread[i]),
            disagreement=bool(n_p[i] >= 2 and spread[i] >= DISAGREEMENT_STD_THRESHOLD - 1e-12))
    for q in all_proposals:
        if q not in result:
            result[q] = ProposalAggregate(q, 0, None, None, None, False)
    return result


@dataclass(frozen=True)
class ReviewerStats:
    """A reviewer's submitted weighted scores in a call: count, mean, population standard deviation."""

    n: int
    mean: float
    sd: float

    def z(self, score: float) -> float:
        """z-score of `score` on this reviewer's scale (0 without information about the scale, as above)."""
        if self.n < MIN_REVIEWS_FOR_Z or self.sd < 1e-12:
            return 0.0
        return (score - self.mean) / self.sd


def reviewer_stats_arrays(reviewers, scores) -> dict[int, ReviewerStats]:
    """Statistics of every reviewer (vectorised, two-pass like `reviewer_z_scores`): the cacheable part of
    the normalisation, computed once per call over all its reviews."""
    import numpy as np

    r = np.asarray(reviewers)
    x = np.asarray(scores, dtype=np.float64)
    if x.size == 0:
        return {}
    ur, inv = np.unique(r, return_inverse=True)
    n = np.bincount(inv)
    mean = np.bincount(inv, weights=x) / n
    dev = x - mean[inv]
    sd = np.sqrt(np.bincount(inv, weights=dev * dev) / n)
    return {key: ReviewerStats(int(k), float(m), float(s))
            for key, k, m, s in zip(ur.tolist(), n.tolist(), mean.tolist(), sd.tolist(), strict=True)}


def aggregate_with_stats(reviews: Iterable[ReviewScore], stats: Mapping[object, ReviewerStats],
                         proposals: Iterable[object] = ()) -> dict[object, ProposalAggregate]:
    """Same result as `aggregate`, for a subset of a call's proposals: the z-scores come from `stats`
    (each reviewer's statistics over all their reviews in the call), so that only the reviews of the proposals
    displayed need to be read."""
    by_proposal: dict[object, list[ReviewScore]] = defaultdict(list)
    for review in reviews:
        by_proposal[review.proposal].append(review)
    result = {p: ProposalAggregate(p, 0, None, None, None, False) for p in proposals}
    for proposal, items in by_proposal.items():
        values = [r.score for r in items]
        spread = _pstdev(values)
        result[proposal] = ProposalAggregate(
            proposal=proposal,
            n_reviews=len(items),
            mean=_mean(values),
            normalised=_mean([stats[r.reviewer].z(r.score) for r in items]),
            spread=spread,
            disagreement=len(items) >= 2 and spread >= DISAGREEMENT_STD_THRESHOLD - 1e-12,
        )
    return result
