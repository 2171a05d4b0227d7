"""Writes for coalitions and campaigns: keyword-only `<entity>_<action>` functions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tremplin.web.accounts.models import Organisation, User
from tremplin.web.accounts.services import ImportReport
from tremplin.web.campaign.kpi_import import KpiRow, check_rows, write_rows
from tremplin.web.campaign.models import (
    Action,
    Campaign,
    Coalition,
    CoalitionMember,
    Goal,
    GovernanceRole,
    Interaction,
    InteractionKind,
    KpiSource,
    MemberStatus,
)

MEMBER_FIELDS = ("contact_name", "contact_role", "contact_email", "commitments", "governance_role")
CAMPAIGN_FIELDS = ("name", "objective", "starts_on", "ends_on", "currency", "planned_budget", "previous")


def _not_future(on: date, field: str) -> None:
    if on > timezone.localdate():
        raise ValidationError({field: _("La date ne peut pas être dans le futur.")})


# --- coalitions ----------------------------------------------------------------------------------------------


def coalition_create(*, name: str, lead_organisation: Organisation, purpose: str = "",
                     by: User | None = None) -> Coalition:
    coalition = Coalition(name=name, purpose=purpose, lead_organisation=lead_organisation, created_by=by)
    coalition.full_clean()
    coalition.save()
    return coalition


def member_add(*, coalition: Coalition, organisation: Organisation, by: User | None = None,
               status: str = MemberStatus.APPROACHED, on: date | None = None, summary: str = "",
               kind: str = InteractionKind.OTHER, **fields) -> CoalitionMember:
    """Put an organisation in the coalition's funnel (approached by default), with a first interaction that
    records how."""
    unknown = set(fields) - set(MEMBER_FIELDS)
    if unknown:
        raise TypeError(f"unknown member fields: {sorted(unknown)}")
    on = on or timezone.localdate()
    _not_future(on, "on")
    if CoalitionMember.objects.filter(coalition=coalition, organisation=organisation).exists():
        raise ValidationError({"organisation": _("Cette organisation est déjà dans la coalition.")})
    member = CoalitionMember(coalition=coalition, organisation=organisation, status=status, status_changed_on=on,
                             **fields)
    member.full_clean()
    interaction = Interaction(on=on, kind=kind, summary=summary or _("Ajout à la coalition."),
                              status_after=status, by=by)
    with transaction.atomic():
        member.save()
        interaction.member = member
        interaction.full_clean()
        interaction.save()
    return member


def member_update(*, member: CoalitionMember, **fields) -> CoalitionMember:
    """Contact person, commitments, governance role (the status changes through `interaction_add`)."""
    unknown = set(fields) - set(MEMBER_FIELDS)
    if unknown:
        raise TypeError(f"unknown member fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(member, name, value)
    if member.status != MemberStatus.MEMBER and member.governance_role != GovernanceRole.NONE:
        raise ValidationError({"governance_role": _("Seules les organisations membres ont un rôle dans la "
                                                    "gouvernance.")})
    member.full_clean()
    member.save()
    return member


def interaction_add(*, member: CoalitionMember, by: User | None, on: date, kind: str, summary: str,
                    status: str | None = None) -> Interaction:
    """Record an exchange with the organisation and, if it changed, its new status (the history keeps both)."""
    _not_future(on, "on")
    if not summary.strip():
        raise ValidationError({"summary": _("Résumez l'échange.")})
    changed = bool(status) and status != member.status
    if changed and on < member.status_changed_on:
        raise ValidationError({"on": _("Le statut a déjà changé le %(date)s : une date antérieure ne peut pas le "
                                       "changer.") % {"date": member.status_changed_on.isoformat()}})
    interaction = Interaction(member=member, on=on, kind=kind, summary=summary, by=by,
                              status_before=member.status if changed else "", status_after=status if changed else "")
    interaction.full_clean()
    with transaction.atomic():
        interaction.save()
        if changed:
            member.status, member.status_changed_on = status, on
            if status != MemberStatus.MEMBER:
                member.governance_role = GovernanceRole.NONE
            member.full_clean()
            member.save()
    return interaction


# --- campaigns -----------------------------------------------------------------------------------------------


def _validate_campaign(campaign: Campaign) -> None:
    campaign.full_clean()
    if campaign.ends_on is not None and campaign.ends_on <= campaign.starts_on:
        raise ValidationError({"ends_on": _("La fin doit suivre le début.")})
    previous = campaign.previous
    if previous is not None:
        if campaign.pk is not None and previous.pk == campaign.pk:
            raise ValidationError({"previous": _("Une campagne ne se compare pas à elle-même.")})
        if previous.starts_on >= campaign.starts_on:
            raise ValidationError({"previous": _("La campagne de comparaison doit avoir commencé avant celle-ci.")})


def campaign_create(*, coalition: Coalition, name: str, starts_on: date, by: User | None = None, **fields) -> Campaign:
    unknown = set(fields) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"unknown campaign fields: {sorted(unknown)}")
    campaign = Campaign(coalition=coalition, name=name, starts_on=starts_on, created_by=by, **fields)
    _validate_campaign(campaign)
    campaign.save()
    return campaign


def campaign_update(*, campaign: Campaign, **fields) -> Campaign:
    unknown = set(fields) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"unknown campaign fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(campaign, name, value)
    _validate_campaign(campaign)
    report = ImportReport()
    dates = campaign.kpi_entries.values_list("on", flat=True).distinct()
    check_rows(campaign=campaign, rows=[KpiRow(on=on) for on in dates], report=report, today=date.max)
    if not report.ok:
        raise ValidationError({"starts_on": _("Des valeurs d'indicateurs sont datées hors de la campagne : %(error)s")
                               % {"error": report.errors[0].message}})
    campaign.save()
    return campaign


def goal_add(*, campaign: Campaign, metric: str, target: Decimal, target_date: date, label: str = "") -> Goal:
    goal = Goal(campaign=campaign, metric=metric, target=target, target_date=target_date, label=label)
    goal.full_clean()
    if target_date < campaign.starts_on:
        raise ValidationError({"target_date": _("L'échéance précède le début de la campagne.")})
    goal.save()
    return goal


def goal_delete(*, goal: Goal) -> None:
    goal.delete()


def action_add(*, campaign: Campaign, name: str, channel: str, starts_on: date, cost: Decimal = Decimal(0),
               ends_on: date | None = None, notes: str = "") -> Action:
    action = Action(campaign=campaign, name=name, channel=channel, starts_on=starts_on, ends_on=ends_on, cost=cost,
                    notes=notes)
    action.full_clean()
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError({"ends_on": _("La fin précède le début.")})
    action.save()
    return action


def action_delete(*, action: Action) -> None:
    action.delete()


def kpi_record(*, campaign: Campaign, on: date, values: Mapping[str, Decimal], by: User | None = None,
               source: str = KpiSource.MANUAL) -> ImportReport:
    """Record one date's totals (manual entry, API), with the import's checks; raises ValidationError
    ({field: message}) and writes nothing when a value is refused."""
    values = {m: Decimal(v) for m, v in values.items() if v is not None}
    if not values:
        raise ValidationError(_("Saisissez au moins une valeur."))
    report = ImportReport()
    rows = [KpiRow(on=on, values=values)]
    check_rows(campaign=campaign, rows=rows, report=report)
    if not report.ok:
        errors: dict[str, list[str]] = {}
        for error in report.errors:
            errors.setdefault("on" if error.column == "date" else error.column, []).append(error.message)
        raise ValidationError(errors)
    write_rows(campaign=campaign, rows=rows, by=by, source=source, report=report)
    return report
