"""Reads for calls: visibility per user, blind review, the reviewer queue, aggregated rankings."""

from __future__ import annotations

import bisect
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connections
from django.db.models import Avg, Count, F, FilteredRelation, Q, QuerySet, Sum
from django.utils import timezone

from tremplin.web.accounts.models import Membership, Territory, User
from tremplin.web.calls import scoring
from tremplin.web.calls.models import (
    Assignment,
    Call,
    Conflict,
    ConflictStatus,
    Decision,
    Outcome,
    Phase,
    Proposal,
    ProposalStatus,
    Review,
    ReviewStatus,
    ScoreCache,
    Visibility,
)


def is_manager(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.has_role("admin", "programme_manager")))


def call_list_for_user(*, user) -> QuerySet[Call]:
    """Managers see every call; others see calls once they are open (drafts stay hidden)."""
    qs = Call.objects.annotate(
        proposal_count=Count("proposals", filter=Q(proposals__status=ProposalStatus.SUBMITTED), distinct=True))
    if not is_manager(user):
        qs = qs.filter(opens_at__lte=timezone.now())
    return qs.order_by("-opens_at", "-pk")


def proposal_list_for_user(*, user, call: Call | None = None) -> QuerySet[Proposal]:
    """Managers: all proposals; applicants: their organisations' proposals; reviewers: assigned ones only."""
    qs = Proposal.objects.select_related("call", "organisation")
    if call is not None:
        qs = qs.filter(call=call)
    if is_manager(user):
        return qs
    if not user.is_authenticated:
        return qs.none()
    org_ids = Membership.objects.filter(user=user).values("organisation_id")
    assigned = Assignment.objects.filter(reviewer=user).values("proposal_id")
    return qs.filter(Q(organisation_id__in=org_ids) | Q(pk__in=assigned))


def my_proposals(*, user) -> QuerySet[Proposal]:
    org_ids = Membership.objects.filter(user=user).values("organisation_id")
    return (Proposal.objects.filter(organisation_id__in=org_ids).select_related("call", "organisation", "decision")
            .order_by("-created_at", "-pk"))


def user_organisation_ids(user) -> frozenset[int]:
    """Organisations the user belongs to (cached on the user object for the request)."""
    cache = getattr(user, "_calls_org_ids", None)
    if cache is None:
        cache = frozenset(Membership.objects.filter(user=user).values_list("organisation_id", flat=True)) \
            if user.is_authenticated else frozenset()
        user._calls_org_ids = cache
    return cache


def identity_hidden(*, user, proposal: Proposal) -> bool:
    """Blind review: the applicant identity is hidden from everyone but managers and the applicants."""
    if not proposal.call.blind_review or is_manager(user):
        return False
    return proposal.organisation_id not in user_organisation_ids(user)


def territory_closure(territories) -> set[int]:
    """Ids of the given territories and every territory they contain."""
    ids = {t.pk for t in territories}
    frontier = set(ids)
    while frontier:
        children = set(Territory.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) - ids
        ids |= children
        frontier = children
    return ids


def reviewer_pool() -> QuerySet[User]:
    """Users with the reviewer role (the expert panel)."""
    return User.objects.filter(memberships__role="reviewer", is_active=True).distinct().order_by("pk")


