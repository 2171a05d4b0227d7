"""Search and filters of the proposal lists, checked against the reference aggregation (`scoring.aggregate`) and
plain Python filtering; filtered rankings keep the rank each proposal has in the whole call; a fixed number of
queries at 10,000 proposals."""

from __future__ import annotations

import itertools
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.web.calls.test_ranking import crowded, reference  # noqa: F401,F811  (fixture, reference order)
from tests.web.factories import TerritoryFactory, make_call
from tremplin.web.accounts.models import Membership, Organisation, Sector, User
from tremplin.web.calls import selectors
from tremplin.web.calls.filters import ProposalFilters, proposal_ids
from tremplin.web.calls.models import Assignment, Decision, Proposal, Review, score_cache_invalidate

pytestmark = pytest.mark.django_db


@pytest.fixture
def varied(crowded):  # noqa: F811
    """The crowded call with sectors, territories (a parent and its child) and some decisions."""
    call, proposals, reviewers = crowded
    rng = random.Random(3)
    parent = TerritoryFactory(level="region")
    child = TerritoryFactory(parent=parent)
    other = TerritoryFactory()
    for i, p in enumerate(proposals):
        p.organisation.sector = rng.choice(Sector.values)
        p.organisation.name = f"Organisation {'Alpha' if i % 5 == 0 else 'Beta'} {i}"
        p.organisation.save()
        p.territories.set([rng.choice([parent, child, other])])
        if i % 4 == 0 and p.status == "submitted":
            Decision.objects.create(proposal=p, outcome=rng.choice(["selected", "reserve", "rejected"]), reason="r")
    return call, parent, child, other


def _python(call, filters: ProposalFilters, aggregates) -> set[int]:
    """The same filters written plainly over the objects and the reference aggregates."""
    from tremplin.web.calls.selectors import territory_closure

    kept = set()
    for p in Proposal.objects.filter(call=call, status="submitted").select_related("organisation"):
        a = aggregates[p.pk]
        decision = Decision.objects.filter(proposal=p).first()
        if filters.q and not (filters.q.lower() in p.title.lower() or filters.q.lower() in p.summary.lower()
                              or filters.q.lower() in p.organisation.name.lower() or filters.q.lstrip("#") == str(p.pk)):
            continue
        if filters.sector and p.organisation.sector != filters.sector:
            continue
        if filters.territory:
            from tremplin.web.accounts.models import Territory

            allowed = territory_closure([Territory.objects.get(pk=filters.territory)])
            if not set(p.territories.values_list("pk", flat=True)) & allowed:
                continue
        if filters.status == "undecided" and decision is not None:
            continue
        if filters.status not in ("", "undecided") and (decision is None or decision.outcome != filters.status):
            continue
        if filters.min_score is not None and (a.mean is None or a.mean < filters.min_score - 1e-9):
            continue
        if filters.max_score is not None and (a.mean is None or a.mean > filters.max_score + 1e-9):
            continue
        if filters.disagreement and not a.disagreement:
            continue
        kept.add(p.pk)
    return kept


def test_every_filter_and_combination_matches_plain_python(varied):
    call, parent, child, _other = varied
    aggregates = dict(reference(call))
    assert any(a.disagreement for a in aggregates.values())  # the flag is exercised
    single = [ProposalFilters(q="alpha"), ProposalFilters(q="#5"), ProposalFilters(sector="public"),
              ProposalFilters(territory=parent.pk), ProposalFilters(territory=child.pk),
              ProposalFilters(status="undecided"), ProposalFilters(status="selected"),
              ProposalFilters(min_score=2.0), ProposalFilters(max_score=1.5), ProposalFilters(min_score=1.5, max_score=2.5),
              ProposalFilters(disagreement=True)]
    combined = [ProposalFilters(**{**a.__dict__, **{k: v for k, v in b.__dict__.items() if v not in ("", None, False)}})
                for a, b in itertools.combinations(single, 2)]
    for filters in single + combined:
        assert proposal_ids(call=call, filters=filters) == _python(call, filters, aggregates), filters
    assert proposal_ids(call=call, filters=ProposalFilters(territory=parent.pk)) > proposal_ids(
        call=call, filters=ProposalFilters(territory=child.pk))  # a territory includes those it contains


def test_query_string_values_are_validated():
    bad = ProposalFilters.from_query({"q": "a\x00b", "sector": "nope", "territory": "9" * 30, "min": "NaN",
                                      "max": "1e999", "status": "maybe", "disagreement": "yes"})
    assert bad == ProposalFilters()
    good = ProposalFilters.from_query({"q": " télé ", "sector": "public", "territory": "3", "min": "2,5",
                                       "max": "9", "status": "undecided", "disagreement": "1"})
    assert good == ProposalFilters(q="télé", sector="public", territory=3, min_score=2.5, max_score=4.0,
                                   status="undecided", disagreement=True)
    assert ProposalFilters.from_query(good.params()) == good


