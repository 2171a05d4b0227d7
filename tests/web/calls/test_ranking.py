"""The ranked list computed page by page (`selectors.CallRanking`: SQL means, cached reviewer statistics) gives the
same order and numbers as the reference aggregation over every review (`scoring.aggregate`), and the cached
reviewer statistics follow every change of the reviews and proposals."""

from __future__ import annotations

import random

import pytest

from tests.web.factories import OrganisationFactory, ProposalFactory, make_call
from tremplin.web.calls import scoring, selectors
from tremplin.web.calls.models import Proposal, Review, ScoreCache
from tremplin.web.calls.scoring import ReviewScore

pytestmark = pytest.mark.django_db


def reference(call) -> list[tuple[int, scoring.ProposalAggregate]]:
    """Order and aggregates from the pure reference function over all the counted reviews."""
    reviews = Review.objects.filter(proposal__call=call, proposal__status="submitted", status="submitted",
                                    weighted_score__isnull=False)
    submitted = list(Proposal.objects.filter(call=call, status="submitted").values_list("pk", flat=True))
    agg = scoring.aggregate([ReviewScore(r.reviewer_id, r.proposal_id, r.weighted_score) for r in reviews],
                            proposals=submitted)
    order = sorted(submitted, key=lambda pk: (agg[pk].mean is None, -(agg[pk].mean or 0),
                                              -(agg[pk].normalised or 0), pk))
    return [(pk, agg[pk]) for pk in order]


def assert_same(rows: list[selectors.RankedProposal], expected) -> None:
    assert [r.proposal_id for r in rows] == [pk for pk, _a in expected]
    rank = 0
    for row, (_pk, e) in zip(rows, expected, strict=True):
        rank += e.mean is not None
        assert row.rank == (rank if e.mean is not None else None)
        assert (row.aggregate.n_reviews, row.aggregate.disagreement) == (e.n_reviews, e.disagreement)
        for field in ("mean", "normalised", "spread"):
            if getattr(e, field) is None:
                assert getattr(row.aggregate, field) is None
            else:
                assert getattr(row.aggregate, field) == pytest.approx(getattr(e, field), abs=1e-9)


@pytest.fixture
def crowded(make_user):
    """40 submitted proposals (many tied means: scores on a 0.5 grid), 2 drafts, 1 withdrawn; 6 reviewers with
    different scales, one who always gives the same score, one with a single review; some unreviewed proposals."""
    rng = random.Random(7)
    call = make_call("deliberation")
    reviewers = [make_user("reviewer") for _ in range(6)]
    proposals = [ProposalFactory(call=call, organisation=OrganisationFactory(), requested_amount=rng.randint(1, 9) * 10_000)
                 for _ in range(40)]
    proposals += [ProposalFactory(call=call, organisation=OrganisationFactory(), status=s)
                  for s in ("draft", "draft", "withdrawn")]
    offsets = [0.0, 1.0, -0.5, 0.5, 0.0, 0.0]
    for p in proposals[:34]:
        for i in rng.sample(range(5), rng.randint(1, 3)):
            score = 2.0 if i == 4 else min(4.0, max(0.0, rng.choice([1.0, 1.5, 2.0, 2.5, 3.0]) + offsets[i]))
            Review.objects.create(proposal=p, reviewer=reviewers[i], status="submitted", weighted_score=score)
    Review.objects.create(proposal=proposals[0], reviewer=reviewers[5], status="submitted", weighted_score=3.5)
    Review.objects.create(proposal=proposals[1], reviewer=reviewers[5], status="draft", weighted_score=None)
    Review.objects.create(proposal=proposals[41], reviewer=reviewers[0], status="submitted", weighted_score=4.0)
    return call, proposals, reviewers


