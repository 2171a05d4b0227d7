"""Reads for accounts (pretalx style selectors)."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from tremplin.web.accounts.models import Membership, Organisation, Territory, User


def organisation_list(*, sector: str = "", kind: str = "", query: str = "") -> QuerySet[Organisation]:
    qs = Organisation.objects.select_related("territory").annotate(member_count=Count("memberships"))
    if sector:
        qs = qs.filter(sector=sector)
    if kind:
        qs = qs.filter(kind=kind)
    if query:
        qs = qs.filter(name__icontains=query)
    return qs.order_by("name")


def territory_list() -> QuerySet[Territory]:
    return Territory.objects.select_related("parent").annotate(organisation_count=Count("organisations"))


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    qs = Membership.objects.select_related("user", "organisation")
    if user.is_superuser or user.has_role("admin"):
        return qs
    return qs.filter(organisation__memberships__user=user).distinct()


def api_token_list_for_user(*, user: User):
    """The user's own API tokens, newest first (active, expired and revoked)."""
    from tremplin.web.accounts.models import ApiToken

    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")


def api_token_for_key(*, key: str):
    """The token whose key is `key` (any state), with its user, or None."""
    from tremplin.web.accounts.models import ApiToken
    from tremplin.web.accounts.services import api_token_hash

    return ApiToken.objects.select_related("user").filter(key_hash=api_token_hash(key)).first()
