"""Dashboard widget of the calls app: what each role has to do next."""

from __future__ import annotations

from django.utils import timezone

from tremplin.web.calls.models import Call, Conflict, ConflictStatus, Phase, Proposal, ProposalStatus
from tremplin.web.calls.selectors import is_manager, review_queue


def calls_dashboard_context(request) -> dict | None:
    """Pending reviews (reviewers), drafts and open calls (applicants), calls per phase (managers)."""
    user = request.user
    now = timezone.now()
    context: dict = {}
    if user.has_role("reviewer"):
        queue = review_queue(user=user)
        context["pending_reviews"] = sum(1 for item in queue if not item.done)
        context["done_reviews"] = sum(1 for item in queue if item.done)
    if user.has_role("innovator", "network_member"):
        context["open_calls"] = Call.objects.filter(opens_at__lte=now, review_starts_at__gt=now).count()
        context["draft_proposals"] = Proposal.objects.filter(
            created_by=user, status=ProposalStatus.DRAFT, call__review_starts_at__gt=now).count()
    if is_manager(user):
        phases = {phase.value: 0 for phase in Phase}
        for call in Call.objects.only("opens_at", "review_starts_at", "deliberation_starts_at", "results_at"):
            phases[call.phase_at(now)] += 1
        context["calls_by_phase"] = [(Phase(value).label, count) for value, count in phases.items()]
        # Calls with conflicts of interest awaiting the manager's decision.
        context["conflict_calls"] = list(Call.objects.filter(pk__in=Conflict.objects.filter(
            status=ConflictStatus.REQUESTED).values("call_id")).order_by("pk").values_list("pk", "title"))
    return context or None
