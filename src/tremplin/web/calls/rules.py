"""Object-level permissions for calls, proposals, reviews (rules predicates)."""

from __future__ import annotations

import rules

from tremplin.web.accounts.rules import has_role, is_platform_admin
from tremplin.web.calls.models import Attachment, Phase, Proposal

is_manager = is_platform_admin | has_role("programme_manager")
is_innovator = has_role("innovator")
is_reviewer = has_role("reviewer")


def _proposal(obj) -> Proposal | None:
    if isinstance(obj, Attachment):
        return obj.proposal
    return obj if isinstance(obj, Proposal) else None


@rules.predicate
def call_is_visible(user, call) -> bool:
    return call is not None and call.phase != Phase.DRAFT


@rules.predicate
def call_is_open(user, call) -> bool:
    return call is not None and call.phase == Phase.OPEN


@rules.predicate
def call_is_released(user, call) -> bool:
    return call is not None and call.decisions_released_at is not None


@rules.predicate
def is_applicant(user, obj) -> bool:
    """Member of the proposal's lead organisation (the applicants)."""
    proposal = _proposal(obj)
    if proposal is None or not user.is_authenticated:
        return False
    from tremplin.web.calls.selectors import user_organisation_ids

    return proposal.organisation_id in user_organisation_ids(user)


@rules.predicate
def is_assigned_reviewer(user, obj) -> bool:
    proposal = _proposal(obj)
    if proposal is None or not user.is_authenticated:
        return False
    return proposal.assignments.filter(reviewer=user).exists()


rules.add_perm("calls.view_call_list", rules.always_allow)  # public: open calls are for everyone to find
rules.add_perm("calls.view_call", is_manager | call_is_visible)
rules.add_perm("calls.add_call", is_manager)
rules.add_perm("calls.change_call", is_manager)
rules.add_perm("calls.manage_call", is_manager)  # assignment, ranking, decisions, exports, release
rules.add_perm("calls.view_results", call_is_released)
rules.add_perm("calls.add_proposal", is_innovator & call_is_open)
rules.add_perm("calls.view_my_proposals", is_innovator)
rules.add_perm("calls.view_proposal", is_manager | is_applicant | is_assigned_reviewer)
rules.add_perm("calls.change_proposal", is_applicant & is_innovator)
rules.add_perm("calls.view_attachment", is_manager | is_applicant | is_assigned_reviewer)
rules.add_perm("calls.review_proposal", is_assigned_reviewer)
rules.add_perm("calls.view_review_queue", is_reviewer)
rules.add_perm("calls.declare_conflict", is_reviewer & call_is_visible)
rules.add_perm("calls.write_reviewer_note", is_assigned_reviewer | is_manager)
