"""Writes for accounts: keyword-only `<entity>_<action>` functions (pretalx style)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from tremplin.web.accounts.models import (
    TERRITORY_LEVEL_ORDER,
    Membership,
    Organisation,
    Role,
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
    """Write a membership without asking who grants it: for trusted callers only (management commands, the
    demo, test fixtures). Pages and the API go through `membership_grant`."""
    membership = Membership(user=user, organisation=organisation, role=role,
                            is_organisation_admin=is_organisation_admin)
    membership.full_clean()
    membership.save()
    if role == "admin" and not (user.is_staff and user.is_superuser):
        user.is_staff = True
        user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    return membership


def _refuse_grant(*, granted_by: User, organisation: Organisation, role: str, action: str) -> None:
    from tremplin.web.core.audit import write_entry
    from tremplin.web.core.models import AuditAction

    write_entry(action=AuditAction.ACCESS_DENIED, actor=granted_by, model="accounts.membership",
                object_repr=f"accounts.{action} {role} @ {organisation.pk} {organisation}"[:254])


def membership_grant(*, granted_by: User, user: User, organisation: Organisation, role: str,
                     is_organisation_admin: bool = False) -> Membership:
    """Give `user` a role in `organisation` on behalf of `granted_by`, who must manage the organisation and
    may grant only the roles of `rules.grantable_roles` (organisation admins: network member, innovator;
    platform admins: every role). A refusal is a `ValidationError` naming the field, and is audited."""
    from tremplin.web.accounts.rules import ORGANISATION_ROLES, grantable_roles

    if not granted_by.has_perm("accounts.manage_memberships", organisation):
        _refuse_grant(granted_by=granted_by, organisation=organisation, role=role, action="grant_role")
        raise ValidationError({"organisation": _("Vous ne gérez pas les membres de cette organisation.")})
    if role not in Role.values:
        raise ValidationError({"role": _("Rôle inconnu « %(role)s » (valeurs permises : %(allowed)s).")
                               % {"role": role, "allowed": ", ".join(Role.values)}})
    if role not in grantable_roles(granted_by, organisation):
        _refuse_grant(granted_by=granted_by, organisation=organisation, role=role, action="grant_role")
        raise ValidationError({"role": _(
            "Seul un administrateur de la plateforme peut attribuer le rôle « %(role)s » : il vaut sur toute la "
            "plateforme. Le gestionnaire d'une organisation attribue les rôles %(allowed)s.")
            % {"role": Role(role).label, "allowed": ", ".join(f"« {Role(r).label} »" for r in Role.values
                                                               if r in ORGANISATION_ROLES)}})
    return membership_create(user=user, organisation=organisation, role=role,
                             is_organisation_admin=is_organisation_admin)


def membership_revoke(*, revoked_by: User, membership: Membership) -> None:
    """Remove a membership on behalf of `revoked_by`: the same roles as `membership_grant` (only platform admins
    take away a platform role). Raises `PermissionDenied` otherwise (audited)."""
    if not revoked_by.has_perm("accounts.manage_membership_item", membership):
        _refuse_grant(granted_by=revoked_by, organisation=membership.organisation, role=membership.role,
                      action="revoke_role")
        raise PermissionDenied
    membership_delete(membership=membership)


def membership_delete(*, membership: Membership) -> None:
    """Delete a membership without asking who does it (trusted callers; pages and the API use
    `membership_revoke`)."""
    user = membership.user
    membership.delete()
    if membership.role == "admin" and not user.memberships.filter(role="admin").exists():
        user.is_staff = False
        user.is_superuser = False
        user.save(update_fields=["is_staff", "is_superuser"])


# --- personal API tokens ---

API_TOKEN_DEFAULT_DAYS = 90
API_TOKEN_MAX_DAYS = 365
API_TOKEN_KEY_PREFIX = "tpl_"


def api_token_hash(key: str) -> str:
    """SHA-256 of a token key: keys are 256-bit random values, so an unsalted fast hash is enough."""
    import hashlib

    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user: User, name: str, scope: str, expires_on, mfa_verified: bool):
    """Create a token for `user`, valid until the end of `expires_on` (at most API_TOKEN_MAX_DAYS ahead).

    `mfa_verified`: the session creating it proved a second factor; required for users whose role needs one
    (core.security.mfa_required). Returns (token, key): the key is not stored, only its hash.
    """
    import datetime as dt
    import secrets

    from django.core.exceptions import PermissionDenied, ValidationError
    from django.utils import timezone

    from tremplin.web.accounts.models import ApiToken
    from tremplin.web.core.security import mfa_required

    if mfa_required(user) and not mfa_verified:
        raise PermissionDenied(_("Double authentification requise pour créer un jeton."))
    today = timezone.localdate()
    if not today < expires_on <= today + dt.timedelta(days=API_TOKEN_MAX_DAYS):
        raise ValidationError({"expires_on": _("L'expiration doit être comprise entre demain et dans %(n)s jours.")
                               % {"n": API_TOKEN_MAX_DAYS}})
    expires_at = timezone.make_aware(dt.datetime.combine(expires_on, dt.time.max))
    key = API_TOKEN_KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, scope=scope, prefix=key[:12], key_hash=api_token_hash(key),
                     mfa_verified=mfa_verified, expires_at=expires_at)
    token.full_clean()
    token.save()
    return token, key


def api_token_revoke(*, token) -> None:
    """Revoke a token (kept, with its revocation time, for the audit trail)."""
    from django.utils import timezone

    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def api_token_touch(*, token, now) -> None:
    """Record a use, at most once a minute (a bookkeeping write that is not audited)."""
    import datetime as dt

    from tremplin.web.accounts.models import ApiToken

    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
