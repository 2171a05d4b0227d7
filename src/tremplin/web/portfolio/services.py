"""Writes of the portfolio: keyword-only `<entity>_<action>` functions. Transitions are enforced here."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tremplin.engine.errors import EngineInputError
from tremplin.web.accounts.models import Organisation, Territory, User
from tremplin.web.accounts.services import ImportReport
from tremplin.web.core import validation
from tremplin.web.portfolio import planning
from tremplin.web.portfolio.models import (
    BudgetLine,
    Deadline,
    EvaluationPlan,
    Experiment,
    ExperimentStatus,
    GateCriterion,
    GateDecision,
    GateReview,
    Kpi,
    KpiValue,
    LegalFramework,
    Milestone,
    PlanAmendment,
    Stage,
    TestSite,
)
from tremplin.web.problems.models import CareDomain

EXPERIMENT_FIELDS = ("title", "summary", "lead_organisation", "care_domain", "stage", "start_date",
                     "legal_framework", "authorisation_end")


def _check_dates(start_date, authorisation_end) -> None:
    if start_date and authorisation_end and authorisation_end <= start_date:
        raise ValidationError({"authorisation_end": _("La fin de l'autorisation doit suivre la date de début.")})


@transaction.atomic
def experiment_create(*, title: str, lead_organisation: Organisation, user: User | None = None, summary: str = "",
                      partners: Iterable[Organisation] = (), territories: Iterable[Territory] = (),
                      care_domain: str = CareDomain.OTHER, stage: int = Stage.TRAINING, start_date: date | None = None,
                      legal_framework: str = LegalFramework.COMMON_LAW, authorisation_end: date | None = None,
                      proposal=None) -> Experiment:
    """Create an experiment directly (or from a proposal, see `experiment_create_from_proposal`)."""
    if not title.strip():
        raise ValidationError({"title": _("Le titre est obligatoire.")})
    _check_dates(start_date, authorisation_end)
    experiment = Experiment(
        title=title.strip(), summary=summary, lead_organisation=lead_organisation, care_domain=care_domain,
        stage=stage, start_date=start_date, legal_framework=legal_framework, authorisation_end=authorisation_end,
        proposal=proposal, created_by=user)
    validation.validate_instance(experiment)
    experiment.save()
    experiment.partners.set([p for p in partners if p.pk != lead_organisation.pk])
    experiment.territories.set(territories)
    return experiment


@transaction.atomic
def experiment_update(*, experiment: Experiment, partners: Iterable[Organisation] | None = None,
                      territories: Iterable[Territory] | None = None, **fields) -> Experiment:
    """Update the descriptive fields. The stage only changes through gate reviews."""
    unknown = set(fields) - set(EXPERIMENT_FIELDS) - {"stage"}
    if unknown:
        raise ValidationError(_("Champs inconnus : %(f)s") % {"f": ", ".join(sorted(unknown))})
    if "stage" in fields and int(fields["stage"]) != experiment.stage:
        raise ValidationError({"stage": _("L'étape ne change que par une revue de passage.")})
    fields.pop("stage", None)
    _check_dates(fields.get("start_date", experiment.start_date),
                 fields.get("authorisation_end", experiment.authorisation_end))
    for name, value in fields.items():
        setattr(experiment, name, value)
    validation.validate_instance(experiment)
    experiment.save()
    if partners is not None:
        experiment.partners.set([p for p in partners if p.pk != experiment.lead_organisation_id])
    if territories is not None:
        experiment.territories.set(territories)
    return experiment


@transaction.atomic
def experiment_create_from_proposal(*, proposal, user: User | None = None) -> Experiment:
    """Turn a selected (released) proposal into a stage-1 experiment: organisations, territories, budget."""
    from tremplin.web.calls.models import Proposal

    proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.selected_at is None:
        raise ValidationError(_("Seule une proposition retenue (décisions publiées) devient une expérimentation."))
    if Experiment.objects.filter(proposal=proposal).exists():
        raise ValidationError(_("Cette proposition est déjà une expérimentation."))
    problem = proposal.call.problems.order_by("pk").first()
    experiment = experiment_create(
        title=proposal.title, summary=proposal.summary, lead_organisation=proposal.organisation, user=user,
        partners=list(proposal.partners.all()), territories=list(proposal.territories.all()),
        care_domain=problem.domain if problem else CareDomain.OTHER, proposal=proposal)
    for line in proposal.budget_lines.all():
        BudgetLine.objects.create(experiment=experiment, label=line.label, funder=proposal.call.title,
                                  funding_type="public", committed=line.amount, spent=0)
    return experiment


def _saved(instance):
    """Save after the model's full validation (lengths, digits, ranges, NUL characters)."""
    validation.validate_instance(instance)
    instance.save()
    return instance


