"""Spreadsheet exports (CSV with a BOM for spreadsheet programs, XLSX with openpyxl), formulas neutralised.

A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a formula by a
spreadsheet program (CSV/formula injection): it is prefixed with an apostrophe and, in XLSX, stored as text.
Numbers stay numbers. The same rule as the calls', problems' and portfolio's exports.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from django.http import HttpResponse

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")


def neutralise(value):
    """A cell value that no spreadsheet program runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(header: Sequence[str], rows: Iterable[Sequence], *, sheet: str = "export") -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = sheet[:31]
    worksheet.append([neutralise(h) for h in header])
    for row in rows:
        worksheet.append([neutralise(v) for v in row])
        for cell in worksheet[worksheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = TYPE_STRING  # text, never a formula
    worksheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def spreadsheet_response(*, header: Sequence[str], rows: Iterable[Sequence], fmt: str, filename: str,
                         sheet: str = "export") -> HttpResponse:
    """An attachment `filename.csv` or `filename.xlsx` (`fmt` is "csv" or "xlsx"; anything else means CSV)."""
    if fmt == "xlsx":
        response = HttpResponse(xlsx_bytes(header, rows, sheet=sheet), content_type=XLSX_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
        return response
    response = HttpResponse(csv_bytes(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response