def forbidden_pairs(*, call: Call) -> set[tuple[int, int]]:
    """(proposal, reviewer) pairs never allowed: the reviewer is in the proposal's organisation or a partner,
    or declared a conflict on the proposal or its organisations (pending or accepted, not dismissed)."""
    proposals = list(Proposal.objects.filter(call=call).values_list("pk", "organisation_id"))
    orgs: dict[int, set[int]] = {pk: {org} for pk, org in proposals}
    for pk, org in Proposal.partners.through.objects.filter(proposal__call=call).values_list(
            "proposal_id", "organisation_id"):
        orgs[pk].add(org)
    members: dict[int, set[int]] = {}
    for user_id, org in Membership.objects.values_list("user_id", "organisation_id"):
        members.setdefault(org, set()).add(user_id)
    conflict_orgs: dict[int, set[int]] = {}
    forbidden: set[tuple[int, int]] = set()
    declared = Conflict.objects.filter(call=call).exclude(status=ConflictStatus.DISMISSED)
    for reviewer_id, proposal_id, org_id in declared.values_list("reviewer_id", "proposal_id", "organisation_id"):
        if proposal_id:
            forbidden.add((proposal_id, reviewer_id))
        if org_id:
            conflict_orgs.setdefault(org_id, set()).add(reviewer_id)
    for pk, org_ids in orgs.items():
        for org in org_ids:
            for user_id in members.get(org, ()):
                forbidden.add((pk, user_id))
            for user_id in conflict_orgs.get(org, ()):
                forbidden.add((pk, user_id))
    return forbidden


def conflict_covers(conflict: Conflict, proposal: Proposal) -> bool:
    """Whether the conflict is on the proposal or on its organisation or one of its partners (prefetch the
    partners when calling this in a loop)."""
    if conflict.proposal_id is not None:
        return conflict.proposal_id == proposal.pk
    return conflict.organisation_id in {proposal.organisation_id, *(o.pk for o in proposal.partners.all())}


@dataclass(frozen=True)
class ConflictRow:
    conflict: Conflict
    covered: list[tuple[Assignment, Review | None]]  # the reviewer's assignments the conflict covers


def conflicts_for_manager(*, call: Call) -> list[ConflictRow]:
    """Every conflict declared in the call (pending first), with the reviewer's assignments it covers and their
    reviews: a constant number of queries."""
    conflicts = list(Conflict.objects.filter(call=call).select_related("reviewer", "proposal", "organisation",
                                                                        "decided_by"))
    reviewer_ids = {c.reviewer_id for c in conflicts}
    assignments = list(Assignment.objects.filter(proposal__call=call, reviewer_id__in=reviewer_ids)
                       .select_related("proposal").prefetch_related("proposal__partners").order_by("proposal_id"))
    reviews = {(r.proposal_id, r.reviewer_id): r for r in Review.objects.filter(
        proposal__call=call, reviewer_id__in=reviewer_ids)}
    rows = [ConflictRow(c, [(a, reviews.get((a.proposal_id, a.reviewer_id))) for a in assignments
                            if a.reviewer_id == c.reviewer_id and conflict_covers(c, a.proposal)])
            for c in conflicts]
    return sorted(rows, key=lambda r: (r.conflict.status != ConflictStatus.REQUESTED, r.conflict.pk))


@dataclass(frozen=True)
class QueueItem:
    assignment: Assignment
    review: Review | None

    @property
    def done(self) -> bool:
        return self.review is not None and self.review.status == ReviewStatus.SUBMITTED


def review_queue(*, user, call: Call | None = None) -> list[QueueItem]:
    """The reviewer's assignments (pending first), with their own review if any: a constant number of queries."""
    assignments = (Assignment.objects.filter(reviewer=user, proposal__status=ProposalStatus.SUBMITTED)
                   .select_related("proposal", "proposal__call").order_by("proposal__call_id", "proposal_id"))
    if call is not None:
        assignments = assignments.filter(proposal__call=call)
    assignments = list(assignments)
    reviews = {r.proposal_id: r for r in Review.objects.filter(
        reviewer=user, proposal_id__in=[a.proposal_id for a in assignments])}
    items = [QueueItem(a, reviews.get(a.proposal_id)) for a in assignments]
    return sorted(items, key=lambda i: (i.done, i.assignment.proposal.call_id, i.assignment.proposal_id))


def next_pending(*, user, after: Proposal) -> Proposal | None:
    for item in review_queue(user=user, call=after.call):
        if not item.done and item.assignment.proposal_id != after.pk:
            return item.assignment.proposal
    return None