def site_add(*, experiment: Experiment, name: str, territory: Territory | None = None) -> TestSite:
    return _saved(TestSite(experiment=experiment, name=name, territory=territory))


def budget_line_add(*, experiment: Experiment, label: str, committed: Decimal | int = 0, spent: Decimal | int = 0,
                    funder: str = "", funding_type: str = "public") -> BudgetLine:
    if Decimal(committed) < 0 or Decimal(spent) < 0:
        raise ValidationError(_("Les montants ne peuvent pas être négatifs."))
    return _saved(BudgetLine(experiment=experiment, label=label, committed=committed, spent=spent, funder=funder,
                             funding_type=funding_type))


def milestone_add(*, experiment: Experiment, name: str, due_date: date, done_on: date | None = None) -> Milestone:
    if experiment.milestones.filter(name=name).exists():
        raise ValidationError({"name": _("Un jalon porte déjà ce nom.")})
    return _saved(Milestone(experiment=experiment, name=name, due_date=due_date, done_on=done_on))


def milestone_mark_done(*, milestone: Milestone, done_on: date | None = None) -> Milestone:
    milestone.done_on = done_on or timezone.localdate()
    milestone.save(update_fields=["done_on"])
    return milestone


def kpi_add(*, experiment: Experiment, name: str, unit: str = "", target: Decimal | int | None = None) -> Kpi:
    if experiment.kpis.filter(name=name).exists():
        raise ValidationError({"name": _("Un indicateur porte déjà ce nom.")})
    return _saved(Kpi(experiment=experiment, name=name, unit=unit, target=target))


def kpi_value_record(*, kpi: Kpi, on: date, value: Decimal | int | float) -> KpiValue:
    """Record (or replace) the actual value of a KPI at a date (checked against the field: digits, finite)."""
    candidate = KpiValue(kpi=kpi, date=on, value=str(value))
    errors = validation.instance_errors(candidate)
    if errors:
        raise ValidationError(errors)
    obj, _created = KpiValue.objects.update_or_create(kpi=kpi, date=on, defaults={"value": candidate.value})
    return obj


# --- stage gates ----------------------------------------------------------------------------------------------


@transaction.atomic
def gate_criteria_replace(*, stage: int, texts: Sequence[str]) -> list[GateCriterion]:
    """Replace the criteria template of a stage (blank lines ignored)."""
    if stage not in Stage.values:
        raise ValidationError(_("Étape inconnue : %(s)s") % {"s": stage})
    criteria = [GateCriterion(stage=stage, text=text.strip(), order=i)
                for i, text in enumerate(t for t in texts if t.strip())]
    for criterion in criteria:
        validation.validate_instance(criterion)
    GateCriterion.objects.filter(stage=stage).delete()
    GateCriterion.objects.bulk_create(criteria)
    return criteria


