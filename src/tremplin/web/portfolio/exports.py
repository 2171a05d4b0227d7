"""CSV / XLSX export of the portfolio (what the list shows, one row per experiment)."""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse

from tremplin.web.portfolio import selectors

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["id", "title", "stage", "status", "lead_organisation", "lead_sector", "partners", "territories",
          "care_domain", "legal_framework", "start_date", "authorisation_end", "committed", "spent",
          "late_milestones", "primary_outcome", "months_required", "months_available", "alert_months_short"]


def _safe(value):
    """Neutralise spreadsheet formulas (CSV/formula injection) in text cells."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def portfolio_rows(experiments) -> list[list]:
    experiments = list(experiments)
    ids = [e.pk for e in experiments]
    budgets = selectors.budget_totals(experiment_ids=ids)
    late = selectors.late_counts(experiment_ids=ids)
    rows = []
    for e in experiments:
        budget = budgets.get(e.pk)
        alert = selectors.evaluation_alert(e)
        plan = selectors.plan_of(e)
        rows.append([
            e.pk, e.title, e.stage, e.status, e.lead_organisation.name, e.lead_organisation.sector,
            "; ".join(f"{o.name} ({o.sector})" for o in e.partners.all()),
            "; ".join(t.code for t in e.territories.all()), e.care_domain, e.legal_framework,
            e.start_date.isoformat() if e.start_date else "",
            e.authorisation_end.isoformat() if e.authorisation_end else "",
            float(budget.committed) if budget else 0.0, float(budget.spent) if budget else 0.0,
            late.get(e.pk, 0), plan.primary_outcome if plan else "", plan.months_required if plan else None,
            alert.available_months if alert else None, alert.months_short if alert else None,
        ])
    return rows


def export_response(experiments, fmt: str) -> HttpResponse:
    rows = portfolio_rows(experiments)
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "portefeuille"
        ws.append(HEADER)
        for row in rows:
            ws.append([_safe(v) for v in row])
        buffer = io.BytesIO()
        wb.save(buffer)
        response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
        response["Content-Disposition"] = 'attachment; filename="portefeuille.xlsx"'
        return response
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(["" if v is None else _safe(v) for v in row])
    response = HttpResponse(text.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="portefeuille.csv"'
    return response