@pytest.mark.parametrize("size", [1, 3, 100])
def test_a_filtered_ranking_keeps_the_rank_of_the_whole_call(varied, size):
    call, parent, _child, _other = varied
    full = {r.proposal_id: r for r in selectors.CallRanking(call=call).rows()}
    for filters in (ProposalFilters(territory=parent.pk), ProposalFilters(min_score=2.0), ProposalFilters(q="beta")):
        keep = proposal_ids(call=call, filters=filters)
        ranking = selectors.CallRanking(call=call, keep=keep)
        assert len(ranking) == len(keep)
        rows = [row for start in range(0, len(ranking), size) for row in ranking[start:start + size]]
        assert [r.proposal_id for r in rows] == [pk for pk in full if pk in keep]  # the whole call's order
        assert all(r.rank == full[r.proposal_id].rank for r in rows)
        for r in rows:
            expected = full[r.proposal_id].aggregate
            assert (r.aggregate.n_reviews, r.aggregate.disagreement) == (expected.n_reviews, expected.disagreement)
            for field in ("mean", "normalised", "spread"):
                assert getattr(r.aggregate, field) == pytest.approx(getattr(expected, field), abs=1e-9)


def test_the_ranking_page_filters(client, varied, make_user):
    call, parent, _child, _other = varied
    client.force_login(make_user("programme_manager"))
    response = client.get(reverse("calls:call-ranking", args=[call.pk]), {"territory": parent.pk, "min": "2"})
    shown = [r.proposal_id for r in response.context["rows"]]
    assert set(shown) == proposal_ids(call=call, filters=ProposalFilters(territory=parent.pk, min_score=2.0))
    assert 0 < len(shown) < 40
    response = client.get(reverse("calls:call-assignments", args=[call.pk]), {"disagreement": "1"})
    assert {p.pk for p, _items in response.context["rows"]} == proposal_ids(
        call=call, filters=ProposalFilters(disagreement=True))


# --- 10,000 proposals: a fixed number of queries -------------------------------------------------------------


def _build(call, n: int, seed: int = 1) -> None:
    """n submitted proposals of 50 organisations (all sectors) with 3 reviews each, written in bulk."""
    rng = random.Random(seed)
    sectors = Sector.values
    base = Organisation.objects.count()
    orgs = Organisation.objects.bulk_create([Organisation(name=f"Organisation en lot {base + i}",
                                                          sector=sectors[i % len(sectors)], kind="hospital")
                                             for i in range(50)])
    reviewers = User.objects.bulk_create([User(username=f"lot{base}-{i}", email=f"lot{base}-{i}@example.org")
                                          for i in range(30)])
    Membership.objects.bulk_create([Membership(user=u, organisation=orgs[0], role="reviewer") for u in reviewers])
    proposals = Proposal.objects.bulk_create([
        Proposal(call=call, title=f"Proposition {i}", summary="s", description="d", organisation=orgs[i % 50],
                 requested_amount=rng.randint(10, 250) * 1000, status="submitted") for i in range(n)],
        batch_size=2000)
    assignments, reviews = [], []
    for p in proposals:
        for u in rng.sample(reviewers, 3):
            assignments.append(Assignment(proposal=p, reviewer=u))
            reviews.append(Review(proposal=p, reviewer=u, status="submitted", weighted_score=rng.choice(
                [0.5, 1.0, 2.0, 2.5, 3.0, 3.5, 4.0])))
    Assignment.objects.bulk_create(assignments, batch_size=5000)
    Review.objects.bulk_create(reviews, batch_size=5000)
    score_cache_invalidate(call.pk)  # bulk writes bypass the signals


def _queries(client, url, params) -> tuple[int, object]:
    client.get(url, params)  # warm-up (reviewer statistics cached)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


FILTERS = {"q": "Proposition 1", "sector": "public", "min": "1", "max": "3.5", "status": "undecided",
           "disagreement": "1"}


def test_lists_are_served_at_10000_proposals_with_the_query_count_of_a_small_call(client, make_user):
    manager = make_user("programme_manager")
    client.force_login(manager)
    small, large = make_call("deliberation", title="Petit"), make_call("deliberation", title="Grand")
    _build(small, 150)  # more than a page: the same code paths as the large call
    _build(large, 10_000, seed=2)
    counts = {}
    for name in ("calls:call-ranking", "calls:call-assignments"):
        # suggest=1: the knapsack suggestion is computed at both sizes (only on request above 2,000 proposals).
        for params in ({"suggest": "1"}, {**FILTERS, "suggest": "1"},
                       {"territory": TerritoryFactory().pk, "disagreement": "1"}):
            few, _r = _queries(client, reverse(name, args=[small.pk]), params)
            many, response = _queries(client, reverse(name, args=[large.pk]), params)
            assert many <= few, (name, params, few, many)
            counts[name, tuple(params)] = many
    assert max(counts.values()) < 40, counts
    # The filtered rows are the right ones at that size too.
    _n, response = _queries(client, reverse("calls:call-ranking", args=[large.pk]), {"min": "3.9"})
    expected = proposal_ids(call=large, filters=ProposalFilters(min_score=3.9))
    assert response.context["total"] == len(expected) > 0
    assert {r.proposal_id for r in response.context["rows"]} <= expected
