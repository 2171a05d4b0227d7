"""Demo horizon scanning: a dozen signals across the seven domains and three horizons (half of them public),
linked to the demo problems; a panel of three (the demo reviewer, evaluator and decision maker) that scored most
signals, with one strong disagreement; two signals whose review is overdue (their steward, the demo programme
manager, gets the reminder when the worker runs).

Idempotent: signals are looked up by title, scores by (signal, scorer). Review dates are relative to today so
that the overdue ones stay overdue. demo_setup runs it after demo_problems (problems are looked up by title;
missing ones are skipped).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from tremplin.web.accounts.models import User
from tremplin.web.horizon import services
from tremplin.web.horizon.models import PanelMember, Signal, SignalScore
from tremplin.web.portfolio.planning import add_months
from tremplin.web.problems.models import Problem

MANAGER = "manager@demo.tremplin.org"
PANEL = ("reviewer@demo.tremplin.org", "evaluator@demo.tremplin.org", "decider@demo.tremplin.org")
SOURCES = {
    "has": "https://www.has-sante.fr/",
    "inesss": "https://www.inesss.qc.ca/",
    "who": "https://www.who.int/",
    "ehds": "https://health.ec.europa.eu/ehealth-digital-health-and-care/european-health-data-space_fr",
}

# title, domain, horizon, likelihood (1–4), impacts (workforce, pathways, costs, skills transfer), public,
# reviewed (months ago), problems (titles), sources, summary, notes on care organisation
SIGNALS = [
    ("Prédiagnostic par IA des rétinographies en pharmacie et en maison de santé", "ai", "short", 4, (3, 3, 2, 4),
     True, 2, ["Dépistage insuffisant de la rétinopathie diabétique"], ["has", "who"],
     "Des algorithmes autorisés lisent les rétinographies et repèrent la rétinopathie diabétique avec une "
     "sensibilité proche de celle des ophtalmologues.",
     "L'examen est réalisé par un orthoptiste, un infirmier ou un pharmacien ; l'ophtalmologue ne voit que les cas "
     "suspects : un transfert de tâches entre professions, à organiser et à financer."),
    ("Télésurveillance de l'insuffisance cardiaque par objets connectés", "digital", "short", 4, (2, 4, 3, 2),
     True, 8, ["Réhospitalisations évitables des patients insuffisants cardiaques",
               "Hospitalisations évitables d'insuffisants cardiaques faute de suivi à domicile"], ["has"],
     "Balance, tensiomètre et questionnaire quotidien transmis à une équipe qui ajuste le traitement avant la "
     "décompensation ; remboursée en droit commun en France depuis 2023.",
     "Des infirmières de télésurveillance trient les alertes ; le cardiologue et le médecin traitant partagent le "
     "suivi."),
    ("Agents conversationnels d'IA générative pour la coordination de sortie", "ai", "medium", 3, (3, 3, 2, 3),
     False, 1, ["Coordination ville-hôpital à la sortie des patients âgés fragiles"], ["who"],
     "Des assistants rédigent la lettre de liaison, préparent les rendez-vous de suivi et répondent aux questions "
     "des patients après la sortie.",
     "Moins de temps administratif pour les soignants ; responsabilité et contrôle humain à définir."),
    ("Séquençage génomique rapide aux urgences pédiatriques", "genomics", "medium", 2, (1, 2, 3, 1), True, 3, [],
     ["who"], "Un diagnostic génétique en 48 heures pour les nouveau-nés en réanimation.",
     "Des généticiens disponibles en continu et des circuits d'échantillons dédiés."),
    ("Pharmacogénomique pour la polymédication des aînés", "genomics", "long", 2, (1, 2, 2, 2), False, 4,
     ["Iatrogénie médicamenteuse chez les personnes âgées polymédiquées"], ["has"],
     "Adapter les traitements au profil génétique pour éviter les effets indésirables.",
     "Les pharmaciens cliniciens interprètent les profils ; le dossier partagé les rend accessibles."),
    ("Exosquelettes pour les soignants en établissement pour aînés", "devices", "medium", 2, (4, 1, 2, 1), False, 5,
     [], ["inesss"], "Des exosquelettes légers réduisent les troubles musculo-squelettiques lors des transferts.",
     "Moins d'arrêts de travail ; formation des équipes de nuit."),
    ("Capteurs de chute non intrusifs au domicile", "devices", "short", 3, (1, 3, 2, 1), True, 7,
     ["Chutes à domicile des personnes âgées vivant seules"], ["inesss"],
     "Des capteurs radar détectent les chutes sans caméra ni bracelet et alertent un proche ou un service.",
     "Un service d'intervention à organiser sur le territoire, avec la CPTS."),
    ("Thérapies géniques délivrées en ambulatoire", "therapies", "long", 1, (2, 3, 4, 1), False, 3, [], ["who"],
     "Des thérapies géniques administrées en une séance, hors des centres experts.",
     "Des coûts unitaires très élevés : paiement à la performance et suivi au long cours."),
    ("Espace européen des données de santé et dossiers interopérables", "data", "medium", 3, (1, 3, 3, 1), True, 2,
     ["Examens d'imagerie redondants entre la ville et l'hôpital"], ["ehds"],
     "Le règlement européen sur l'espace des données de santé impose l'échange des comptes rendus et des images.",
     "Moins d'examens refaits ; des éditeurs de logiciels à mobiliser."),
    ("Jumeaux numériques de parcours pour planifier les capacités", "data", "long", 1, (2, 2, 2, 1), False, 5, [],
     ["who"], "Simuler les flux de patients d'un territoire pour dimensionner lits, équipes et plateaux techniques.",
     ""),
    ("Infirmières en pratique avancée en première ligne", "organisation", "short", 4, (4, 3, 2, 4), True, 1,
     ["Accès à un médecin traitant en zone rurale", "Recours aux urgences pour des soins non urgents"],
     ["has", "inesss"],
     "Des infirmières en pratique avancée suivent les patients chroniques stables et reçoivent les demandes de "
     "soins non programmés.",
     "Un transfert de compétences du médecin vers l'infirmière, avec un exercice coordonné en maison de santé."),
    ("Hospitalisation à domicile soutenue par la télésurveillance", "organisation", "medium", 3, (3, 4, 3, 2), False,
     2, ["Passages aux urgences des résidents d'EHPAD la nuit et le week-end"], ["has"],
     "Des séjours d'hospitalisation à domicile plus courts et plus sûrs grâce au suivi à distance.",
     "Des équipes mobiles de nuit et un médecin coordonnateur joignable."),
]

# (signal index, scorer index): (likelihood, impact, relevance) — scorer 0 is generous, 1 strict, 2 in between;
# signal 2 divides the panel.
SCORES = {
    (0, 0): (4, 4, 4), (0, 1): (3, 3, 3), (0, 2): (4, 3, 4),
    (1, 0): (4, 3, 4), (1, 1): (3, 3, 4), (1, 2): (4, 3, 3),
    (2, 0): (4, 4, 4), (2, 1): (1, 1, 2), (2, 2): (2, 3, 3),
    (3, 0): (3, 2, 2), (3, 1): (1, 2, 1),
    (4, 0): (2, 3, 3), (4, 1): (1, 1, 2), (4, 2): (2, 2, 3),
    (6, 0): (3, 2, 3), (6, 1): (2, 2, 2), (6, 2): (3, 2, 2),
    (8, 0): (3, 3, 3), (8, 1): (2, 2, 3), (8, 2): (3, 3, 4),
    (10, 0): (4, 4, 4), (10, 1): (3, 3, 4), (10, 2): (4, 4, 3),
    (11, 0): (3, 4, 3), (11, 2): (3, 3, 3),
}


class Command(BaseCommand):
    help = "Load demo horizon-scanning signals, the scoring panel and its scores. Idempotent."

    def handle(self, *args, **options):
        manager = User.objects.filter(email=MANAGER).first()
        if manager is None:
            raise CommandError("Demo users missing: run `manage.py demo_setup` first.")
        panel = [User.objects.filter(email=e).first() for e in PANEL]
        today = timezone.localdate()
        created = 0
        with transaction.atomic():
            signals = []
            for (title, domain, horizon, likelihood, impacts, public, months, problem_titles, sources, summary,
                 notes) in SIGNALS:
                signal = Signal.objects.filter(title=title).first()
                if signal is None:
                    workforce, pathways, costs, skills = impacts
                    signal = services.signal_create(
                        created_by=manager, title=title, summary=summary, domain=domain, horizon=horizon,
                        likelihood=likelihood, impact_workforce=workforce, impact_pathways=pathways,
                        impact_costs=costs, impact_skills=skills, impact_notes=notes, is_public=public,
                        source_links="\n".join(SOURCES[s] for s in sources), steward=manager,
                        problems=Problem.objects.filter(title__in=problem_titles),
                        reviewed_on=add_months(today, -months))
                    created += 1
                signals.append(signal)
            for user in panel:
                if user is not None and not PanelMember.objects.filter(user=user).exists():
                    services.panel_member_add(user=user, by=manager)
                    created += 1
            for (s, p), (likelihood, impact, relevance) in SCORES.items():
                scorer = panel[p]
                if scorer is None or SignalScore.objects.filter(signal=signals[s], scorer=scorer).exists():
                    continue
                services.signal_score(signal=signals[s], scorer=scorer, likelihood=likelihood, impact=impact,
                                      relevance=relevance)
                created += 1
        self.stdout.write(f"Horizon demo: {Signal.objects.count()} signals, {PanelMember.objects.count()} panel "
                          f"members, {SignalScore.objects.count()} scores ({created} objects created this run).")
