"""Who may do what with coalitions and campaigns (rules predicates).

Programme managers and decision makers read campaigns and coalitions (the results are meant for decision makers);
a coalition is run by the programme managers of its lead organisation (and platform admins), who alone see its
contact persons and the history of interactions.
"""

from __future__ import annotations

import rules

from tremplin.web.accounts.rules import has_role, is_platform_admin, is_programme_manager
from tremplin.web.campaign.models import Campaign, Coalition, CoalitionMember, Interaction


def coalition_of(obj) -> Coalition | None:
    if isinstance(obj, Coalition):
        return obj
    if isinstance(obj, Campaign | CoalitionMember):
        return obj.coalition
    if isinstance(obj, Interaction):
        return obj.member.coalition
    return None


def managed_organisation_ids(user) -> frozenset[int]:
    """Organisations in which the user is a programme manager (cached on the user for the request)."""
    cached = getattr(user, "_campaign_managed_orgs", None)
    if cached is None:
        cached = frozenset(user.memberships.filter(role="programme_manager").values_list("organisation_id", flat=True)) \
            if user.is_authenticated else frozenset()
        user._campaign_managed_orgs = cached
    return cached


@rules.predicate
def runs_coalition(user, obj) -> bool:
    coalition = coalition_of(obj)
    return coalition is not None and coalition.lead_organisation_id in managed_organisation_ids(user)


is_manager = is_platform_admin | is_programme_manager
can_view = is_manager | has_role("decision_maker")
runs = is_platform_admin | runs_coalition

rules.add_perm("campaign.view_campaigns", can_view)
rules.add_perm("campaign.view_campaign", can_view)
rules.add_perm("campaign.add_campaign", is_manager)
rules.add_perm("campaign.change_campaign", runs)
rules.add_perm("campaign.view_coalition", can_view)
rules.add_perm("campaign.add_coalition", is_manager)
rules.add_perm("campaign.change_coalition", runs)
rules.add_perm("campaign.view_contacts", runs)  # contact persons and the history of interactions
