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
def is_admin_role_membership(user, membership) -> bool:
    return membership is not None and membership.role == "admin"


rules.add_perm("accounts.view_membership_list_item", is_platform_admin | can_see_membership)
# Only platform admins grant the admin role, so only they may take it away.
rules.add_perm("accounts.manage_membership_item",
               is_platform_admin | (manages_membership_organisation & ~is_admin_role_membership))

rules.add_perm("accounts.manage_own_api_token", is_authenticated)


@rules.predicate
def owns_api_token(user, token) -> bool:
    return token is not None and token.user_id == user.pk


rules.add_perm("accounts.revoke_api_token", is_authenticated & owns_api_token)
