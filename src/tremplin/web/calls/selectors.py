"""Reads for calls: visibility per user, blind review, the reviewer queue, aggregated rankings."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from tremplin.web.accounts.models import Membership, Territory, User
from tremplin.web.calls import scoring
from tremplin.web.calls.models import (
    Assignment,
    Call,
    Conflict,
    Decision,
    Phase,
    Proposal,
    ProposalStatus,
    Review,
    ReviewStatus,
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
    or declared a conflict on the proposal or its organisations."""
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
    for reviewer_id, proposal_id, org_id in Conflict.objects.filter(call=call).values_list(
            "reviewer_id", "proposal_id", "organisation_id"):
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
    requested_amount: Decimal
    aggregate: scoring.ProposalAggregate
    n_assigned: int
    outcome: str | None  # the recorded decision (held or released)
    rank: int | None
    proposal: Proposal | None = None  # filled by `ranking_hydrate`
    decision: Decision | None = None  # filled by `ranking_hydrate`


def call_ranking(*, call: Call, hydrate: bool = True) -> list[RankedProposal]:
    """Submitted proposals ranked by mean weighted score (then normalised score, then id).

    Computed from plain tuples (4 queries, vectorised aggregation) so that it stays fast with thousands of
    proposals; `hydrate=False` leaves the model objects to `ranking_hydrate` (e.g. for one page only).
    """
    submitted = Proposal.objects.filter(call=call, status=ProposalStatus.SUBMITTED)
    amounts = dict(submitted.values_list("pk", "requested_amount"))
    assigned = dict(Assignment.objects.filter(proposal__in=submitted).values("proposal_id")
                    .annotate(n=Count("id")).values_list("proposal_id", "n"))
    outcomes = dict(Decision.objects.filter(proposal__in=submitted).values_list("proposal_id", "outcome"))
    reviews = list(Review.objects.filter(proposal__in=submitted, status=ReviewStatus.SUBMITTED,
                                         weighted_score__isnull=False)
                   .values_list("reviewer_id", "proposal_id", "weighted_score"))
    aggregates = scoring.aggregate_arrays([r[0] for r in reviews], [r[1] for r in reviews],
                                          [r[2] for r in reviews], all_proposals=amounts)

    def key(pk):
        a = aggregates[pk]
        return (a.mean is None, -(a.mean or 0), -(a.normalised or 0), pk)

    rows = []
    rank = 0
    for pk in sorted(amounts, key=key):
        a = aggregates[pk]
        if a.mean is not None:
            rank += 1
        rows.append(RankedProposal(pk, amounts[pk], a, assigned.get(pk, 0), outcomes.get(pk),
                                   rank if a.mean is not None else None))
    if hydrate:
        ranking_hydrate(rows)
    return rows


def ranking_hydrate(rows: list[RankedProposal]) -> list[RankedProposal]:
    """Attach the proposals (with their organisation) and decisions to `rows`: 2 queries."""
    ids = [r.proposal_id for r in rows]
    proposals = Proposal.objects.select_related("organisation").in_bulk(ids)
    decisions = {d.proposal_id: d for d in Decision.objects.filter(proposal_id__in=ids)}
    for r in rows:
        r.proposal = proposals[r.proposal_id]
        r.decision = decisions.get(r.proposal_id)
    return rows


def selected_for_portfolio() -> QuerySet[Proposal]:
    """Proposals selected in a released call: what the portfolio app turns into experiments."""
    return Proposal.objects.filter(selected_at__isnull=False).select_related("call", "organisation")
