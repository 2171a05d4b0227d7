"""Demo calls for solutions: a released call (13 proposals from every sector, reviews, decisions), a call in
review (the demo reviewer has proposals to review) and an open call (the demo innovator has a draft to finish).

Idempotent: a call that already exists (same title) is left untouched. demo_setup runs it (after demo_problems,
whose problems are looked up by title; they are created here when absent).
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from tremplin.web.accounts.models import Membership, Organisation, Territory, User
from tremplin.web.accounts.services import membership_create
from tremplin.web.calls import selectors, services
from tremplin.web.calls.models import Call, Proposal
from tremplin.web.calls.selection import KnapsackItem, knapsack

MANAGER = "manager@demo.tremplin.org"
INNOVATOR = "innovator@demo.tremplin.org"
REVIEWER = "reviewer@demo.tremplin.org"
INNOVATOR_ORG = "Kelvin Santé (jeune pousse de télésurveillance)"

# Other members of the expert panel: (email, name, organisation).
EXPERTS = [
    ("claire.moreau@demo.tremplin.org", "Claire Moreau", "Université Grenoble Alpes"),
    ("jean.tremblay@demo.tremplin.org", "Jean Tremblay", "CEPSEM"),
    ("sophie.lambert@demo.tremplin.org", "Sophie Lambert", "Medtech Canada"),
    ("karim.haddad@demo.tremplin.org", "Karim Haddad", "Agence régionale de santé Auvergne-Rhône-Alpes"),
    ("lucie.gagnon@demo.tremplin.org", "Lucie Gagnon", "Montréal International"),
]

# Problems used by the calls (title, organisation, domain, territory, description) when demo_problems is absent.
PROBLEMS = {
    "heart": ("Réhospitalisations évitables des patients insuffisants cardiaques", "Hospices Civils de Lyon",
              "chronic_disease", "FR-69", "Un patient sur quatre revient à l'hôpital dans les 30 jours."),
    "drugs": ("Iatrogénie médicamenteuse chez les personnes âgées polymédiquées",
              "Maison de santé communautaire Grenoble Nord", "medication", "FR-38-GRN",
              "Personne ne revoit l'ensemble des ordonnances ; les interactions ne sont pas repérées."),
    "nursing": ("Passages aux urgences des résidents d'EHPAD la nuit et le week-end", "EHPAD coopératif Les Tilleuls",
                "elderly_care", "FR-74", "Faute d'infirmière de nuit, les résidents partent aux urgences."),
    "psy": ("Ruptures de suivi après une hospitalisation en psychiatrie", "Espace La Traversée", "mental_health",
            "CA-QC-16", "Le premier rendez-vous après la sortie arrive trop tard."),
    "rural": ("Accès à un médecin traitant en zone rurale", "CPTS Forez", "primary_care_access", "FR-42-FOR",
              "Plus de 20 000 habitants sans médecin traitant."),
    "retina": ("Dépistage insuffisant de la rétinopathie diabétique", "Association Diabète Auvergne", "prevention",
               "FR-63", "Moins d'une personne diabétique sur deux a un fond d'œil annuel."),
}

# (organisation, title, summary, amount €, quality 0–4, partners, territories)
MAIN_PROPOSALS = [
    (INNOVATOR_ORG, "Télésurveillance de l'insuffisance cardiaque à domicile",
     "Balance et tensiomètre connectés, alertes triées par une infirmière, ajustement précoce des diurétiques.",
     180_000, 3.4, ["Hospices Civils de Lyon", "CPTS de Villeurbanne"], ["FR-69", "FR-38"]),
    ("Hospices Civils de Lyon", "Infirmière de coordination à la sortie d'hospitalisation cardiologique",
     "Un appel à J+2, une consultation à J+7, un lien direct avec le médecin traitant.",
     220_000, 3.1, ["CPTS de Villeurbanne"], ["FR-69"]),
    ("CPTS de Villeurbanne", "Parcours partagé ville-hôpital pour l'insuffisance cardiaque",
     "Protocole pluriprofessionnel, dossier partagé, consultations avancées de cardiologie en maison de santé.",
     120_000, 2.9, ["Hospices Civils de Lyon"], ["FR-69-VIL"]),
    ("Maison de santé communautaire Grenoble Nord", "Bilan partagé de médication en maison de santé",
     "Pharmacien et médecin revoient ensemble les ordonnances de plus de dix lignes, avec le patient.",
     90_000, 3.2, ["Université Grenoble Alpes"], ["FR-38-GRN"]),
    ("EHPAD coopératif Les Tilleuls", "Infirmière de nuit mutualisée entre EHPAD",
     "Une infirmière d'astreinte partagée par cinq établissements, avec télé-expertise gériatrique.",
     160_000, 3.0, [], ["FR-74"]),
    ("Hospitalis", "Téléconsultation gériatrique de nuit pour les EHPAD",
     "Un gériatre joignable la nuit en vidéo, avec un chariot de téléconsultation dans chaque EHPAD.",
     140_000, 2.4, ["EHPAD coopératif Les Tilleuls"], ["FR-74"]),
    ("CHU Grenoble Alpes", "Conciliation médicamenteuse à l'entrée et à la sortie de l'hôpital",
     "Pharmaciens cliniciens aux urgences gériatriques ; lettre de sortie transmise au pharmacien d'officine.",
     200_000, 2.8, [], ["FR-38"]),
    ("Association Diabète Auvergne", "Pairs aidants pour l'observance des traitements",
     "Des patients formés accompagnent les personnes âgées polymédiquées à domicile.",
     60_000, 2.2, [], ["FR-63"]),
    ("Coopérative de santé Robert-Cliche", "Pharmacien clinicien en soins de première ligne",
     "Un pharmacien intégré à la coopérative revoit les traitements des patients fragiles.",
     110_000, 2.6, [], ["CA-QC-03"]),
    ("Medtronic Canada", "Capteurs implantables et alertes partagées",
     "Pression artérielle pulmonaire mesurée à domicile, alertes partagées entre cardiologue et infirmière.",
     250_000, 2.5, [], ["CA-QC-06"]),
    ("Numana", "Échange sécurisé des ordonnances entre ville et hôpital",
     "Une messagerie interopérable (normes d'échange ouvertes) pour les ordonnances et comptes rendus.",
     130_000, 1.9, [], ["CA-QC-06"]),
    ("Clinique du Parc (Lyon)", "Réadaptation cardiaque ambulatoire de proximité",
     "Programme de réadaptation en 12 séances en ville, avec suivi connecté.",
     170_000, 2.7, ["CPTS de Villeurbanne"], ["FR-69-L8"]),
    ("Université Grenoble Alpes", "Détection des interactions médicamenteuses par algorithme",
     "Un outil d'aide à la décision signale les associations à risque dans les ordonnances.",
     95_000, 2.0, ["Maison de santé communautaire Grenoble Nord"], ["FR-38"]),
]

REVIEW_PROPOSALS = [
    ("Espace La Traversée", "Pair-aidance après une hospitalisation en psychiatrie",
     "Un pair aidant rencontre la personne avant la sortie et l'accompagne pendant trois mois.", 90_000, 3.2,
     [], ["CA-QC-16"]),
    ("CPTS Forez", "Rendez-vous garanti à sept jours après la sortie",
     "Créneaux réservés en centre médico-psychologique et rappel infirmier.", 70_000, 2.8, [], ["FR-42-FOR"]),
    ("Hospitalis", "Suivi par messagerie sécurisée après la sortie",
     "Questionnaires courts et alertes vers l'équipe de secteur.", 110_000, 2.3, [], ["CA-QC-06"]),
    ("Coopérative de santé Robert-Cliche", "Équipe mobile de liaison en santé mentale",
     "Une infirmière et un travailleur social se déplacent au domicile.", 150_000, 3.0, [], ["CA-QC-03"]),
    ("CHU Grenoble Alpes", "Consultation infirmière de transition",
     "Une consultation de transition entre l'unité d'hospitalisation et le suivi ambulatoire.", 120_000, 2.6,
     [], ["FR-38"]),
]

OPEN_PROPOSALS = [
    ("Numana", "Rétinographes partagés entre maisons de santé",
     "Des rétinographes non mydriatiques circulent entre maisons de santé ; lecture à distance.", 140_000,
     [], ["FR-63"]),
    ("Association Diabète Auvergne", "Campagne de dépistage par les pairs",
     "Des pairs relais invitent les personnes diabétiques à un dépistage du fond d'œil.", 50_000, [], ["FR-63"]),
]


DEMO_MIN_SCORE = 2.5


def _days(n: int):
    return timezone.now() + timedelta(days=n)


def _move(call: Call, opens: int, review: int, deliberation: int, results: int) -> None:
    """Demo only: move a call's phase dates (days relative to now) to walk it through its phases."""
    Call.objects.filter(pk=call.pk).update(opens_at=_days(opens), review_starts_at=_days(review),
                                           deliberation_starts_at=_days(deliberation), results_at=_days(results))
    call.refresh_from_db()


