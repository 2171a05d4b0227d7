"""Review aggregation for calls: the calls' vocabulary (reviewers, proposals, reviews) over the shared panel
arithmetic of `tremplin.web.core.panel_scoring` (no Django there; the rules are documented in that module):

- Weighted mean of a review over the call's criteria (scores 0–4).
- Reviewer-normalised score: mean z-score of a proposal's reviews, each z on its reviewer's scale in the call
  (0 for a reviewer with fewer than `MIN_REVIEWS_FOR_Z` reviews or no variation).
- Spread: population standard deviation of the weighted scores a proposal received.
- Strong disagreement: spread >= `DISAGREEMENT_STD_THRESHOLD` (1.0 point on the 0–4 scale) with two reviews or more.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from tremplin.web.core import panel_scoring as panel
from tremplin.web.core.panel_scoring import (  # noqa: F401  (re-exported: the calls' public names)
    DISAGREEMENT_STD_THRESHOLD,
    SCORE_MAX,
    SCORE_MIN,
    weighted_mean,
)
from tremplin.web.core.panel_scoring import MIN_RATINGS_FOR_Z as MIN_REVIEWS_FOR_Z  # noqa: F401
from tremplin.web.core.panel_scoring import ScorerStats as ReviewerStats
from tremplin.web.core.panel_scoring import scorer_stats_arrays as reviewer_stats_arrays  # noqa: F401


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


def _ratings(reviews: Iterable[ReviewScore]) -> Iterator[panel.Rating]:
    return ((r.reviewer, r.proposal, r.score) for r in reviews)


def reviewer_z_scores(reviews: Iterable[ReviewScore]) -> dict[tuple[object, object], float]:
    """z-score of each (reviewer, proposal) review among the reviewer's reviews (0 when undefined)."""
    return panel.scorer_z_scores(_ratings(reviews))


def aggregate(reviews: Iterable[ReviewScore], proposals: Iterable[object] = ()) -> dict[object, ProposalAggregate]:
    """Aggregate submitted reviews per proposal (proposals without reviews get an empty aggregate)."""
    return panel.aggregate(_ratings(reviews), proposals, factory=ProposalAggregate)


def aggregate_arrays(reviewers, proposals, scores, all_proposals: Iterable[object] = ()
                     ) -> dict[object, ProposalAggregate]:
    """Same result as `aggregate`, vectorised with NumPy for large calls (tens of thousands of reviews)."""
    return panel.aggregate_arrays(reviewers, proposals, scores, all_proposals, factory=ProposalAggregate)


def aggregate_with_stats(reviews: Iterable[ReviewScore], stats: Mapping[object, ReviewerStats],
                         proposals: Iterable[object] = ()) -> dict[object, ProposalAggregate]:
    """Same result as `aggregate`, for a subset of a call's proposals: the z-scores come from `stats`
    (each reviewer's statistics over all their reviews in the call, see `reviewer_stats_arrays`), so that only the
    reviews of the proposals displayed need to be read."""
    return panel.aggregate_with_stats(_ratings(reviews), stats, proposals, factory=ProposalAggregate)
