"""Demo problems, endorsements, a pair of duplicates and an open consultation with answers. Idempotent.

Needs the demo organisations and users (`manage.py demo_setup`) first.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from tremplin.web.accounts.models import Organisation, Territory, User
from tremplin.web.problems import services
from tremplin.web.problems.models import Consultation, ConsultationResponse, Endorsement, PriorityWeights, Problem

MEMBER_EMAIL = "member@demo.tremplin.org"
MANAGER_EMAIL = "manager@demo.tremplin.org"

# title, organisation, domain, territory codes, population, cost (€/year), burden, strategic fit, status, reason,
# description
PROBLEMS = [
    ("Réhospitalisations évitables des patients insuffisants cardiaques", "Hospices Civils de Lyon",
     "chronic_disease", ["FR-69"], 14_500, 18_500_000,
     "Un patient sur quatre est réhospitalisé dans les 30 jours ; séjours longs et coûteux.", 4, "qualified", "",
     "Après une hospitalisation pour insuffisance cardiaque, beaucoup de patients reviennent aux urgences dans le "
     "mois : prise de poids non repérée, traitement diurétique mal ajusté, rendez-vous de suivi trop tardif avec "
     "le cardiologue ou le médecin traitant."),
    ("Passages aux urgences des résidents d'EHPAD la nuit et le week-end", "EHPAD coopératif Les Tilleuls",
     "elderly_care", ["FR-74"], 6_200, 4_200_000,
     "Transferts nocturnes, désorientation, retours avec escarres.", 3, "qualified", "",
     "Faute d'infirmière de nuit et de médecin joignable, les résidents sont adressés aux urgences pour des "
     "chutes sans gravité ou des fièvres qui auraient pu être prises en charge sur place."),
    ("Examens d'imagerie redondants entre la ville et l'hôpital", "CHU Grenoble Alpes", "imaging", ["FR-38"],
     90_000, 7_800_000, "Scanners et IRM refaits faute d'accès aux images déjà réalisées en ville.", 2, "new", "",
     "Les images réalisées en cabinet de radiologie ne sont pas accessibles aux équipes hospitalières : les "
     "examens sont refaits, avec une irradiation inutile et des délais supplémentaires."),
    ("Accès à un médecin traitant en zone rurale", "CPTS Forez", "primary_care_access", ["FR-42-FOR"], 21_000, None,
     "Renoncement aux soins, recours tardif, passages aux urgences pour des motifs de médecine générale.", 3, "new",
     "", "Depuis les départs à la retraite de quatre médecins, plus de 20 000 habitants du Forez n'ont plus de "
     "médecin traitant ; les renouvellements d'ordonnance et le suivi des maladies chroniques sont interrompus."),
    ("Ruptures de suivi après une hospitalisation en psychiatrie", "Espace La Traversée", "mental_health",
     ["CA-QC-16"], 3_400, 2_900_000, "Réadmissions, crises, isolement.", 3, "new", "",
     "Après la sortie, le premier rendez-vous en santé mentale communautaire arrive trop tard ; les personnes "
     "perdent le contact avec les équipes de soins."),
    ("Iatrogénie médicamenteuse chez les personnes âgées polymédiquées",
     "Maison de santé communautaire Grenoble Nord", "medication", ["FR-38-GRN"], 9_800, 5_100_000,
     "Chutes, confusions et hospitalisations liées aux interactions médicamenteuses.", 3, "qualified", "",
     "Les personnes âgées prennent souvent plus de dix médicaments prescrits par plusieurs médecins ; personne "
     "ne revoit l'ensemble de l'ordonnance et les interactions ne sont pas repérées."),
    ("Dépistage insuffisant de la rétinopathie diabétique", "Association Diabète Auvergne", "prevention", ["FR-63"],
     38_000, 3_000_000, "Pertes de vision évitables.", 2, "new", "",
     "Moins d'une personne diabétique sur deux a un examen du fond d'œil chaque année, faute d'ophtalmologistes "
     "disponibles à proximité."),
    ("Délais d'attente en chirurgie orthopédique programmée", "Clinique de chirurgie Dix-30", "other",
     ["CA-QC-16-BRO"], 5_200, 1_400_000, "Douleur, arrêts de travail prolongés.", 1, "declined",
     "Relève de la planification des blocs opératoires, hors du champ du programme.",
     "Les patients attendent plus d'un an une prothèse de hanche ou de genou ; leur état se dégrade pendant "
     "l'attente."),
    ("Coordination ville-hôpital à la sortie des patients âgés fragiles", "CPTS de Villeurbanne",
     "care_coordination", ["FR-69-VIL"], 4_300, 2_300_000,
     "Retours à domicile sans aide ni infirmière prévenues ; réadmissions.", 4, "new", "",
     "Les professionnels de ville apprennent la sortie de leurs patients âgés après coup : pas de lettre de "
     "liaison, pas de plan de soins, pas de passage infirmier organisé."),
    ("Hospitalisations évitables d'insuffisants cardiaques faute de suivi à domicile", "Clinique du Parc (Lyon)",
     "chronic_disease", ["FR-69-L8"], 2_800, 3_100_000, "Réhospitalisations répétées.", 3, "new", "",
     "Nos patients insuffisants cardiaques sont réhospitalisés peu après leur sortie : le suivi à domicile (poids, "
     "symptômes, traitement) n'est pas organisé avec le cardiologue et le médecin traitant."),
    ("Chutes à domicile des personnes âgées vivant seules",
     "Regroupement québécois des résidences pour aînés (RQRA)", "elderly_care", ["CA-QC"], 52_000, 9_600_000,
     "Fractures, perte d'autonomie, entrées en établissement.", 2, "new", "",
     "Les personnes âgées qui vivent seules restent parfois des heures au sol après une chute ; les aménagements "
     "du logement et la détection des chutes sont rares."),
    ("Recours aux urgences pour des soins non urgents", "Coopérative de santé Robert-Cliche", "emergency_care",
     ["CA-QC-03"], 60_000, None, "Urgences saturées, longues attentes.", 1, "new", "",
     "Faute de rendez-vous rapides en première ligne, les patients se présentent aux urgences pour des motifs "
     "qui relèvent d'une consultation de médecine familiale."),
]

ENDORSEMENTS = {
    "Réhospitalisations évitables des patients insuffisants cardiaques": [
        ("CPTS de Villeurbanne", "Nous voyons ces patients revenir aux urgences chaque semaine."),
        ("Kelvin Santé (jeune pousse de télésurveillance)", "La télésurveillance du poids peut aider ; à évaluer."),
        ("Agence régionale de santé Auvergne-Rhône-Alpes", "Priorité du projet régional de santé."),
        ("Université Grenoble Alpes", "Données disponibles pour une évaluation rigoureuse."),
    ],
    "Passages aux urgences des résidents d'EHPAD la nuit et le week-end": [
        ("Hospices Civils de Lyon", "Un tiers des passages de nuit de nos aînés viennent d'EHPAD."),
        ("Le Groupe Maurice", "Même constat dans nos résidences."),
        ("Association des établissements de longue durée privés du Québec", "Problème partagé au Québec."),
    ],
    "Examens d'imagerie redondants entre la ville et l'hôpital": [
        ("Clinique du Parc (Lyon)", "Nous refaisons des examens faute d'accès aux images."),
    ],
    "Accès à un médecin traitant en zone rurale": [
        ("CPTS de Villeurbanne", "Les quartiers prioritaires connaissent la même pénurie."),
        ("Coopérative de santé Robert-Cliche", "Même difficulté en région au Québec."),
    ],
    "Iatrogénie médicamenteuse chez les personnes âgées polymédiquées": [
        ("EHPAD coopératif Les Tilleuls", "Revue d'ordonnance souhaitée pour tous nos résidents."),
        ("Médicaments novateurs Canada", "Enjeu majeur de bon usage."),
    ],
    "Coordination ville-hôpital à la sortie des patients âgés fragiles": [
        ("Hospices Civils de Lyon", "La lettre de liaison doit partir le jour de la sortie."),
    ],
    "Hospitalisations évitables d'insuffisants cardiaques faute de suivi à domicile": [
        ("CPTS de Villeurbanne", "Même problème que celui signalé par les HCL."),
    ],
}

CONSULTATION_TITLE = "Sortie d'hospitalisation des patients insuffisants cardiaques : vos priorités"
QUESTIONS = [
    {"text": "Quel est le principal obstacle au suivi après la sortie ?", "kind": "choice",
     "choices": "Rendez-vous de suivi trop tardif\nInformations de sortie incomplètes\n"
                "Surveillance à domicile absente\nAutre"},
    {"text": "Quelle priorité donner à ce problème dans le prochain appel ?", "kind": "scale"},
    {"text": "Une expérience ou une idée à partager ?", "kind": "text", "required": False},
]
ANSWERS = [
    ("member@demo.tremplin.org", "Rendez-vous de suivi trop tardif", 5, "Un infirmier de liaison a tout changé."),
    ("innovator@demo.tremplin.org", "Surveillance à domicile absente", 5, "La télésurveillance réduit les retours."),
    ("reviewer@demo.tremplin.org", "Informations de sortie incomplètes", 4, ""),
    ("decider@demo.tremplin.org", "Rendez-vous de suivi trop tardif", 3, ""),
]


class Command(BaseCommand):
    help = "Load demo problems, endorsements, a pair of duplicates and an open consultation. Idempotent."

    def handle(self, *args, **options):
        organisations = {o.name: o for o in Organisation.objects.all()}
        missing = {p[1] for p in PROBLEMS} - set(organisations)
        if missing:
            raise CommandError("Demo organisations missing (run `manage.py demo_setup` first): "
                               + ", ".join(sorted(missing)))
        territories = {t.code: t for t in Territory.objects.all()}
        users = {u.email: u for u in User.objects.filter(email__endswith="@demo.tremplin.org")}
        created = 0
        with transaction.atomic():
            PriorityWeights.load()
            problems = {}
            for (title, org, domain, codes, population, cost, burden, fit, status, reason,
                 description) in PROBLEMS:
                problem = Problem.objects.filter(title=title).first()
                if problem is None:
                    organisation = organisations[org]
                    member = users.get(MEMBER_EMAIL)
                    author = member if member and member.memberships.filter(organisation=organisation).exists() \
                        else None
                    problem = Problem(title=title, description=description, domain=domain,
                                      organisation=organisation, created_by=author, affected_population=population,
                                      burden=burden, burden_cost_eur=Decimal(cost) if cost else None,
                                      strategic_fit=fit, status=status, status_reason=reason,
                                      evidence_links="https://www.has-sante.fr/\nhttps://www.scansante.fr/")
                    problem.full_clean(exclude=["created_by"])  # reported by an organisation's contact
                    problem.save()
                    problem.territories.set([territories[c] for c in codes if c in territories])
                    created += 1
                problems[title] = problem
            for title, endorsements in ENDORSEMENTS.items():
                problem = problems[title]
                for org, comment in endorsements:
                    organisation = organisations.get(org)
                    if organisation is None or organisation.pk == problem.organisation_id:
                        continue
                    _, was_created = Endorsement.objects.get_or_create(
                        problem=problem, organisation=organisation, defaults={"comment": comment})
                    created += was_created
            created += self._consultation(problems, users)
        self.stdout.write(self.style.SUCCESS(
            f"Demo problems ready: {Problem.objects.count()} problems, {Endorsement.objects.count()} endorsements, "
            f"{Consultation.objects.count()} consultations ({created} objects created this run)."))

    @staticmethod
    def _consultation(problems, users) -> int:
        created = 0
        consultation = Consultation.objects.filter(title=CONSULTATION_TITLE).first()
        now = timezone.now()
        if consultation is None:
            consultation = services.consultation_create(
                user=users.get(MANAGER_EMAIL), title=CONSULTATION_TITLE,
                description="Aidez-nous à préparer l'appel de solutions sur le retour à domicile des patients "
                            "insuffisants cardiaques : une minute, trois questions.",
                problem=problems[PROBLEMS[0][0]], starts_at=now - timedelta(days=3),
                ends_at=now + timedelta(days=30), questions=QUESTIONS)
            created += 1
        if services.consultation_state(consultation, now) != "open":
            return created
        questions = list(consultation.questions.all())
        for email, choice, scale, text in ANSWERS:
            user = users.get(email)
            if user is None or ConsultationResponse.objects.filter(consultation=consultation,
                                                                   respondent=user).exists():
                continue
            services.consultation_respond(consultation=consultation, user=user, now=now,
                                          answers=dict(zip([q.pk for q in questions], [choice, scale, text],
                                                           strict=False)))
            created += 1
        return created
