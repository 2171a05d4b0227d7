"""Consultation exports: CSV (UTF-8 with BOM, for spreadsheet programs) and XLSX (openpyxl)."""

from __future__ import annotations

import csv
import io

from tremplin.web.problems.models import Consultation
from tremplin.web.problems.selectors import consultation_export_rows

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value):
    """Neutralise spreadsheet formulas in free text (CSV injection): prefix them with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def consultation_csv(*, consultation: Consultation) -> bytes:
    header, rows = consultation_export_rows(consultation=consultation)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_safe(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def consultation_xlsx(*, consultation: Consultation) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    header, rows = consultation_export_rows(consultation=consultation)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "responses"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = TYPE_STRING  # text, never a formula
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
