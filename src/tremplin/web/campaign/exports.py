"""CSV / XLSX exports: a campaign's KPI series (the import's own format, so an export can be edited and imported
back) and a coalition's organisations (no contact person: personal data stays in the application)."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.text import slugify

from tremplin.web.campaign import selectors
from tremplin.web.campaign.kpi_import import COLUMNS
from tremplin.web.campaign.models import Campaign, Coalition, Metric
from tremplin.web.core.exports import spreadsheet_response

COALITION_HEADER = ["organisation", "sector", "kind", "status", "status_since", "governance_role", "commitments",
                    "interactions", "last_interaction"]


def kpi_rows(campaign: Campaign) -> list[list]:
    return [[on.isoformat(), *[values.get(m) for m in Metric.values]] for on, values in selectors.kpi_table(campaign)]


def kpi_response(campaign: Campaign, *, fmt: str) -> HttpResponse:
    rows = [[r[0], *[None if v is None else (int(v) if v == v.to_integral_value() else float(v)) for v in r[1:]]]
            for r in kpi_rows(campaign)]
    return spreadsheet_response(header=list(COLUMNS), rows=rows, fmt=fmt,
                                filename=f"campagne-{slugify(campaign.name)[:60] or campaign.pk}-indicateurs",
                                sheet="indicateurs")


def coalition_rows(coalition: Coalition) -> list[list]:
    return [[m.organisation.name, m.organisation.sector, m.organisation.kind, m.status, m.status_changed_on.isoformat(),
             m.governance_role, m.commitments, m.n_interactions,
             m.last_interaction.isoformat() if m.last_interaction else ""]
            for m in selectors.coalition_members(coalition)]


def coalition_response(coalition: Coalition, *, fmt: str) -> HttpResponse:
    return spreadsheet_response(header=COALITION_HEADER, rows=coalition_rows(coalition), fmt=fmt,
                                filename=f"coalition-{slugify(coalition.name)[:60] or coalition.pk}", sheet="coalition")
