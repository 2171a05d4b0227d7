"""Writes for accounts: keyword-only `<entity>_<action>` functions (pretalx style)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from tremplin.web.accounts.models import (
    TERRITORY_LEVEL_ORDER,
    Membership,
    Organisation,
    Territory,
    TerritoryLevel,
    User,
)
from tremplin.web.core import validation

TERRITORY_CSV_COLUMNS = ("code", "name", "level", "parent_code", "population")
MAX_REPORTED_ERRORS = 50
MAX_POPULATION = 2_147_483_647  # PositiveIntegerField range on every database


@dataclass(frozen=True)
class ImportError_:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return _("ligne %(line)s, colonne « %(column)s » : %(message)s") % {
            "line": self.line, "column": self.column, "message": self.message,
        }


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[ImportError_] = field(default_factory=list)
    total_errors: int = 0

    @property
    def ok(self) -> bool:
        return self.total_errors == 0

    def add_error(self, line: int, column: str, message: str) -> None:
        self.total_errors += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(ImportError_(line, column, message))


def _decode(content: bytes | str) -> str:
    if isinstance(content, str):
        return content
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")


def territories_import_csv(*, content: bytes | str) -> ImportReport:
    """Import territories from CSV (code, name, level, parent_code, population).

    Every row is validated first; errors carry line and column. Nothing is written unless the whole
    file is valid (one transaction). Existing codes are updated, new codes created.
    """
    report = ImportReport()
    text = _decode(content)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        report.add_error(1, "*", _("CSV illisible : %(error)s") % {"error": exc})
        return report
    missing = [c for c in TERRITORY_CSV_COLUMNS if c not in header]
    if missing:
        report.add_error(1, ", ".join(missing), _("colonnes manquantes (attendu : %(cols)s)")
                         % {"cols": ", ".join(TERRITORY_CSV_COLUMNS)})
        return report
    reader.fieldnames = header

    valid_levels = {level.value for level in TerritoryLevel}
    rows: dict[str, dict] = {}
    records = iter(reader)
    while True:
        try:
            raw = next(records)
        except StopIteration:
            break
        except csv.Error as exc:
            report.add_error(reader.line_num + 1, "*", _("CSV illisible : %(error)s") % {"error": exc})
            break
        line = reader.line_num  # physical line (blank lines and quoted line breaks counted)
        if None in raw:
            report.add_error(line, "*", _("trop de valeurs sur la ligne"))
            continue
        row = {k: (v or "").strip() for k, v in raw.items() if k in TERRITORY_CSV_COLUMNS}
        bad_characters = validation.nul_columns(row)
        if bad_characters:
            report.add_error(line, bad_characters[0], validation.nul_error())
            continue
        errors_before = report.total_errors
        code = row["code"]
        if not code:
            report.add_error(line, "code", _("le code est obligatoire"))
        elif len(code) > 32:
            report.add_error(line, "code", _("32 caractères au plus"))
        elif code in rows:
            report.add_error(line, "code", _("code en double (déjà ligne %(line)s)") % {"line": rows[code]["line"]})
        if not row["name"]:
            report.add_error(line, "name", _("le nom est obligatoire"))
        elif len(row["name"]) > 200:
            report.add_error(line, "name", _("200 caractères au plus"))
        if row["level"] not in valid_levels:
            report.add_error(line, "level", _("niveau inconnu « %(value)s » (valeurs permises : %(allowed)s)")
                             % {"value": row["level"], "allowed": ", ".join(sorted(valid_levels))})
        population = None
        if row["population"]:
            try:
                population = int(row["population"].replace(" ", "").replace("\u202f", ""))
                if not 0 <= population <= MAX_POPULATION:
                    raise ValueError
            except ValueError:
                report.add_error(line, "population", _("entier positif attendu, reçu « %(value)s »")
                                 % {"value": row["population"]})
        if report.total_errors == errors_before:  # then the model's own validation, on what the checks let by
            candidate = Territory(code=code, name=row["name"], level=row["level"], population=population)
            for error in validation.row_errors(line, candidate, exclude=["parent"]):
                report.add_error(*error)
        if code and code not in rows:
            rows[code] = {**row, "population": population, "line": line}

    existing = {t.code: t for t in Territory.objects.all()}
    rank = {level.value: i for i, level in enumerate(TERRITORY_LEVEL_ORDER)}
    for code, row in rows.items():
        parent_code = row["parent_code"]
        if not parent_code:
            continue
        if parent_code == code:
            report.add_error(row["line"], "parent_code", _("un territoire ne peut pas être son propre parent"))
            continue
        parent_level = rows[parent_code]["level"] if parent_code in rows else (
            existing[parent_code].level if parent_code in existing else None
        )
        if parent_level is None:
            report.add_error(row["line"], "parent_code", _("parent inconnu « %(code)s »") % {"code": parent_code})
        elif parent_level in rank and row["level"] in rank and rank[parent_level] >= rank[row["level"]]:
            report.add_error(row["line"], "parent_code",
                             _("le parent (%(parent)s) doit être d'un niveau supérieur") % {"parent": parent_level})
    if not rows and report.ok:
        report.add_error(2, "*", _("le fichier ne contient aucune ligne"))
    if not report.ok:
        return report

    with transaction.atomic():
        ordered = sorted(rows.values(), key=lambda r: rank.get(r["level"], 99))
        saved: dict[str, Territory] = dict(existing)
        for row in ordered:
            territory = saved.get(row["code"])
            parent = saved.get(row["parent_code"]) if row["parent_code"] else None
            if territory is None:
                territory = Territory(code=row["code"])
                report.created += 1
            else:
                report.updated += 1
            territory.name = row["name"]
            territory.level = row["level"]
            territory.parent = parent
            territory.population = row["population"]
            territory.full_clean(validate_unique=False)
            territory.save()
            saved[row["code"]] = territory
    return report


def organisation_create(*, name: str, sector: str, kind: str, territory: Territory | None = None,
                        website: str = "") -> Organisation:
    organisation = Organisation(name=name, sector=sector, kind=kind, territory=territory, website=website)
    organisation.full_clean()
    organisation.save()
    return organisation


def membership_create(*, user: User, organisation: Organisation, role: str,
                      is_organisation_admin: bool = False) -> Membership:
    membership = Membership(user=user, organisation=organisation, role=role,
                            is_organisation_admin=is_organisation_admin)
    membership.full_clean()
    membership.save()
    if role == "admin" and not (user.is_staff and user.is_superuser):
        user.is_staff = True
        user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    return membership


def membership_delete(*, membership: Membership) -> None:
    user = membership.user
    membership.delete()
    if membership.role == "admin" and not user.memberships.filter(role="admin").exists():
        user.is_staff = False
        user.is_superuser = False
        user.save(update_fields=["is_staff", "is_superuser"])
