"""Who may do what with problems, endorsements and consultations (rules predicates)."""

from __future__ import annotations

import rules

from tremplin.web.accounts.rules import has_role, is_platform_admin, is_programme_manager


@rules.predicate
def has_membership(user) -> bool:
    """Any member of an organisation of the network (whatever the role)."""
    return bool(user and user.is_authenticated and user.roles)


@rules.predicate
def is_reporting_organisation_member(user, problem) -> bool:
    if problem is None or not user.is_authenticated:
        return False
    return user.memberships.filter(organisation_id=problem.organisation_id).exists()


@rules.predicate
def problem_is_editable(user, problem) -> bool:
    return problem is not None and problem.status in {"new", "qualified"}


@rules.predicate
def problem_is_open(user, problem) -> bool:
    return problem is not None and problem.is_open


@rules.predicate
def belongs_to_another_organisation(user, problem) -> bool:
    """The user is a member of at least one organisation other than the reporting one."""
    if problem is None or not user.is_authenticated:
        return False
    return user.memberships.exclude(organisation_id=problem.organisation_id).exists()


@rules.predicate
def problem_not_merged(user, problem) -> bool:
    return problem is not None and problem.status != "merged"


@rules.predicate
def is_not_comment_author(user, comment) -> bool:
    return comment is not None and user.is_authenticated and comment.author_id != user.pk


is_manager = is_platform_admin | is_programme_manager
is_network_member = has_role("network_member")

rules.add_perm("problems.view_problem_list", rules.is_authenticated)
rules.add_perm("problems.view_problem", rules.is_authenticated)
rules.add_perm("problems.add_problem", has_membership)
rules.add_perm("problems.change_problem", is_manager | (is_reporting_organisation_member & problem_is_editable))
rules.add_perm("problems.endorse_problem", problem_is_open & belongs_to_another_organisation)
rules.add_perm("problems.manage_problem", is_manager)
rules.add_perm("problems.merge_problem", is_manager)
rules.add_perm("problems.change_weights", is_manager)
# Comments (issue 18, item 10): members of the network comment, anyone signed in flags, managers moderate.
rules.add_perm("problems.comment_problem", has_membership & problem_not_merged)
rules.add_perm("problems.flag_comment", is_not_comment_author)
rules.add_perm("problems.moderate_comment", is_manager)
# Consultations: read by everyone (results are public), answered by every signed-in user, run by managers.
rules.add_perm("problems.view_consultation", rules.always_allow)
rules.add_perm("problems.respond_consultation", rules.is_authenticated)
rules.add_perm("problems.manage_consultation", is_manager)
