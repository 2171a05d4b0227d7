"""CSV and XLSX exports of a call's proposals, reviews and decisions (programme managers only)."""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse

from tremplin.web.calls import selectors
from tremplin.web.calls.models import Call, Decision, Proposal, Review

EXPORTS = ("proposals", "reviews", "decisions")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _safe(value):
    """Neutralise spreadsheet formulas (CSV/formula injection) in text cells."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _only(qs, ids: set[int] | None, field: str):
    """`qs` restricted to the proposals `ids` (None: all); long selections are read by call, then filtered
    (a query parameter per id would exceed the database's limit)."""
    if ids is None:
        return qs
    if len(ids) <= 500:
        return qs.filter(**{f"{field}__in": sorted(ids)})
    return [row for row in qs if getattr(row, field) in ids]


def proposal_rows(call: Call, ids: set[int] | None = None) -> tuple[list[str], list[list]]:
    ranking = {r.proposal_id: r for r in selectors.call_ranking(call=call, hydrate=False)}
    header = ["id", "title", "status", "organisation", "sector", "partners", "territories", "requested_amount",
              "evidence_level", "submitted_at", "n_reviews", "mean_score", "normalised_score", "spread",
              "disagreement", "rank"]
    rows = []
    qs = (Proposal.objects.filter(call=call).select_related("organisation")
          .prefetch_related("partners", "territories").order_by("pk"))
    qs = _only(qs, ids, "pk")
    for p in qs:
        r = ranking.get(p.pk)
        a = r.aggregate if r else None
        rows.append([p.pk, p.title, p.status, p.organisation.name, p.organisation.sector,
                     "; ".join(f"{o.name} ({o.sector})" for o in p.partners.all()),
                     "; ".join(t.code for t in p.territories.all()), float(p.requested_amount), p.evidence_level,
                     p.submitted_at.isoformat() if p.submitted_at else "", a.n_reviews if a else 0,
                     a.mean if a else None, a.normalised if a else None, a.spread if a else None,
                     bool(a and a.disagreement), r.rank if r else None])
    return header, rows


def review_rows(call: Call, ids: set[int] | None = None) -> tuple[list[str], list[list]]:
    criteria = list(call.criteria.all())
    # withdrawn_at: the review no longer counts (a conflict of its reviewer was accepted); it is kept here.
    header = ["proposal_id", "proposal_title", "reviewer_email", "status", "weighted_score", "submitted_at",
              "withdrawn_at", "comment"] + [f"score:{c.name}" for c in criteria] + [f"comment:{c.name}" for c in criteria]
    rows = []
    reviews = _only(Review.objects.filter(proposal__call=call), ids, "proposal_id")
    for review in (reviews.select_related("proposal", "reviewer").prefetch_related("scores")
                   .order_by("proposal_id", "reviewer__email")):
        scores = {s.criterion_id: s for s in review.scores.all()}
        rows.append([review.proposal_id, review.proposal.title, review.reviewer.email, review.status,
                     review.weighted_score, review.submitted_at.isoformat() if review.submitted_at else "",
                     review.withdrawn_at.isoformat() if review.withdrawn_at else "", review.comment]
                    + [scores[c.pk].score if c.pk in scores else None for c in criteria]
                    + [scores[c.pk].comment if c.pk in scores else "" for c in criteria])
    return header, rows


def decision_rows(call: Call, ids: set[int] | None = None) -> tuple[list[str], list[list]]:
    header = ["proposal_id", "proposal_title", "organisation", "sector", "requested_amount", "outcome", "reason",
              "decided_by", "decided_at", "released_at"]
    rows = []
    decisions = _only(Decision.objects.filter(proposal__call=call), ids, "proposal_id")
    for d in (decisions.select_related("proposal", "proposal__organisation",
                                                                          "decided_by").order_by("proposal_id")):
        rows.append([d.proposal_id, d.proposal.title, d.proposal.organisation.name, d.proposal.organisation.sector,
                     float(d.proposal.requested_amount), d.outcome, d.reason,
                     d.decided_by.email if d.decided_by else "", d.decided_at.isoformat(),
                     call.decisions_released_at.isoformat() if call.decisions_released_at else ""])
    return header, rows


BUILDERS = {"proposals": proposal_rows, "reviews": review_rows, "decisions": decision_rows}


def export_response(*, call: Call, what: str, fmt: str, ids: set[int] | None = None) -> HttpResponse:
    """The export `what` of the call, or of the proposals `ids` only (a selection)."""
    header, rows = BUILDERS[what](call, ids)
    name = f"appel-{call.pk}-{what}{'-selection' if ids is not None else ''}.{fmt}"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows([[_safe(v) for v in row] for row in rows])
        response = HttpResponse(buffer.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8")
    else:
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title=what)
        sheet.append(header)
        for row in rows:
            sheet.append([_safe(v) for v in row])
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