class Command(BaseCommand):
    help = "Load demo calls for solutions (proposals, reviews, decisions). Idempotent."

    def handle(self, *args, **options):
        # No DEBUG guard of its own: the demo accounts come from demo_setup (which has one); the panel experts
        # and applicants created here have no usable password.
        if not User.objects.filter(email=MANAGER).exists():
            raise CommandError("Run `manage.py demo_setup` first (demo users and organisations are missing).")
        self.rng = random.Random(2026)
        # Nobody to notify in a demo: the e-mails of assignments and decisions are discarded.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"), transaction.atomic():
            created = self._load()
        self.stdout.write(self.style.SUCCESS(
            f"Demo calls ready: {Call.objects.count()} calls, {Proposal.objects.count()} proposals "
            f"({created} calls created this run)."))

    # --- people and problems -----------------------------------------------------------------------------------

    def _user(self, email: str, name: str, organisation: str, role: str) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(username=email.split("@")[0], email=email, password=None,
                                            display_name=name)
        org = Organisation.objects.get(name=organisation)
        if not Membership.objects.filter(user=user, organisation=org, role=role).exists():
            membership_create(user=user, organisation=org, role=role)
        return user

    def _applicant(self, organisation: str) -> User:
        if organisation == INNOVATOR_ORG:
            return User.objects.get(email=INNOVATOR)
        slug = "".join(c for c in organisation.lower() if c.isalnum())[:24]
        return self._user(f"porteur.{slug}@demo.tremplin.org", f"Porteur — {organisation}", organisation,
                          "innovator")

    def _problem(self, key: str):
        from tremplin.web.problems.models import Problem

        title, organisation, domain, territory, description = PROBLEMS[key]
        problem = Problem.objects.filter(title=title).first()
        if problem is None:
            problem = Problem.objects.create(title=title, description=description, domain=domain,
                                             organisation=Organisation.objects.get(name=organisation),
                                             status="qualified")
            problem.territories.set(Territory.objects.filter(code=territory))
        return problem

    # --- calls -------------------------------------------------------------------------------------------------

    def _load(self) -> int:
        manager = User.objects.get(email=MANAGER)
        for email, name, organisation in EXPERTS:
            self._user(email, name, organisation, "reviewer")
        created = 0
        created += self._released_call(manager)
        created += self._review_call(manager)
        created += self._open_call(manager)
        return created

    def _new_call(self, manager, title, text, problems, envelope, maximum, k, territories=()) -> Call:
        return services.call_create(
            title=title, text=text, budget_envelope=envelope, max_amount_per_proposal=maximum, opens_at=_days(-1),
            review_starts_at=_days(30), deliberation_starts_at=_days(60), results_at=_days(90), created_by=manager,
            problems=problems, reviewers_per_proposal=k, eligible_territories=Territory.objects.filter(
                code__in=territories))

    def _propose(self, call, organisation, title, summary, amount, partners, territories, submit=True) -> Proposal:
        user = self._applicant(organisation)
        proposal = services.proposal_create(
            call=call, user=user, organisation=Organisation.objects.get(name=organisation), title=title,
            summary=summary, evidence_level=self.rng.choice(["prototype", "pilot", "pilot", "evaluated"]),
            description=summary + "\n\nL'équipe décrit ici le déroulement, les indicateurs suivis et le calendrier.",
            partners=Organisation.objects.filter(name__in=partners), territories=Territory.objects.filter(
                code__in=territories),
            budget_lines=[{"label": "Personnel", "amount": round(amount * 0.6)},
                          {"label": "Équipements et logiciels", "amount": round(amount * 0.3)},
                          {"label": "Évaluation", "amount": amount - round(amount * 0.6) - round(amount * 0.3)}])
        if submit:
            services.proposal_submit(proposal=proposal, user=user)
        return proposal

    def _review_all(self, call, quality: dict[int, float], skip_reviewer: User | None = None,
                    split: int | None = None) -> None:
        """Scores = quality + reviewer bias + noise; on the `split` proposal the first reviewer loves it and the
        others do not (a strong disagreement to discuss)."""
        criteria = list(call.criteria.all())
        bias = {}
        for proposal in call.proposals.filter(status="submitted").prefetch_related("assignments__reviewer"):
            for i, assignment in enumerate(proposal.assignments.order_by("pk")):
                reviewer = assignment.reviewer
                if skip_reviewer is not None and reviewer.pk == skip_reviewer.pk:
                    continue
                b = bias.setdefault(reviewer.pk, self.rng.uniform(-0.6, 0.6))
                target = quality[proposal.pk] if proposal.pk != split else (4.5 if i == 0 else 0.8)
                scores = {}
                for c in criteria:
                    value = target + b + self.rng.gauss(0, 0.6)
                    scores[c.pk] = (max(0, min(4, round(value))), "")
                services.review_save(proposal=proposal, reviewer=reviewer, scores=scores, submit=True,
                                     comment=self.rng.choice([
                                         "Projet solide, évaluation d'impact bien pensée.",
                                         "Intéressant mais le budget de personnel paraît élevé.",
                                         "La co-conception avec les patients reste à préciser.",
                                         "Très pertinent pour le territoire ; passage à l'échelle crédible."]))

    def _released_call(self, manager) -> int:
        title = "Insuffisance cardiaque et polymédication : mieux suivre les patients à domicile"
        if Call.objects.filter(title=title).exists():
            return 0
        call = self._new_call(
            manager, title,
            "Le réseau a signalé des réhospitalisations évitables, des passages aux urgences la nuit depuis les "
            "EHPAD et des accidents médicamenteux chez les personnes âgées. Cet appel, ouvert à tous les secteurs, "
            "finance des solutions expérimentées sur 18 mois et évaluées sur les données de soins.",
            [self._problem("heart"), self._problem("drugs"), self._problem("nursing")], 1_200_000, 250_000, 3)
        quality = {}
        for organisation, ptitle, summary, amount, q, partners, territories in MAIN_PROPOSALS:
            quality[self._propose(call, organisation, ptitle, summary, amount, partners, territories).pk] = q
        services.assignments_auto(call=call, by=manager)
        _move(call, -60, -1, 30, 60)
        split = Proposal.objects.get(call=call, title=MAIN_PROPOSALS[5][1]).pk
        self._review_all(call, quality, split=split)
        _move(call, -90, -30, -1, 30)
        rows = selectors.call_ranking(call=call)
        # The manager's rule: only proposals with a mean score of at least 2.5 can be funded.
        suggestion = knapsack([KnapsackItem(r.proposal_id, r.requested_amount, r.aggregate.mean or 0)
                               for r in rows if (r.aggregate.mean or 0) >= DEMO_MIN_SCORE], call.budget_envelope)
        reserve = [r for r in rows if r.proposal.pk not in suggestion.chosen][:2]
        for r in rows:
            if r.proposal.pk in suggestion.chosen:
                outcome, reason = "selected", "Retenue : note élevée et budget compatible avec l'enveloppe."
            elif r in reserve:
                outcome, reason = "reserve", "Liste complémentaire : financée si une proposition retenue se désiste."
            else:
                outcome, reason = "rejected", "Non retenue : d'autres propositions répondent mieux aux critères."
            services.decision_record(proposal=r.proposal, outcome=outcome, reason=reason, by=manager)
        _move(call, -120, -60, -30, -1)
        services.decisions_release(call=call, by=manager)
        return 1

    def _review_call(self, manager) -> int:
        title = "Santé mentale : ne plus perdre le contact après une hospitalisation"
        if Call.objects.filter(title=title).exists():
            return 0
        call = self._new_call(
            manager, title,
            "Après une hospitalisation en psychiatrie, le premier rendez-vous arrive trop tard. Nous cherchons des "
            "solutions de transition entre l'hôpital, la ville et le secteur communautaire.",
            [self._problem("psy")], 400_000, 150_000, 2)
        quality = {}
        for organisation, ptitle, summary, amount, q, partners, territories in REVIEW_PROPOSALS:
            quality[self._propose(call, organisation, ptitle, summary, amount, partners, territories).pk] = q
        reviewer = User.objects.get(email=REVIEWER)
        # The demo reviewer gets three proposals (never one of his organisation's), the others are auto-assigned.
        for proposal in call.proposals.order_by("pk")[:3]:
            if (proposal.pk, reviewer.pk) not in selectors.forbidden_pairs(call=call):
                services.assignment_add(proposal=proposal, reviewer=reviewer, by=manager)
        services.assignments_auto(call=call, by=manager)
        _move(call, -40, -3, 20, 40)
        self._review_all(call, quality, skip_reviewer=reviewer)  # the demo reviewer's queue stays to do
        return 1

    def _open_call(self, manager) -> int:
        title = "Premier recours et prévention dans les territoires ruraux"
        if Call.objects.filter(title=title).exists():
            return 0
        call = self._new_call(
            manager, title,
            "Accès à un médecin traitant, dépistage de la rétinopathie diabétique : des solutions pour les "
            "territoires où les professionnels manquent. Toutes les organisations de la région sont éligibles.",
            [self._problem("rural"), self._problem("retina")], 600_000, 150_000, 3, territories=["FR-ARA"])
        _move(call, -10, 30, 60, 80)
        for organisation, ptitle, summary, amount, partners, territories in OPEN_PROPOSALS:
            self._propose(call, organisation, ptitle, summary, amount, partners, territories)
        # The demo innovator's draft: to complete (attachment) and submit before the deadline.
        self._propose(call, INNOVATOR_ORG, "Rétinographe connecté en officine",
                      "Un rétinographe en pharmacie, lecture par un ophtalmologiste à distance sous 48 h.",
                      120_000, ["CPTS Forez"], ["FR-42-FOR", "FR-63"], submit=False)
        return 1
