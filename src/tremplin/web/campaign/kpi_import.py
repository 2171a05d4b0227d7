"""KPI series of a campaign from CSV: every cell validated first, errors located by line and column, then all
or nothing (one transaction). The same checks serve the manual entry and the API (`check_rows`).

Format (one row per date, one column per KPI, any subset of the KPI columns, cells may be empty):

    date,unique_visits,complete_views,unique_reach,impressions,press_interviews,budget
    2026-01-31,410,40120,61000,210000,3,18500

- `date`: AAAA-MM-JJ (or JJ/MM/AAAA), within the campaign (not before its start, not after its end), not in
  the future, once per file;
- values: totals to date (cumulative), numbers ≥ 0 — whole numbers for counts, two decimals at most for the
  budget; spaces may separate thousands, the decimal separator is a comma or a point (not both);
- a total never goes down over time, with the values already recorded (a date already recorded is replaced);
- comma, semicolon or tab separated; UTF-8 (with or without BOM), else Windows-1252.

Written as a module of its own so that it can move into a shared import module later; it reuses the accounts
app's `ImportReport` (located errors, capped list, total count).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tremplin.web.accounts.services import ImportReport
from tremplin.web.campaign.models import COUNT_METRICS, Campaign, KpiEntry, KpiSource, Metric
from tremplin.web.core import validation

DATE_COLUMN = "date"
COLUMNS = (DATE_COLUMN, *Metric.values)
MAX_ROWS = 5000
MAX_FILE_BYTES = 2 * 1024 * 1024  # the import page's upload limit (core.uploads), far above MAX_ROWS rows
THOUSANDS = re.compile(r"[ \u00a0\u202f\u2009]")


@dataclass
class KpiRow:
    """One date's totals; `line` is the file's line (None for a manual entry)."""

    on: date
    values: dict[str, Decimal] = field(default_factory=dict)
    line: int | None = None


def decode(content: bytes | str) -> str:
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def parse_date(text: str) -> date:
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(_("date AAAA-MM-JJ attendue, reçu « %(value)s »") % {"value": text[:40]})


def parse_number(text: str, *, whole: bool) -> Decimal:
    """A number as people type it: "2 440", "120000", "0,25", "1600000.5" (not "1,600,000.5": ambiguous)."""
    raw = text.strip()
    cleaned = THOUSANDS.sub("", raw)
    if "," in cleaned and "." in cleaned:
        raise ValueError(_("« %(value)s » : séparez les milliers par des espaces, pas par des virgules ou des "
                           "points") % {"value": raw[:40]})
    cleaned = cleaned.replace(",", ".")
    if not re.fullmatch(r"\d+(\.\d+)?", cleaned):
        raise ValueError(_("nombre positif attendu, reçu « %(value)s »") % {"value": raw[:40]})
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(_("nombre positif attendu, reçu « %(value)s »") % {"value": raw[:40]}) from None
    if whole and value != value.to_integral_value():
        raise ValueError(_("nombre entier attendu, reçu « %(value)s »") % {"value": raw[:40]})
    if -value.as_tuple().exponent > 2:
        raise ValueError(_("deux décimales au plus, reçu « %(value)s »") % {"value": raw[:40]})
    return value


def read_csv(content: bytes | str, report: ImportReport) -> list[KpiRow]:
    """Parse the file into rows; every problem of a cell goes to `report` with its line and column."""
    text = decode(content)
    if "\x00" in text:
        report.add_error(1, "*", _("caractère nul interdit"))
        return []
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        report.add_error(1, "*", _("le fichier est vide"))
        return []
    except csv.Error as exc:
        report.add_error(1, "*", _("CSV illisible : %(error)s") % {"error": exc})
        return []
    unknown = [h for h in header if h not in COLUMNS]
    for name in unknown:
        report.add_error(1, name or "?", _("colonne inconnue (colonnes permises : %(cols)s)")
                         % {"cols": ", ".join(COLUMNS)})
    duplicated = {h for h in header if header.count(h) > 1}
    for name in sorted(duplicated):
        report.add_error(1, name, _("colonne en double"))
    if DATE_COLUMN not in header:
        report.add_error(1, DATE_COLUMN, _("colonne obligatoire manquante"))
    if not any(h in Metric.values for h in header):
        report.add_error(1, "*", _("aucune colonne d'indicateur (attendu : %(cols)s)") % {"cols": ", ".join(Metric.values)})
    if not report.ok:
        return []
    rows: list[KpiRow] = []
    seen: dict[date, int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # a blank line
            if len(rows) >= MAX_ROWS:
                report.add_error(line, "*", _("%(max)s lignes au plus par fichier") % {"max": MAX_ROWS})
                break
            if len(cells) > len(header):
                report.add_error(line, "*", _("trop de valeurs sur la ligne (%(n)s colonnes attendues)")
                                 % {"n": len(header)})
                continue
            record = dict(zip(header, [c.strip() for c in cells], strict=False))
            on = None
            try:
                on = parse_date(record.get(DATE_COLUMN, ""))
            except ValueError as exc:
                report.add_error(line, DATE_COLUMN, str(exc))
            if on is not None and on in seen:
                report.add_error(line, DATE_COLUMN, _("date en double (déjà ligne %(line)s)") % {"line": seen[on]})
                on = None
            values: dict[str, Decimal] = {}
            for metric in Metric.values:
                cell = record.get(metric, "")
                if not cell:
                    continue
                try:
                    values[metric] = parse_number(cell, whole=metric in COUNT_METRICS)
                except ValueError as exc:
                    report.add_error(line, metric, str(exc))
            if on is None:
                continue
            seen[on] = line
            if not values and not any(record.get(m) for m in Metric.values):
                report.add_error(line, "*", _("aucune valeur sur la ligne"))
                continue
            rows.append(KpiRow(on=on, values=values, line=line))
    except csv.Error as exc:
        report.add_error(reader.line_num + 1, "*", _("CSV illisible : %(error)s") % {"error": exc})
    if not rows and report.ok:
        report.add_error(2, "*", _("le fichier ne contient aucune ligne"))
    return rows


def _place(row: KpiRow) -> int:
    return row.line if row.line is not None else 0


def check_rows(*, campaign: Campaign, rows: Iterable[KpiRow], report: ImportReport, today: date | None = None) -> None:
    """The checks that need the campaign and what it already holds: each value against the KpiEntry model's
    rules; dates inside the campaign and not in the future; each total never goes down over time (a date
    already recorded is replaced by the new value)."""
    today = today or timezone.localdate()
    rows = list(rows)
    for row in rows:
        # The model's own rules (core.validation): what is accepted here, every page and the API read back.
        for metric, value in row.values.items():
            candidate = KpiEntry(campaign=campaign, metric=metric, on=row.on, value=value)
            for error in validation.row_errors(_place(row), candidate, exclude=["campaign", "entered_by"],
                                               columns={"value": metric, "on": DATE_COLUMN, "metric": metric}):
                report.add_error(*error)
        if row.on < campaign.starts_on:
            report.add_error(_place(row), DATE_COLUMN, _("avant le début de la campagne (%(date)s)")
                             % {"date": campaign.starts_on.isoformat()})
        elif campaign.ends_on is not None and row.on > campaign.ends_on:
            report.add_error(_place(row), DATE_COLUMN, _("après la fin de la campagne (%(date)s)")
                             % {"date": campaign.ends_on.isoformat()})
        elif row.on > today:
            report.add_error(_place(row), DATE_COLUMN, _("date future : les valeurs sont des totaux constatés"))
    series: dict[str, dict[date, tuple[Decimal, KpiRow | None]]] = {m: {} for m in Metric.values}
    for metric, on, value in KpiEntry.objects.filter(campaign=campaign).values_list("metric", "on", "value"):
        series[metric][on] = (value, None)
    for row in rows:
        for metric, value in row.values.items():
            series[metric][row.on] = (value, row)
    for metric, points in series.items():
        ordered = sorted(points.items())
        for (on_a, (a, row_a)), (on_b, (b, row_b)) in zip(ordered, ordered[1:], strict=False):
            if b >= a or (row_a is None and row_b is None):
                continue
            culprit = row_b if row_b is not None else row_a
            report.add_error(_place(culprit), metric, _(
                "le total diminue : %(a)s le %(date_a)s puis %(b)s le %(date_b)s (les indicateurs sont des totaux "
                "depuis le début de la campagne)") % {"a": a, "date_a": on_a.isoformat(), "b": b,
                                                       "date_b": on_b.isoformat()})


def write_rows(*, campaign: Campaign, rows: Iterable[KpiRow], by, source: str, report: ImportReport) -> None:
    """Write validated rows (one transaction; the caller checked them)."""
    existing = {(e.metric, e.on): e for e in KpiEntry.objects.filter(campaign=campaign)}
    with transaction.atomic():
        for row in rows:
            for metric, value in row.values.items():
                entry = existing.get((metric, row.on))
                if entry is None:
                    KpiEntry.objects.create(campaign=campaign, metric=metric, on=row.on, value=value, source=source,
                                            entered_by=by)
                    report.created += 1
                elif entry.value != value:
                    entry.value, entry.source, entry.entered_by = value, source, by
                    entry.save()
                    report.updated += 1


def kpi_import_csv(*, campaign: Campaign, content: bytes | str, by=None, today: date | None = None) -> ImportReport:
    """Import a KPI series (see the module's docstring): nothing is written unless the whole file is valid."""
    report = ImportReport()
    rows = read_csv(content, report)
    if rows:  # the rows that could be read are checked too: every error of the file is reported at once
        check_rows(campaign=campaign, rows=rows, report=report, today=today)
        report.errors.sort(key=lambda e: e.line)  # stable: a line's errors keep their columns' order
    if report.ok:
        write_rows(campaign=campaign, rows=rows, by=by, source=KpiSource.CSV, report=report)
    return report