@transaction.atomic
def gate_review_record(*, experiment: Experiment, decision: str, rationale: str, deciders: str,
                       decided_on: date | None = None, criteria_met: Sequence[str] = (), user: User | None = None,
                       new_authorisation_end: date | None = None) -> GateReview:
    """Record a gate decision and apply it: advance → next stage; stop → ended; extend → optional new
    authorisation end; adapt → same stage. A stopped experiment takes no further decision."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if decision not in GateDecision.values:
        raise ValidationError({"decision": _("Décision inconnue (attendu : %(v)s).")
                               % {"v": ", ".join(GateDecision.values)}})
    if experiment.status == ExperimentStatus.STOPPED:
        raise ValidationError(_("Cette expérimentation est arrêtée : aucune décision ne peut plus être prise."))
    if not rationale.strip():
        raise ValidationError({"rationale": _("Les motifs de la décision sont obligatoires.")})
    if not deciders.strip():
        raise ValidationError({"deciders": _("Indiquez qui a décidé.")})
    decided_on = decided_on or timezone.localdate()
    stage_before = experiment.stage
    known = set(GateCriterion.objects.filter(stage=stage_before).values_list("text", flat=True))
    unknown = [c for c in criteria_met if c not in known]
    if unknown:
        raise ValidationError({"criteria_met": _("Critère inconnu pour cette étape : %(c)s") % {"c": unknown[0]}})
    if decision == GateDecision.ADVANCE:
        if stage_before >= Stage.DEPLOYMENT:
            raise ValidationError({"decision": _("L'étape 5 (déploiement à grande échelle) est la dernière.")})
        experiment.stage = stage_before + 1
    elif decision == GateDecision.STOP:
        experiment.status = ExperimentStatus.STOPPED
        experiment.ended_on = decided_on
    elif decision == GateDecision.EXTEND and new_authorisation_end is not None:
        if experiment.authorisation_end and new_authorisation_end <= experiment.authorisation_end:
            raise ValidationError({"new_authorisation_end": _("La prolongation doit repousser la fin de "
                                                              "l'autorisation.")})
        experiment.authorisation_end = new_authorisation_end
    review = GateReview(experiment=experiment, stage=stage_before, stage_after=experiment.stage,
                        decision=decision, rationale=rationale.strip(), deciders=deciders.strip(),
                        criteria_met=list(criteria_met), decided_on=decided_on, recorded_by=user)
    validation.validate_instance(review, exclude=["experiment"])
    validation.validate_instance(experiment)
    experiment.save()
    review.save()
    return review


# --- evaluation plan ------------------------------------------------------------------------------------------

PLAN_FIELDS = ("primary_outcome", "design", "expected_effect", "baseline_mean", "baseline_sd", "autocorrelation",
               "pre_months", "expand_criteria", "stop_criteria")


def _validate_plan(values: dict, treated: list[Territory], comparison: list[Territory]) -> None:
    errors = {}
    if values["primary_outcome"] not in planning.OUTCOME_CHOICES:
        errors["primary_outcome"] = _("Critère inconnu du catalogue (attendu : %(v)s).") % {
            "v": ", ".join(planning.OUTCOME_CHOICES)}
    if not treated:
        errors["treated_territories"] = _("Au moins un territoire expérimentateur.")
    if not comparison:
        errors["comparison_territories"] = _("Au moins un territoire de comparaison.")
    if {t.pk for t in treated} & {t.pk for t in comparison}:
        errors["comparison_territories"] = _("Un territoire ne peut pas être à la fois expérimentateur et témoin.")
    if not values["expected_effect"]:
        errors["expected_effect"] = _("L'effet attendu ne peut pas être nul.")
    if not str(values["expand_criteria"]).strip():
        errors["expand_criteria"] = _("Les critères pour généraliser sont déclarés à l'avance.")
    if not str(values["stop_criteria"]).strip():
        errors["stop_criteria"] = _("Les critères pour arrêter sont déclarés à l'avance.")
    if errors:
        raise ValidationError(errors)


def _power(plan: EvaluationPlan, values: dict, treated: list, comparison: list) -> None:
    try:
        result = planning.plan_duration(
            n_units=len(treated) + len(comparison), n_treated=len(treated), baseline_mean=values["baseline_mean"],
            sd=values["baseline_sd"], autocorrelation=values["autocorrelation"], effect=values["expected_effect"],
            pre_months=values["pre_months"])
    except EngineInputError as exc:
        raise ValidationError(_("Calcul de puissance impossible : %(e)s") % {"e": exc}) from exc
    plan.months_required = result.months_required
    plan.power_result = result.to_dict()


@transaction.atomic
def evaluation_plan_register(*, experiment: Experiment, treated_territories: Iterable[Territory],
                             comparison_territories: Iterable[Territory], user: User | None = None,
                             **fields) -> EvaluationPlan:
    """Register the evaluation plan (before any result) and compute the months of follow-up required."""
    if EvaluationPlan.objects.filter(experiment=experiment).exists():
        raise ValidationError(_("Le plan d'évaluation est déjà enregistré : modifiez-le."))
    defaults = {"design": "did", "expected_effect": -0.10, "autocorrelation": 0.0, "pre_months": 12}
    values = {**defaults, **fields}
    missing = [f for f in PLAN_FIELDS if f not in values]
    if missing:
        raise ValidationError(_("Champs manquants : %(f)s") % {"f": ", ".join(missing)})
    treated, comparison = list(treated_territories), list(comparison_territories)
    _validate_plan(values, treated, comparison)
    plan = EvaluationPlan(experiment=experiment, **{k: values[k] for k in PLAN_FIELDS})
    _power(plan, values, treated, comparison)
    _saved(plan)
    plan.treated_territories.set(treated)
    plan.comparison_territories.set(comparison)
    return plan


def _plain(value):
    if isinstance(value, list):
        return sorted(value)
    return value


@transaction.atomic
def evaluation_plan_update(*, plan: EvaluationPlan, user: User | None = None, reason: str = "",
                           treated_territories: Iterable[Territory] | None = None,
                           comparison_territories: Iterable[Territory] | None = None, **fields) -> EvaluationPlan:
    """Change the plan. Once locked, a reason is required and the change is kept as an amendment."""
    plan = EvaluationPlan.objects.select_for_update().get(pk=plan.pk)
    unknown = set(fields) - set(PLAN_FIELDS)
    if unknown:
        raise ValidationError(_("Champs inconnus : %(f)s") % {"f": ", ".join(sorted(unknown))})
    treated = list(treated_territories) if treated_territories is not None else list(plan.treated_territories.all())
    comparison = (list(comparison_territories) if comparison_territories is not None
                  else list(plan.comparison_territories.all()))
    before = {f: getattr(plan, f) for f in PLAN_FIELDS}
    before["treated_territories"] = sorted(t.code for t in plan.treated_territories.all())
    before["comparison_territories"] = sorted(t.code for t in plan.comparison_territories.all())
    values = {**{f: getattr(plan, f) for f in PLAN_FIELDS}, **fields}
    after = {**values, "treated_territories": sorted(t.code for t in treated),
             "comparison_territories": sorted(t.code for t in comparison)}
    changes = {k: [_plain(before[k]), _plain(after[k])] for k in after if _plain(before[k]) != _plain(after[k])}
    if not changes:
        return plan
    if plan.locked_at is not None and not reason.strip():
        raise ValidationError({"reason": _("Le plan est verrouillé : motivez l'avenant.")})
    _validate_plan(values, treated, comparison)
    for name in PLAN_FIELDS:
        setattr(plan, name, values[name])
    _power(plan, values, treated, comparison)
    _saved(plan)
    plan.treated_territories.set(treated)
    plan.comparison_territories.set(comparison)
    if plan.locked_at is not None:
        PlanAmendment.objects.create(plan=plan, changes=changes, reason=reason.strip(), changed_by=user)
    return plan


@transaction.atomic
def evaluation_plan_lock(*, plan: EvaluationPlan) -> EvaluationPlan:
    """Lock the plan (the evaluations app calls this when a run starts on data). Idempotent; audited (save)."""
    locked = EvaluationPlan.objects.select_for_update().get(pk=plan.pk)
    if locked.locked_at is None:
        locked.locked_at = timezone.now()
        locked.save(update_fields=["locked_at"])
    plan.locked_at = locked.locked_at
    return plan


# --- deadlines ------------------------------------------------------------------------------------------------


def _check_resolves(experiment: Experiment, extra: planning.DeadlineRule) -> None:
    """No cycle, and a date in the calendar (years 1 to 9999) once the offsets are applied."""
    rules = {d.pk: planning.DeadlineRule(d.pk, d.fixed_date, d.relative_to_id, d.offset_months, d.offset_days)
             for d in experiment.deadlines.all()}
    rules[extra.id] = extra
    try:
        resolved = planning.resolve_deadlines(rules)
    except planning.DeadlineCycleError as exc:
        raise ValidationError({"relative_to": _("Ces échéances dépendent les unes des autres en boucle.")}) from exc
    if resolved.get(extra.id) is None and (extra.fixed_date is not None or resolved.get(extra.relative_to)):
        raise ValidationError({"offset_months": _("Ce décalage sort du calendrier (années 1 à 9999).")})


@transaction.atomic
def deadline_add(*, experiment: Experiment, name: str, fixed_date: date | None = None,
                 relative_to: Deadline | None = None, offset_months: int = 0, offset_days: int = 0) -> Deadline:
    """A deadline: a fixed date, or relative to another deadline of the same experiment."""
    if (fixed_date is None) == (relative_to is None):
        raise ValidationError(_("Une échéance a soit une date fixe, soit une échéance de référence."))
    if relative_to is not None and relative_to.experiment_id != experiment.pk:
        raise ValidationError({"relative_to": _("L'échéance de référence appartient à une autre expérimentation.")})
    deadline = Deadline(experiment=experiment, name=name, fixed_date=fixed_date, relative_to=relative_to,
                        offset_months=offset_months, offset_days=offset_days)
    validation.validate_instance(deadline)
    _check_resolves(experiment, planning.DeadlineRule(0, fixed_date, relative_to.pk if relative_to else None,
                                                      offset_months, offset_days))
    deadline.save()
    return deadline


@transaction.atomic
def deadline_update(*, deadline: Deadline, **fields) -> Deadline:
    """Change a deadline (cycles refused)."""
    for name, value in fields.items():
        setattr(deadline, name, value)
    if (deadline.fixed_date is None) == (deadline.relative_to_id is None):
        raise ValidationError(_("Une échéance a soit une date fixe, soit une échéance de référence."))
    validation.validate_instance(deadline)
    _check_resolves(deadline.experiment, planning.DeadlineRule(deadline.pk, deadline.fixed_date,
                                                               deadline.relative_to_id, deadline.offset_months,
                                                               deadline.offset_days))
    deadline.save()
    return deadline


def deadline_mark_done(*, deadline: Deadline, done_on: date | None = None) -> Deadline:
    deadline.done_on = done_on or timezone.localdate()
    deadline.save(update_fields=["done_on"])
    return deadline


@transaction.atomic
def deadlines_article51(*, experiment: Experiment, early_months: int = 12,
                        permanent_within_months: int = 9) -> list[Deadline]:
    """Article 51 follow-on dates: the authorisation end starts an early reimbursement lasting `early_months`,
    after which the permanent application is due within `permanent_within_months` (6 or 9)."""
    if experiment.authorisation_end is None:
        raise ValidationError(_("Renseignez d'abord la fin de l'autorisation."))
    end = deadline_add(experiment=experiment, name=_("Fin de l'autorisation dérogatoire"),
                       fixed_date=experiment.authorisation_end)
    report = deadline_add(experiment=experiment, name=_("Rapport d'évaluation final"), relative_to=end,
                          offset_months=-3)
    early = deadline_add(experiment=experiment, name=_("Fin du remboursement anticipé"), relative_to=end,
                         offset_months=early_months)
    permanent = deadline_add(experiment=experiment, name=_("Décision de prise en charge de droit commun"),
                             relative_to=early, offset_months=permanent_within_months)
    return [end, report, early, permanent]


# --- bulk updates (CSV) ---------------------------------------------------------------------------------------

PROGRESS_CSV_COLUMNS = ("experiment_id", "type", "name", "due_date", "done_on", "date", "value")
REQUIRED_PROGRESS_COLUMNS = ("experiment_id", "type", "name")


def _parse_date(text: str) -> date:
    return date.fromisoformat(text.strip())


def progress_import_csv(*, content: bytes | str, user: User) -> ImportReport:
    """Milestones and KPI actuals from CSV, validated entirely, then all or nothing.

    Columns: experiment_id, type (milestone|kpi), name, due_date, done_on (milestones), date, value (KPIs).
    A milestone row updates the named milestone (or creates it when a due_date is given); a KPI row records
    the actual value of the named KPI at `date`. The user must be allowed to update each experiment.
    """
    report = ImportReport()
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            report.add_error(1, "*", _("le fichier doit être encodé en UTF-8"))
            return report
    reader = csv.DictReader(io.StringIO(content, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_PROGRESS_COLUMNS if c not in header]
    if missing:
        report.add_error(1, ", ".join(missing), _("colonnes manquantes (attendu : %(cols)s)")
                         % {"cols": ", ".join(PROGRESS_CSV_COLUMNS)})
        return report
    reader.fieldnames = header
    experiments: dict[int, Experiment | None] = {}
    allowed: dict[int, bool] = {}
    writes: list[tuple] = []
    seen: dict[tuple, int] = {}
    try:
        for raw in reader:
            line = reader.line_num
            if None in raw:
                report.add_error(line, "*", _("trop de valeurs sur la ligne"))
                continue
            row = {k: (v or "").strip() for k, v in raw.items()}
            bad_characters = validation.nul_columns(row)
            if bad_characters:
                report.add_error(line, bad_characters[0], validation.nul_error())
                continue
            exp_id = validation.parse_id(row["experiment_id"])
            if exp_id is None:
                report.add_error(line, "experiment_id", _("identifiant entier attendu, reçu « %(value)s »")
                                 % {"value": row["experiment_id"][:50]})
                continue
            if exp_id not in experiments:
                experiments[exp_id] = Experiment.objects.filter(pk=exp_id).first()
                allowed[exp_id] = experiments[exp_id] is not None and user.has_perm(
                    "portfolio.update_progress", experiments[exp_id])
            experiment = experiments[exp_id]
            if experiment is None:
                report.add_error(line, "experiment_id", _("expérimentation %(id)s inconnue") % {"id": exp_id})
                continue
            if not allowed[exp_id]:
                report.add_error(line, "experiment_id", _("vous ne pouvez pas mettre à jour l'expérimentation "
                                                          "%(id)s") % {"id": exp_id})
                continue
            kind, name = row["type"].lower(), row["name"]
            if not name:
                report.add_error(line, "name", _("nom obligatoire"))
                continue
            key = (exp_id, kind, name, row.get("date", ""))
            if key in seen:
                report.add_error(line, "*", _("ligne en double (déjà ligne %(line)s)") % {"line": seen[key]})
                continue
            seen[key] = line
            if kind == "milestone":
                dates, bad_date = {}, False
                for column in ("due_date", "done_on"):
                    text = row.get(column, "")
                    if text:
                        try:
                            dates[column] = _parse_date(text)
                        except ValueError:
                            bad_date = True
                            report.add_error(line, column, _("date AAAA-MM-JJ attendue, reçu « %(value)s »")
                                             % {"value": text[:50]})
                if bad_date:
                    continue
                milestone = experiment.milestones.filter(name=name).first()
                if milestone is None and "due_date" not in dates:
                    report.add_error(line, "name", _("jalon « %(name)s » inconnu (donnez une échéance pour le "
                                                     "créer)") % {"name": name[:200]})
                    continue
                if not dates and milestone is not None:
                    report.add_error(line, "done_on", _("rien à mettre à jour (due_date ou done_on)"))
                    continue
                candidate = milestone or Milestone(experiment=experiment, name=name)
                for field_name, value in dates.items():
                    setattr(candidate, field_name, value)
                errors = list(validation.row_errors(line, candidate, exclude=["experiment"]))
                for error in errors:
                    report.add_error(*error)
                if not errors:
                    writes.append(("milestone", candidate))
            elif kind == "kpi":
                kpi = experiment.kpis.filter(name=name).first()
                if kpi is None:
                    report.add_error(line, "name", _("indicateur « %(name)s » inconnu") % {"name": name[:200]})
                on = None
                try:
                    on = _parse_date(row.get("date", ""))
                except ValueError:
                    report.add_error(line, "date", _("date AAAA-MM-JJ attendue, reçu « %(value)s »")
                                     % {"value": row.get("date", "")[:50]})
                # The value is checked against the model field (max_digits, decimal_places, finite): what the
                # import accepts, the pages and the API read back.
                candidate = KpiValue(kpi=kpi, date=on, value=row.get("value", "").replace(",", "."))
                errors = list(validation.row_errors(line, candidate, exclude=["kpi", "date"]))
                for error in errors:
                    report.add_error(*error)
                if kpi is not None and on is not None and not errors:
                    writes.append(("kpi", candidate))
            else:
                report.add_error(line, "type", _("type « %(value)s » inconnu (attendu : milestone, kpi)")
                                 % {"value": row["type"][:50]})
    except csv.Error as exc:
        report.add_error(reader.line_num + 1, "*", _("CSV illisible : %(error)s") % {"error": exc})
    if not writes and report.ok:
        report.add_error(2, "*", _("le fichier ne contient aucune ligne"))
    if not report.ok:
        return report
    with transaction.atomic():
        for kind, candidate in writes:
            if kind == "kpi":
                _obj, created = KpiValue.objects.update_or_create(kpi=candidate.kpi, date=candidate.date,
                                                                  defaults={"value": candidate.value})
            else:
                created = candidate.pk is None
                candidate.save()
            report.created += created
            report.updated += not created
    return report
