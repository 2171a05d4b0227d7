"""Demo portfolio: ~15 experiments across the five stages, from the demo organisations and territories.

Some come from the selected proposals of the demo calls (through `experiment_create_from_proposal`); each has
budget lines, milestones (some late), KPIs, a gate history (recorded through the gate service) and, for most,
an evaluation plan. "Télésurveillance de l'insuffisance cardiaque" is an article 51 experiment with dependent
deadlines whose authorisation ends before the evaluation can be conclusive (the alert). Idempotent: experiments
are looked up by title (or by proposal). Dates are relative to today so that late milestones stay late.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from tremplin.web.accounts.models import Organisation, Territory, User
from tremplin.web.portfolio import services
from tremplin.web.portfolio.models import Experiment, GateCriterion
from tremplin.web.portfolio.planning import add_months

CRITERIA = {
    1: ["Professionnels formés et volontaires identifiés", "Patients et usagers associés à la conception",
        "Gouvernance du projet en place"],
    2: ["Preuve de concept technique réalisée", "Interopérabilité avec les systèmes d'information vérifiée",
        "Analyse d'impact sur la protection des données"],
    3: ["Protocole d'évaluation rédigé et plan d'évaluation enregistré", "Modèle économique esquissé",
        "Sites d'expérimentation engagés"],
    4: ["Critère principal atteint selon le plan d'évaluation", "Aucune dégradation de la qualité des soins",
        "Soutenabilité financière démontrée"],
    5: ["Financement de droit commun obtenu", "Déploiement sur d'autres territoires planifié"],
}

# title, lead, partners, domain, stage, territories, sites, start (months ago), framework, authorisation (months),
# budget [(label, funder, type, committed, spent)], plan (outcome, treated, comparison, mean, sd, rho, effect)
EXPERIMENTS = [
    ("Télésurveillance de l'insuffisance cardiaque : déploiement article 51",
     "Kelvin Santé (jeune pousse de télésurveillance)", ["CHU Grenoble Alpes", "CPTS de Villeurbanne"],
     "chronic_disease", 4, ["FR-38", "FR-69-VIL"], [("Tiers-lieu santé de Villeurbanne", "FR-69-VIL")], 14,
     "article_51", 24,
     [("Plateforme de télésurveillance", "Fonds pour l'innovation du système de santé", "public", 420_000, 260_000),
      ("Infirmières de coordination", "Kelvin Santé", "private", 180_000, 150_000)],
     ("avoidable_hospitalisations", ["FR-69-VIL"], ["FR-69-L8", "FR-42-FOR", "FR-38-GRN"], 6.0, 0.25, 0.4, -0.10)),
    ("Infirmière de nuit mutualisée en EHPAD", "EHPAD coopératif Les Tilleuls", ["Hospices Civils de Lyon"],
     "elderly_care", 4, ["FR-74", "FR-69"], [("EHPAD Les Tilleuls", "FR-74")], 20, "article_51", 42,
     [("Postes d'infirmières de nuit", "Agence régionale de santé Auvergne-Rhône-Alpes", "public", 610_000, 330_000),
      ("Astreinte et formation", "Groupement d'EHPAD", "mixed", 90_000, 45_000)],
     ("emergency_visit_rate", ["FR-74", "FR-69"], ["FR-38", "FR-42", "FR-63", "FR-69-L8", "FR-38-GRN",
                                                   "FR-42-FOR", "FR-69-VIL"], 30.0, 1.2, 0.3, -0.15)),
    ("Parcours diabète coordonné en ville", "Association Diabète Auvergne", ["CPTS Forez"],
     "chronic_disease", 3, ["FR-63", "FR-42-FOR"], [("Maison des diabétiques de Clermont", "FR-63")], 10,
     "research_protocol", 36,
     [("Éducation thérapeutique", "Assurance maladie", "public", 150_000, 60_000)],
     ("hospitalisation_rate", ["FR-63", "FR-42-FOR"], ["FR-42", "FR-74", "FR-38", "FR-69", "FR-38-GRN",
                                                       "FR-69-L8"], 15.0, 0.8, 0.2, -0.10)),
    ("Pharmacien clinicien et polymédication des aînés", "Hospices Civils de Lyon", ["Clinique du Parc (Lyon)"],
     "medication", 2, ["FR-69"], [], 6, "research_protocol", 30,
     [("Temps pharmaceutique", "Hospices Civils de Lyon", "public", 120_000, 30_000)], None),
    ("Équipe mobile de psychiatrie après une hospitalisation", "CHU Grenoble Alpes",
     ["Maison de santé communautaire Grenoble Nord"], "mental_health", 3, ["FR-38", "FR-38-GRN"],
     [("Maison de santé Grenoble Nord", "FR-38-GRN")], 9, "common_law", None,
     [("Équipe mobile", "Agence régionale de santé Auvergne-Rhône-Alpes", "public", 280_000, 95_000)],
     ("readmissions_30d", ["FR-38"], ["FR-69", "FR-42", "FR-74", "FR-63"], 12.0, 0.7, 0.2, -0.15)),
    ("Téléexpertise dermatologique en maison de santé", "Maison de santé communautaire Grenoble Nord",
     ["Université Grenoble Alpes"], "primary_care_access", 5, ["FR-38", "FR-38-GRN"],
     [("Maison de santé Grenoble Nord", "FR-38-GRN")], 40, "common_law", None,
     [("Généralisation régionale", "Assurance maladie", "public", 300_000, 240_000)], None),
    ("Formation des aidants à la prévention des chutes", "Espace La Traversée",
     ["Regroupement québécois des résidences pour aînés (RQRA)"], "prevention", 1, ["CA-QC-16"],
     [("Tiers-lieu Espace La Traversée", "CA-QC-16")], 3, "common_law", None,
     [("Ateliers pour les aidants", "Fondation communautaire", "private", 40_000, 12_000)], None),
    ("Coordination ville-hôpital à la sortie d'hospitalisation", "CPTS de Villeurbanne",
     ["Hospices Civils de Lyon", "Clinique du Parc (Lyon)"], "care_coordination", 4, ["FR-69-VIL", "FR-69"],
     [("CPTS de Villeurbanne", "FR-69-VIL")], 16, "article_51", 36,
     [("Infirmières de liaison", "Fonds pour l'innovation du système de santé", "public", 350_000, 200_000),
      ("Messagerie sécurisée", "Éditeur partenaire", "private", 60_000, 60_000)],
     ("readmissions_30d", ["FR-69-VIL", "FR-69-L8"], ["FR-38-GRN", "FR-42-FOR", "FR-38", "FR-42", "FR-74",
                                                      "FR-63"], 14.0, 0.9, 0.3, -0.12)),
    ("Imagerie : moins d'examens redondants grâce au dossier partagé", "Clinique du Parc (Lyon)",
     ["Hospices Civils de Lyon"], "imaging", 3, ["FR-69-L8"], [], 8, "common_law", None,
     [("Intégration au dossier partagé", "Clinique du Parc (Lyon)", "private", 110_000, 70_000)],
     ("redundant_acts", ["FR-69-L8"], ["FR-69-VIL", "FR-38-GRN", "FR-42-FOR", "FR-38", "FR-42"], 8.0, 0.6, 0.2,
      -0.15)),
    ("Infirmier d'orientation aux urgences", "Clinique de chirurgie Dix-30", [], "emergency_care", 2,
     ["CA-QC-16-BRO"], [("Clinique Dix-30", "CA-QC-16-BRO")], 5, "research_protocol", 24,
     [("Postes d'orientation", "Ministère de la Santé du Québec", "public", 200_000, 40_000)], None),
    ("Résidences pour aînés connectées", "Groupe Santé Arbec", ["Numana"], "elderly_care", 1, ["CA-QC-13"],
     [("Résidence Arbec de Laval", "CA-QC-13")], 2, "common_law", None,
     [("Capteurs et tablettes", "Groupe Santé Arbec", "private", 75_000, 10_000)], None),
    ("Dépistage de la fragilité en pharmacie", "Coopérative de santé Robert-Cliche", [], "prevention", 2,
     ["CA-QC-03"], [], 12, "common_law", None,
     [("Formation des pharmaciens", "Coopérative de santé Robert-Cliche", "mixed", 50_000, 38_000)], None),
    ("Suivi connecté de la BPCO", "Medtronic Canada", ["Pôle santé HEC Montréal"], "chronic_disease", 1,
     ["CA-QC-06"], [], 1, "research_protocol", 36,
     [("Dispositifs connectés", "Medtronic Canada", "private", 160_000, 5_000)], None),
]
STOPPED = "Dépistage de la fragilité en pharmacie"
PROPOSALS_TO_CONVERT = 3


def _months(n: int, today: date) -> date:
    return add_months(today, n)


class Command(BaseCommand):
    help = "Load the demo portfolio (~15 experiments across the five stages). Idempotent."

    def handle(self, *args, **options):
        with transaction.atomic():
            created = self._load()
        self.stdout.write(f"Demo portfolio: {Experiment.objects.count()} experiments ({created} created).")

    def _load(self) -> int:
        today = timezone.localdate()
        manager = User.objects.filter(email="manager@demo.tremplin.org").first()
        for stage, texts in CRITERIA.items():
            if not GateCriterion.objects.filter(stage=stage).exists():
                services.gate_criteria_replace(stage=stage, texts=texts)
        territories = {t.code: t for t in Territory.objects.all()}
        created = 0
        for spec in EXPERIMENTS:
            if not Experiment.objects.filter(title=spec[0]).exists():
                self._experiment(spec, territories, manager, today)
                created += 1
        created += self._from_proposals(manager, today)
        return created

    def _experiment(self, spec, territories, manager, today) -> Experiment:
        (title, lead, partners, domain, stage, codes, sites, ago, framework, auth_months, budget, plan) = spec
        start = _months(-ago, today)
        experiment = services.experiment_create(
            title=title, summary=_summary(title), lead_organisation=Organisation.objects.get(name=lead),
            partners=list(Organisation.objects.filter(name__in=partners)), care_domain=domain, user=manager,
            territories=[territories[c] for c in codes if c in territories], start_date=start,
            legal_framework=framework, authorisation_end=add_months(start, auth_months) if auth_months else None)
        for name, code in sites:
            services.site_add(experiment=experiment, name=name, territory=territories.get(code))
        for label, funder, kind, committed, spent in budget:
            services.budget_line_add(experiment=experiment, label=label, funder=funder, funding_type=kind,
                                     committed=Decimal(committed), spent=Decimal(spent))
        self._gates(experiment, stage, start, today, manager, stopped=title == STOPPED)
        self._progress(experiment, start, today, late=stage in (3, 4) or title == STOPPED)
        if plan is not None:
            outcome, treated, comparison, mean, sd, rho, effect = plan
            services.evaluation_plan_register(
                experiment=experiment, user=manager, primary_outcome=outcome, design="did",
                treated_territories=[territories[c] for c in treated],
                comparison_territories=[territories[c] for c in comparison], baseline_mean=mean, baseline_sd=sd,
                autocorrelation=rho, expected_effect=effect, pre_months=12,
                expand_criteria=f"Généraliser si {outcome} baisse d'au moins {abs(effect) / 2:.0%} sans perte de "
                                "qualité des soins.",
                stop_criteria="Arrêter si aucune baisse n'est observée à mi-parcours ou en cas d'effet indésirable.")
        if framework == "article_51" and experiment.authorisation_end:
            services.deadlines_article51(experiment=experiment, permanent_within_months=9)
        return experiment

    def _gates(self, experiment, stage, start, today, manager, *, stopped: bool) -> None:
        span = max((today - start).days, 30)
        for i in range(1, stage):
            on = start + timedelta(days=span * i // stage)
            met = list(GateCriterion.objects.filter(stage=i).values_list("text", flat=True))
            if i == 2 and stage >= 4:
                services.gate_review_record(
                    experiment=experiment, decision="adapt", decided_on=on - timedelta(days=20), user=manager,
                    criteria_met=met[:1], deciders="Comité de pilotage régional",
                    rationale="Adapter le protocole : inclure les patients sortant d'hospitalisation.")
            services.gate_review_record(
                experiment=experiment, decision="advance", decided_on=on, user=manager, criteria_met=met,
                deciders="Comité de pilotage régional (ARS, Assurance maladie, représentants des usagers)",
                rationale=f"Critères de l'étape {i} remplis.")
        if stopped:
            services.gate_review_record(
                experiment=experiment, decision="stop", decided_on=today - timedelta(days=15), user=manager,
                deciders="Comité de pilotage", rationale="Faible adhésion des officines ; ressources réaffectées.")

    def _progress(self, experiment, start, today, *, late: bool) -> None:
        services.milestone_add(experiment=experiment, name="Lancement et gouvernance", due_date=start + timedelta(30),
                               done_on=start + timedelta(25))
        services.milestone_add(experiment=experiment, name="Formation des équipes",
                               due_date=start + timedelta(90), done_on=start + timedelta(100))
        services.milestone_add(experiment=experiment, name="Premiers patients inclus",
                               due_date=today - timedelta(days=20) if late else today + timedelta(days=45),
                               done_on=None)
        services.milestone_add(experiment=experiment, name="Rapport intermédiaire", due_date=today + timedelta(120))
        patients = services.kpi_add(experiment=experiment, name="Patients inclus", unit="patients", target=400)
        trained = services.kpi_add(experiment=experiment, name="Professionnels formés", unit="personnes", target=60)
        sites = services.kpi_add(experiment=experiment, name="Sites actifs", unit="sites", target=5)
        months = max(min((today - start).days // 30, 12), 1)
        for m in range(1, months + 1):
            on = add_months(start, m)
            services.kpi_value_record(kpi=patients, on=on, value=25 * m + (experiment.pk % 7) * m)
            services.kpi_value_record(kpi=trained, on=on, value=min(60, 6 * m))
            services.kpi_value_record(kpi=sites, on=on, value=min(5, 1 + m // 3))

    def _from_proposals(self, manager, today) -> int:
        from tremplin.web.portfolio.selectors import proposals_without_experiment

        if Experiment.objects.filter(proposal__isnull=False).count() >= PROPOSALS_TO_CONVERT:
            return 0
        created = 0
        for i, proposal in enumerate(list(proposals_without_experiment()[:PROPOSALS_TO_CONVERT])):
            experiment = services.experiment_create_from_proposal(proposal=proposal, user=manager)
            start = _months(-(2 + i), today)
            services.experiment_update(experiment=experiment, start_date=start,
                                       legal_framework="research_protocol", authorisation_end=add_months(start, 30))
            self._gates(experiment, 1 + (i % 2), start, today, manager, stopped=False)
            self._progress(experiment, start, today, late=False)
            created += 1
        return created


def _summary(title: str) -> str:
    return (f"{title} : expérimentation portée par le réseau, co-construite avec les professionnels et les "
            "usagers, évaluée sur les données de soins des territoires expérimentateurs et de comparaison.")