def others_reviews_visible(*, user, proposal: Proposal, own: Review | None, when=None) -> bool:
    """Whether `user` may read the other reviewers' reviews of `proposal` (call setting per phase)."""
    if is_manager(user):
        return True
    call = proposal.call
    phase = call.phase_at(when)
    setting = call.visibility_during_review if phase in (Phase.OPEN, Phase.REVIEW) else call.visibility_after_review
    if setting == Visibility.ALWAYS:
        return True
    if setting == Visibility.AFTER_OWN:
        return own is not None and own.status == ReviewStatus.SUBMITTED
    return False


@dataclass
class RankedProposal:
    proposal_id: int
    requested_amount: Decimal | None
    aggregate: scoring.ProposalAggregate
    n_assigned: int
    outcome: str | None  # the recorded decision (held or released)
    rank: int | None
    proposal: Proposal | None = None  # filled by `ranking_hydrate`
    decision: Decision | None = None  # filled by `ranking_hydrate`


# Above this many proposals, the reads by proposal id filter by call instead (long IN lists).
_IN_LIST_MAX = 500


def _submitted_reviews(call: Call) -> QuerySet[Review]:
    """The reviews that count in the ranking: submitted, complete, not withdrawn (accepted conflict), on a
    submitted proposal of the call."""
    return Review.objects.filter(proposal__call=call, proposal__status=ProposalStatus.SUBMITTED,
                                 status=ReviewStatus.SUBMITTED, weighted_score__isnull=False,
                                 withdrawn_at__isnull=True).order_by()


def _for_proposals(qs: QuerySet, ids: list[int], call: Call, path: str = "proposal__") -> QuerySet:
    """`qs` restricted to the proposals `ids` (`path` leads to the proposal), or to the call's for long lists
    (then filter in Python)."""
    if len(ids) <= _IN_LIST_MAX:
        return qs.filter(**{f"{path}pk__in": ids})
    return qs.filter(**{f"{path}call": call})


def reviewer_stats(*, call: Call, refresh: bool = False) -> dict[int, scoring.ReviewerStats]:
    """Each reviewer's count, mean and standard deviation over their submitted scores in the call (the
    z-scores' scale), from `ScoreCache`: 1 query when fresh, rebuilt from the call's reviews after a change."""
    columns = ("version", "stats_version", "reviewer_stats")
    row = ScoreCache.objects.filter(call=call).values_list(*columns).first()
    if row is None:
        ScoreCache.objects.bulk_create([ScoreCache(call=call)], ignore_conflicts=True)
        row = ScoreCache.objects.filter(call=call).values_list(*columns).get()
    version, stats_version, cached = row
    if stats_version == version and not refresh:
        return {int(k): scoring.ReviewerStats(*v) for k, v in cached.items()}
    # The version is read before the reviews: a change committed meanwhile bumps it again (rebuilt next time).
    pairs = list(_submitted_reviews(call).values_list("reviewer_id", "weighted_score"))
    stats = scoring.reviewer_stats_arrays([r for r, _x in pairs], [x for _r, x in pairs])
    ScoreCache.objects.filter(call=call).update(
        stats_version=version, reviewer_stats={str(k): [s.n, s.mean, s.sd] for k, s in stats.items()})
    return stats


