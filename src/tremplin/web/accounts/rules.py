"""Object-level permissions for accounts (rules predicates combined with | and &)."""

from __future__ import annotations

import rules


@rules.predicate
def is_platform_admin(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.has_role("admin")))


def has_role(*roles: str):
    name = "has_role:" + ",".join(roles)

    @rules.predicate(name)
    def predicate(user) -> bool:
        return bool(user and user.is_authenticated and user.has_role(*roles))

    return predicate


@rules.predicate
def is_member_of_organisation(user, organisation) -> bool:
    if organisation is None or not user.is_authenticated:
        return False
    return organisation.memberships.filter(user=user).exists()


@rules.predicate
def manages_organisation(user, organisation) -> bool:
    if organisation is None or not user.is_authenticated:
        return False
    return organisation.memberships.filter(user=user, is_organisation_admin=True).exists()


@rules.predicate
def is_self(user, member) -> bool:
    return member is not None and getattr(member, "user_id", None) == user.pk


is_programme_manager = has_role("programme_manager")
is_authenticated = rules.is_authenticated

# Who may grant which role. A user's roles are the union over all their memberships (`User.roles`): a role
# counts on the whole platform wherever the membership is held. So an organisation's admin may only give its
# own organisation's members the roles that act through that organisation (take part in the network on its
# behalf, submit its proposals); every role that opens something beyond the organisation (calls of every
# applicant, reviews, care data, payers' views, the platform) is granted, and taken away, by platform admins.
ORGANISATION_ROLES = frozenset({"network_member", "innovator"})
PLATFORM_ROLES = frozenset({"admin", "programme_manager", "evaluator", "reviewer", "decision_maker"})


def grantable_roles(user, organisation) -> frozenset[str]:
    """The roles `user` may grant (or revoke) in `organisation`: every role for platform admins, the
    organisation-level roles for the organisation's admins, none otherwise."""
    if not (user and user.is_authenticated):
        return frozenset()
    if is_platform_admin(user):
        return ORGANISATION_ROLES | PLATFORM_ROLES
    if manages_organisation(user, organisation):
        return ORGANISATION_ROLES
    return frozenset()

rules.add_perm("accounts.view_organisation_list", is_authenticated)
rules.add_perm("accounts.view_organisation", is_authenticated)
rules.add_perm("accounts.add_organisation", is_platform_admin | is_programme_manager)
rules.add_perm("accounts.change_organisation", is_platform_admin | manages_organisation)
rules.add_perm("accounts.view_territory_list", is_authenticated)
rules.add_perm("accounts.view_territory", is_authenticated)
rules.add_perm("accounts.import_territories", is_platform_admin)
rules.add_perm("accounts.change_territory", is_platform_admin)
rules.add_perm("accounts.view_membership_list", is_platform_admin | is_member_of_organisation)
rules.add_perm("accounts.manage_memberships", is_platform_admin | manages_organisation)
rules.add_perm("accounts.view_membership", is_platform_admin | is_self)
rules.add_perm("core.view_auditlog", is_platform_admin)


@rules.predicate
def can_see_membership(user, membership) -> bool:
    return membership is not None and (
        membership.user_id == user.pk or membership.organisation.memberships.filter(user=user).exists()
    )


@rules.predicate
def manages_membership_organisation(user, membership) -> bool:
    return membership is not None and membership.organisation.memberships.filter(
        user=user, is_organisation_admin=True
    ).exists()


@rules.predicate
def is_organisation_role_membership(user, membership) -> bool:
    return membership is not None and membership.role in ORGANISATION_ROLES


rules.add_perm("accounts.view_membership_list_item", is_platform_admin | can_see_membership)
# Only platform admins grant platform roles, so only they may take them away.
rules.add_perm("accounts.manage_membership_item",
               is_platform_admin | (manages_membership_organisation & is_organisation_role_membership))

rules.add_perm("accounts.manage_own_api_token", is_authenticated)


@rules.predicate
def owns_api_token(user, token) -> bool:
    return token is not None and token.user_id == user.pk


rules.add_perm("accounts.revoke_api_token", is_authenticated & owns_api_token)