@pytest.mark.parametrize("size", [1, 4, 7, 100])
def test_pages_match_the_reference_order_and_numbers(crowded, size):
    call, _proposals, _reviewers = crowded
    expected = reference(call)
    assert len({a.mean for _pk, a in expected if a.mean is not None}) < 30  # ties on the mean, ordered by z
    ranking = selectors.CallRanking(call=call)
    assert len(ranking) == 40
    rows = [row for start in range(0, len(ranking), size) for row in ranking[start:start + size]]
    assert_same(rows, expected)
    assert all(r.proposal.pk == r.proposal_id and r.n_assigned == 0 for r in rows)


def test_the_full_list_and_the_suggestion_inputs_match_the_reference(crowded):
    call, _proposals, _reviewers = crowded
    expected = reference(call)
    assert_same(selectors.call_ranking(call=call, hydrate=False), expected)
    scored = selectors.CallRanking(call=call).scored(2.0)
    assert {pk for pk, _amount, _mean in scored} == {pk for pk, a in expected if a.mean is not None and a.mean >= 2}


def test_the_reviewer_statistics_are_cached_then_rebuilt_after_each_change(crowded, django_assert_num_queries):
    call, proposals, reviewers = crowded
    selectors.reviewer_stats(call=call)
    cache = ScoreCache.objects.get(call=call)
    assert cache.stats_version == cache.version
    with django_assert_num_queries(1):  # fresh: read from the cache
        stats = selectors.reviewer_stats(call=call)
    assert stats[reviewers[4].pk].sd == 0 and stats[reviewers[5].pk].n == 1

    def check():  # page by page, as the ranked list: the z-scores come from the cached statistics
        ranking = selectors.CallRanking(call=call)
        assert_same([row for start in range(0, len(ranking), 7) for row in ranking[start:start + 7]],
                    reference(call))
        cache = ScoreCache.objects.get(call=call)
        assert cache.stats_version == cache.version

    review = Review.objects.filter(proposal=proposals[2]).first()
    review.weighted_score = 4.0 if review.weighted_score < 2 else 0.0  # changes the reviewer's mean and sd
    review.save()
    assert ScoreCache.objects.get(call=call).stats_version != ScoreCache.objects.get(call=call).version
    check()
    Review.objects.create(proposal=proposals[36], reviewer=reviewers[5], status="submitted", weighted_score=0.5)
    check()
    Review.objects.filter(proposal=proposals[3]).delete()
    check()
    draft = Review.objects.get(proposal=proposals[1], reviewer=reviewers[5])
    draft.status, draft.weighted_score = "submitted", 1.0
    draft.save()
    check()
    withdrawn = proposals[4]
    withdrawn.status = "withdrawn"
    withdrawn.save()
    check()
    assert withdrawn.pk not in [r.proposal_id for r in selectors.CallRanking(call=call).rows()]


def test_writes_bump_only_their_call(crowded):
    call, proposals, reviewers = crowded
    other = make_call("deliberation", title="Autre appel")
    selectors.reviewer_stats(call=call)
    selectors.reviewer_stats(call=other)
    before = dict(ScoreCache.objects.values_list("call_id", "version"))
    Review.objects.create(proposal=proposals[37], reviewer=reviewers[1], status="submitted", weighted_score=2.0)
    after = dict(ScoreCache.objects.values_list("call_id", "version"))
    assert after[call.pk] == before[call.pk] + 1 and after[other.pk] == before[other.pk]


def test_a_review_submitted_through_the_service_refreshes_the_ranking(reviewed):
    from tests.web.calls.conftest import set_phase
    from tremplin.web.calls import services

    call = reviewed.call
    before = {r.proposal_id: r.aggregate.mean for r in selectors.call_ranking(call=call)}
    set_phase(call, "review")
    proposal = reviewed.proposals[1]
    reviewer = proposal.assignments.first().reviewer
    services.review_save(proposal=proposal, reviewer=reviewer, submit=True, comment="Revu",
                         scores={c.pk: (4, "") for c in call.criteria.all()})
    set_phase(call, "deliberation")
    rows = selectors.call_ranking(call=call)
    assert {r.proposal_id: r.aggregate.mean for r in rows}[proposal.pk] != before[proposal.pk]
    assert_same(rows, reference(call))