class CallRanking(Sequence):
    """A call's submitted proposals ranked by mean weighted score, then normalised score, then id.

    The order comes from one aggregate query (count and mean of the scores per proposal, in SQL, best first);
    the normalised score, spread and model objects are computed only for the rows asked for (slicing, e.g. by a
    Paginator) and the proposals tied with them on the mean, whose order depends on the normalised score. The
    z-scores use the cached reviewer statistics (`reviewer_stats`). Same results as `scoring.aggregate` over all
    the reviews; a few queries whatever the size of the call.
    """

    def __init__(self, *, call: Call, keep: set[int] | None = None):
        """`keep`: the ids the list shows (filters); rows keep their rank in the whole call."""
        self.call = call
        self.keep = keep
        scored = FilteredRelation("reviews", condition=Q(reviews__status=ReviewStatus.SUBMITTED,
                                                        reviews__weighted_score__isnull=False,
                                                        reviews__withdrawn_at__isnull=True))
        query = (Proposal.objects.filter(call=call, status=ProposalStatus.SUBMITTED).order_by().values("pk")
                 .annotate(scored=scored).annotate(n=Count("scored"), mean=Avg("scored__weighted_score"))
                 .order_by(F("mean").desc(nulls_last=True), "pk").values_list("pk", "n", "mean"))
        # The ORM writes the SQL; the rows (integers, floats) are read without its per-row converters (10,000+).
        sql, params = query.query.sql_with_params()
        with connections[query.db].cursor() as cursor:
            cursor.execute(sql, params)
            self._order: list[tuple[int, int, float | None]] = cursor.fetchall()
        # Positions (in the whole ranking) of the rows the list shows.
        self._view = range(len(self._order)) if keep is None else [
            i for i, row in enumerate(self._order) if row[0] in keep]

    def __len__(self) -> int:
        return len(self._view)

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("a ranking is sliced with step 1")
            return self.rows(start, stop)
        position = operator.index(index)
        position += len(self) if position < 0 else 0
        if not 0 <= position < len(self):
            raise IndexError(index)
        return self.rows(position, position + 1)[0]

    def means(self) -> list[tuple[int, float]]:
        """(proposal id, mean weighted score) of the reviewed proposals, best first."""
        return [(pk, mean) for pk, n, mean in self._order if n]

    def ids(self) -> list[int]:
        """Ids of the rows the list shows, in the order of the aggregate (ties not broken)."""
        return [self._order[i][0] for i in self._view]

    def rows(self, start: int = 0, stop: int | None = None, *, hydrate: bool = True) -> list[RankedProposal]:
        """Rows `start` to `stop` (positions in the list shown) with their aggregates and their rank in the whole
        call; `hydrate` attaches the proposals and decisions (otherwise only the amounts and outcomes)."""
        order, view = self._order, self._view
        stop = len(view) if stop is None else min(stop, len(view))
        if start >= stop:
            return []
        # Widened to whole groups of equal means (in the whole ranking): their order depends on the normalised score
        lo, hi = view[start], view[stop - 1] + 1
        while lo > 0 and order[lo][2] is not None and order[lo - 1][2] == order[lo][2]:
            lo -= 1
        while hi < len(order) and order[hi - 1][2] is not None and order[hi][2] == order[hi - 1][2]:
            hi += 1
        span = order[lo:hi]
        first = start - bisect.bisect_left(view, lo)  # position in `shown` of the first row asked for
        aggregates = self._aggregates([pk for pk, n, _mean in span if n])
        empty = scoring.ProposalAggregate(None, 0, None, None, None, False)
        span.sort(key=lambda row: (row[2] is None, -(row[2] or 0),
                                   -(aggregates.get(row[0], empty).normalised or 0), row[0]))
        ranks = {row[0]: lo + i + 1 for i, row in enumerate(span) if row[1]}
        shown = span if self.keep is None else [row for row in span if row[0] in self.keep]
        rows = []
        for offset in range(first, first + stop - start):
            pk, n, _mean = shown[offset]
            aggregate = aggregates.get(pk) or scoring.ProposalAggregate(pk, 0, None, None, None, False)
            rows.append(RankedProposal(pk, None, aggregate, 0, None, ranks.get(pk)))
        _attach(rows, call=self.call, hydrate=hydrate)
        return rows

    def scored(self, min_score: float = 0.0) -> list[tuple[int, Decimal, float]]:
        """(proposal id, requested amount, mean score) of the reviewed proposals with a mean >= `min_score`."""
        amounts = dict(Proposal.objects.filter(call=self.call, status=ProposalStatus.SUBMITTED).order_by()
                       .values_list("pk", "requested_amount"))
        return [(pk, amounts[pk], mean) for pk, mean in self.means() if mean >= min_score and pk in amounts]

    def _aggregates(self, ids: list[int]) -> dict[int, scoring.ProposalAggregate]:
        if not ids:
            return {}
        if len(ids) == len(self.means()):  # every reviewed proposal (full list, export): vectorised, no cache
            triples = list(_submitted_reviews(self.call).values_list("reviewer_id", "proposal_id", "weighted_score"))
            return scoring.aggregate_arrays(*zip(*triples, strict=True)) if triples else {}
        wanted = set(ids)
        reviews = [scoring.ReviewScore(r, p, x) for r, p, x in _for_proposals(
            _submitted_reviews(self.call), ids, self.call).values_list("reviewer_id", "proposal_id", "weighted_score")
            if p in wanted]
        stats = reviewer_stats(call=self.call)
        if any(r.reviewer not in stats for r in reviews):  # a review submitted since the statistics were read
            stats = reviewer_stats(call=self.call, refresh=True)
        unknown = scoring.ReviewerStats(0, 0.0, 0.0)
        stats = {r.reviewer: stats.get(r.reviewer, unknown) for r in reviews}
        return scoring.aggregate_with_stats(reviews, stats)


