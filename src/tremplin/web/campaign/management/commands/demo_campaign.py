"""Demo coalition and campaigns, from the seed document on the Mouvement innovation santé (MIS 2.0):

- the coalition led by CEPSEM, with its 2018 founding partners as members and the sixteen organisations (fifteen
  lines) the document lists as approached for MIS 2.0 ("À ce jour, nous avons approché les organisations suivantes"), each
  with the interaction that records the approach; four of them have moved on since (two engaged, one member,
  one declined) — the demo's story of the campaign in progress, not the seed's;
- the previous campaign (2018) with its published results: 2,440 unique visits, 251,533 complete video views,
  480,000 unique people, 1,600,000 impressions, 24 press interviews, a $120,000 budget (its dates are not in the
  document: the results are dated at its end);
- MIS 2.0 in progress (dates relative to today): goals before the election, actions and their costs, five months
  of KPI totals, compared with 2018.

Idempotent: the coalition, members, campaigns, goals and actions are looked up by name; KPI values by date.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from tremplin.web.accounts.models import Organisation, User
from tremplin.web.campaign import services
from tremplin.web.campaign.models import Campaign, Coalition, CoalitionMember, KpiEntry, KpiSource

MANAGER = "manager@demo.tremplin.org"
LEAD = "CEPSEM"
COALITION = "Mouvement innovation santé"
PURPOSE = ("Réunir des acteurs de la santé qui croient en l'innovation pour améliorer les soins : montrer qu'il est "
           "possible d'offrir des soins de qualité lorsque le réseau public s'allie à des partenaires privés, à but "
           "non lucratif ou coopératifs.")
FOUNDERS = ["Le Groupe Maurice", "Groupe Santé Arbec", "Espace La Traversée"]
# As the seed document lists them (its "Compagnies technologiques : Numana, Hospitalis" line is two organisations).
APPROACHED = [
    "Clinique de chirurgie Dix-30", "Medtech Canada", "Pôle santé HEC Montréal",
    "Fédération des chambres de commerce du Québec (FCCQ)", "Numana", "Hospitalis", "BIOQuébec",
    "ACMG et Biosimilaires Canada", "Médicaments novateurs Canada", "ACCAP", "AFISQ", "Montréal International",
    "Medtronic Canada", "Association des établissements privés conventionnés (AEPC)",
    "Association des établissements de longue durée privés du Québec",
    "Regroupement québécois des résidences pour aînés (RQRA)",
]
APPROACHED_NOTES = {
    "Fédération des chambres de commerce du Québec (FCCQ)":
        "Pour les comités santé, chaîne de valeur du médicament, sciences de la vie et technologie.",
}
# What happened since (days after MIS 2.0's start): organisation, status, kind, summary, governance, commitments
PROGRESS = [
    ("Pôle santé HEC Montréal", "engaged", "meeting", 40, "Rencontre : appui à la démarche, données d'études à "
     "partager.", "none", ""),
    ("Clinique de chirurgie Dix-30", "engaged", "call", 65, "Accord de principe pour témoigner dans une vidéo.",
     "none", "Témoignage vidéo d'un chirurgien et d'une patiente."),
    ("Association des établissements privés conventionnés (AEPC)", "member", "letter", 90,
     "Entente de partenariat signée.", "spokesperson", "Porte-parole auprès des médias ; relais auprès de ses "
     "établissements membres."),
    ("ACCAP", "declined", "email", 100, "Ne souhaite pas s'associer publiquement avant l'élection.", "none", ""),
]

PREVIOUS = "Mouvement innovation santé (2018)"
PREVIOUS_START, PREVIOUS_END = date(2018, 3, 1), date(2019, 3, 31)
PREVIOUS_RESULTS = {"unique_visits": 2_440, "complete_views": 251_533, "unique_reach": 480_000,
                    "impressions": 1_600_000, "press_interviews": 24, "budget": 120_000}

CURRENT = "Mouvement innovation santé 2.0"
CURRENT_OBJECTIVE = ("Sensibiliser les décideurs à l'importance du rôle du privé en santé avant la prochaine campagne "
                     "électorale : valoriser les organisations privées comme partenaires naturels du système et "
                     "obtenir des appels de solutions basés sur les problématiques identifiées par le réseau.")
STARTED_DAYS_AGO, DURATION_DAYS = 150, 365
GOALS = [("unique_reach", 600_000), ("complete_views", 300_000), ("press_interviews", 30), ("unique_visits", 5_000)]
ACTIONS = [  # name, channel, start (days after the start), cost
    ("Refonte du site innovationsante.ca", "web", 0, 15_000),
    ("Série de vidéos de témoignages", "video", 20, 35_000),
    ("Campagne sur les réseaux sociaux", "social", 30, 40_000),
    ("Relations de presse", "press", 30, 12_000),
    ("Forum des partenaires", "event", 120, 8_000),
]
# Totals to date every 30 days (visits, complete views, people reached, impressions, interviews, budget spent)
SERIES = [
    (380, 31_000, 52_000, 170_000, 2, 21_000),
    (820, 74_000, 121_000, 395_000, 5, 38_500),
    (1_310, 118_000, 198_000, 640_000, 9, 55_000),
    (1_790, 160_500, 276_000, 890_000, 12, 71_000),
    (2_260, 203_000, 352_000, 1_150_000, 15, 84_000),
]
SERIES_METRICS = ("unique_visits", "complete_views", "unique_reach", "impressions", "press_interviews", "budget")


class Command(BaseCommand):
    help = "Load the demo coalition (MIS) and its campaigns (2018 results, MIS 2.0 in progress). Idempotent."

    def handle(self, *args, **options):
        manager = User.objects.filter(email=MANAGER).first()
        organisations = {o.name: o for o in Organisation.objects.all()}
        missing = ({LEAD, *FOUNDERS, *APPROACHED} - set(organisations)) or (set() if manager else {MANAGER})
        if missing:
            raise CommandError("Demo organisations or users missing (run `manage.py demo_setup` first): "
                               + ", ".join(sorted(missing)))
        today = timezone.localdate()
        start = today - timedelta(days=STARTED_DAYS_AGO)
        with transaction.atomic():
            coalition = Coalition.objects.filter(name=COALITION).first() or services.coalition_create(
                name=COALITION, lead_organisation=organisations[LEAD], purpose=PURPOSE, by=manager)
            self._members(coalition, organisations, manager, start)
            previous = self._campaign(coalition, PREVIOUS, manager, starts_on=PREVIOUS_START, ends_on=PREVIOUS_END,
                                      objective="Mettre de l'avant des initiatives québécoises qui sortent des "
                                                "sentiers battus (résultats publiés).")
            if not previous.kpi_entries.exists():
                self._kpis(previous, PREVIOUS_END, dict(PREVIOUS_RESULTS), manager)
            current = self._campaign(coalition, CURRENT, manager, starts_on=start,
                                     ends_on=start + timedelta(days=DURATION_DAYS), objective=CURRENT_OBJECTIVE,
                                     planned_budget=Decimal(150_000), previous=previous)
            for metric, target in GOALS:
                if not current.goals.filter(metric=metric).exists():
                    services.goal_add(campaign=current, metric=metric, target=Decimal(target),
                                      target_date=current.ends_on, label="Avant la campagne électorale")
            for name, channel, offset, cost in ACTIONS:
                if not current.actions.filter(name=name).exists():
                    services.action_add(campaign=current, name=name, channel=channel,
                                        starts_on=start + timedelta(days=offset), cost=Decimal(cost))
            for i, values in enumerate(SERIES, start=1):
                on = min(start + timedelta(days=30 * i), today)
                if not current.kpi_entries.filter(on=on).exists():
                    self._kpis(current, on, dict(zip(SERIES_METRICS, values, strict=True)), manager)
        self.stdout.write(f"Campaign demo: {CoalitionMember.objects.filter(coalition=coalition).count()} "
                          f"organisations in {COALITION}, {Campaign.objects.filter(coalition=coalition).count()} "
                          f"campaigns, {KpiEntry.objects.filter(campaign__coalition=coalition).count()} KPI values.")

    def _members(self, coalition, organisations, manager, start) -> None:
        existing = set(coalition.members.values_list("organisation__name", flat=True))
        for name in FOUNDERS:
            if name not in existing:
                services.member_add(coalition=coalition, organisation=organisations[name], by=manager,
                                    status="member", on=date(2018, 3, 1), kind="letter",
                                    summary="Partenaire fondateur du Mouvement innovation santé (2018).")
        for name in APPROACHED:
            if name not in existing:
                services.member_add(coalition=coalition, organisation=organisations[name], by=manager,
                                    status="approached", on=start, kind="meeting",
                                    summary=APPROACHED_NOTES.get(name, "Approchée pour la gouvernance du MIS 2.0."))
        for name, status, kind, offset, summary, governance, commitments in PROGRESS:
            member = coalition.members.get(organisation=organisations[name])
            if member.interactions.filter(status_after=status).exists():
                continue
            services.interaction_add(member=member, by=manager, on=start + timedelta(days=offset), kind=kind,
                                     summary=summary, status=status)
            if governance != "none" or commitments:
                services.member_update(member=member, governance_role=governance, commitments=commitments)

    @staticmethod
    def _campaign(coalition, name, manager, **fields) -> Campaign:
        campaign = Campaign.objects.filter(coalition=coalition, name=name).first()
        if campaign is None:
            campaign = services.campaign_create(coalition=coalition, name=name, by=manager, currency="CAD", **fields)
        return campaign

    @staticmethod
    def _kpis(campaign, on, values, manager) -> None:
        services.kpi_record(campaign=campaign, on=on, values={k: Decimal(v) for k, v in values.items()}, by=manager,
                            source=KpiSource.MANUAL)
