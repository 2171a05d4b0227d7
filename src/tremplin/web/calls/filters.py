"""Search and filters of the proposal lists (ranking, assignments, exports) and of the call list, read from the
query string with the validated helpers of `core/querystring.py` (a value they cannot use is ignored).

The proposal filters run in the database: text, sector, territory and decision status restrict the proposals,
the score range and the disagreement flag are conditions on the per-proposal aggregate of the reviews that count
(HAVING), so one query returns the ids kept whatever the size of the call. Disagreement is the flag of
`scoring.py` (population standard deviation ≥ 1 point over at least two reviews), tested on the variance
(mean of squares minus square of the mean) to need no square root in SQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from urllib.parse import urlencode

from django.db.models import Avg, Count, F, FilteredRelation, Q
from django.utils import timezone

from tremplin.web.accounts.models import Sector, Territory
from tremplin.web.calls import scoring
from tremplin.web.calls.models import Call, Outcome, Phase, Proposal, ProposalStatus, ReviewStatus
from tremplin.web.calls.selectors import territory_closure
from tremplin.web.core.querystring import query_choice, query_float, query_id, query_text

UNDECIDED = "undecided"
STATUS_CHOICES = (UNDECIDED, *Outcome.values)
DISAGREEMENT_VARIANCE = (scoring.DISAGREEMENT_STD_THRESHOLD - 1e-12) ** 2


def _optional_score(params, name: str) -> float | None:
    if not query_text(params, name, max_length=50):
        return None
    value = query_float(params, name, default=math.nan, minimum=scoring.SCORE_MIN, maximum=scoring.SCORE_MAX)
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class ProposalFilters:
    q: str = ""
    sector: str = ""
    territory: int | None = None
    min_score: float | None = None
    max_score: float | None = None
    status: str = ""  # decision status: undecided, selected, reserve, rejected
    disagreement: bool = False

    @classmethod
    def from_query(cls, params) -> ProposalFilters:
        return cls(q=query_text(params, "q"), sector=query_choice(params, "sector", Sector.values),
                   territory=query_id(params, "territory"), min_score=_optional_score(params, "min"),
                   max_score=_optional_score(params, "max"), status=query_choice(params, "status", STATUS_CHOICES),
                   disagreement=query_choice(params, "disagreement", ["1"]) == "1")

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) not in ("", None, False) for f in fields(self))

    @property
    def on_scores(self) -> bool:
        return self.min_score is not None or self.max_score is not None or self.disagreement

    def params(self) -> dict[str, str]:
        """The filters as query-string parameters (for links, hidden inputs, exports)."""
        values = {"q": self.q, "sector": self.sector, "territory": self.territory or "",
                  "min": "" if self.min_score is None else f"{self.min_score:g}",
                  "max": "" if self.max_score is None else f"{self.max_score:g}", "status": self.status,
                  "disagreement": "1" if self.disagreement else ""}
        return {k: str(v) for k, v in values.items() if v not in ("", None)}

    def querystring(self) -> str:
        return urlencode(self.params())

    def apply(self, qs):
        """`qs` (proposals) restricted by text, sector, territory and decision status."""
        if self.q:
            text = Q(title__icontains=self.q) | Q(summary__icontains=self.q) | Q(organisation__name__icontains=self.q)
            if self.q.lstrip("#").isdigit() and len(self.q) < 19:
                text |= Q(pk=int(self.q.lstrip("#")))
            qs = qs.filter(text)
        if self.sector:
            qs = qs.filter(organisation__sector=self.sector)
        if self.territory:
            territory = Territory.objects.filter(pk=self.territory).first()
            ids = territory_closure([territory]) if territory is not None else set()
            qs = qs.filter(pk__in=Proposal.territories.through.objects.filter(territory_id__in=ids)
                           .values("proposal_id"))
        if self.status == UNDECIDED:
            qs = qs.filter(decision__isnull=True)
        elif self.status:
            qs = qs.filter(decision__outcome=self.status)
        return qs

    def apply_scores(self, qs):
        """`qs` (proposals) restricted by the score range and disagreement of the reviews that count."""
        if not self.on_scores:
            return qs
        scored = FilteredRelation("reviews", condition=Q(reviews__status=ReviewStatus.SUBMITTED,
                                                        reviews__weighted_score__isnull=False,
                                                        reviews__withdrawn_at__isnull=True))
        x = F("scored__weighted_score")
        qs = qs.annotate(scored=scored).annotate(n_scored=Count("scored"), mean_score=Avg(x),
                                                  mean_square=Avg(x * x))
        if self.min_score is not None:
            qs = qs.filter(mean_score__gte=self.min_score - 1e-9)
        if self.max_score is not None:
            qs = qs.filter(mean_score__lte=self.max_score + 1e-9)
        if self.disagreement:
            qs = qs.alias(variance=F("mean_square") - F("mean_score") * F("mean_score")).filter(
                n_scored__gte=2, variance__gte=DISAGREEMENT_VARIANCE)
        return qs


def proposal_ids(*, call: Call, filters: ProposalFilters) -> set[int]:
    """Ids of the call's submitted proposals that pass every filter (one query)."""
    qs = Proposal.objects.filter(call=call, status=ProposalStatus.SUBMITTED).order_by()
    return set(filters.apply_scores(filters.apply(qs)).values_list("pk", flat=True))


# --- the call list ------------------------------------------------------------------------------------------

PUBLIC_PHASES = (Phase.OPEN, Phase.REVIEW, Phase.DELIBERATION, Phase.RESULTS)


@dataclass(frozen=True)
class CallFilters:
    q: str = ""
    sector: str = ""
    territory: int | None = None
    phase: str = ""

    @classmethod
    def from_query(cls, params, *, default_phase: str = "") -> CallFilters:
        phase = query_choice(params, "phase", [*Phase.values, "all"]) or default_phase
        return cls(q=query_text(params, "q"), sector=query_choice(params, "sector", Sector.values),
                   territory=query_id(params, "territory"), phase="" if phase == "all" else phase)

    def apply(self, qs):
        """`qs` (calls) restricted by text, territory and phase (the sector is filtered by `keep`)."""
        if self.q:
            qs = qs.filter(Q(title__icontains=self.q) | Q(text__icontains=self.q))
        if self.territory:
            ancestors, current = [], Territory.objects.filter(pk=self.territory).first()
            while current is not None and len(ancestors) < 20:  # the territory and those containing it
                ancestors.append(current.pk)
                current = current.parent
            qs = qs.filter(Q(eligible_territories__isnull=True) | Q(eligible_territories__in=ancestors)).distinct()
        if self.phase:
            now = timezone.now()
            qs = qs.filter({
                Phase.DRAFT: Q(opens_at__gt=now),
                Phase.OPEN: Q(opens_at__lte=now, review_starts_at__gt=now),
                Phase.REVIEW: Q(review_starts_at__lte=now, deliberation_starts_at__gt=now),
                Phase.DELIBERATION: Q(deliberation_starts_at__lte=now, results_at__gt=now),
                Phase.RESULTS: Q(results_at__lte=now),
            }[self.phase])
        return qs

    def keep(self, call: Call) -> bool:
        """The sector filter (eligible sectors are a JSON list: filtered here, portable to SQLite)."""
        return not self.sector or self.sector in call.eligible_sectors