def _attach(rows: list[RankedProposal], *, call: Call, hydrate: bool) -> None:
    ids = [r.proposal_id for r in rows]
    assigned = dict(_for_proposals(Assignment.objects.order_by(), ids, call).values("proposal_id")
                    .annotate(n=Count("id")).values_list("proposal_id", "n"))
    for r in rows:
        r.n_assigned = assigned.get(r.proposal_id, 0)
    if hydrate:
        ranking_hydrate(rows, call=call)
        for r in rows:
            r.requested_amount = r.proposal.requested_amount
            r.outcome = r.decision.outcome if r.decision else None
        return
    amounts = dict(_for_proposals(Proposal.objects.order_by(), ids, call, path="")
                   .values_list("pk", "requested_amount"))
    outcomes = dict(_for_proposals(Decision.objects.order_by(), ids, call).values_list("proposal_id", "outcome"))
    for r in rows:
        r.requested_amount = amounts[r.proposal_id]
        r.outcome = outcomes.get(r.proposal_id)


def call_ranking(*, call: Call, hydrate: bool = True) -> list[RankedProposal]:
    """Every submitted proposal of the call, ranked (see `CallRanking`; list pages slice a `CallRanking`)."""
    return CallRanking(call=call).rows(hydrate=hydrate)


def ranking_totals(*, call: Call) -> tuple[Decimal, int]:
    """Budget of the proposals decided as selected, and the number of submitted proposals without a decision."""
    totals = Proposal.objects.filter(call=call, status=ProposalStatus.SUBMITTED).order_by().aggregate(
        selected=Sum("requested_amount", filter=Q(decision__outcome=Outcome.SELECTED)),
        undecided=Count("pk", filter=Q(decision__isnull=True)))
    return totals["selected"] or Decimal(0), totals["undecided"]


def ranking_hydrate(rows: list[RankedProposal], *, call: Call | None = None) -> list[RankedProposal]:
    """Attach the proposals (with their organisation) and decisions to `rows`: 2 queries."""
    ids = [r.proposal_id for r in rows]
    if call is None or len(ids) <= _IN_LIST_MAX:
        proposals = Proposal.objects.select_related("organisation").in_bulk(ids)
        decisions = {d.proposal_id: d for d in Decision.objects.filter(proposal_id__in=ids)}
    else:
        proposals = Proposal.objects.select_related("organisation").filter(call=call).in_bulk()
        decisions = {d.proposal_id: d for d in Decision.objects.filter(proposal__call=call)}
    for r in rows:
        r.proposal = proposals[r.proposal_id]
        r.decision = decisions.get(r.proposal_id)
    return rows


def selected_for_portfolio() -> QuerySet[Proposal]:
    """Proposals selected in a released call: what the portfolio app turns into experiments."""
    return Proposal.objects.filter(selected_at__isnull=False).select_related("call", "organisation")
