"""Dashboard widget of the campaign app: the running campaigns against their goals and the previous campaign."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from tremplin.web.campaign import selectors
from tremplin.web.campaign.models import Campaign


def campaign_dashboard_context(request) -> dict | None:
    if not request.user.has_perm("campaign.view_campaigns"):
        return None
    today = timezone.localdate()
    running = (Campaign.objects.select_related("previous", "coalition")
               .filter(starts_on__lte=today).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
               .order_by("-starts_on")[:3])
    running = list(running)
    if not running:
        return None
    figures = selectors.campaigns_figures(running, today=today)
    return {"figures": [figures[c.pk] for c in running]}
