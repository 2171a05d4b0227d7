"""Seed a large data set for the load test (benchmarks/bench_load.py), fast: bulk inserts, no per-row signals.

Defaults (issue 20): 10,000 proposals with 50,000 reviews (and their assignments), 500 experiments, 50,000
problems, on 200 organisations and 100 territories; users of the roles that browse without a second factor
(innovators, network members, programme managers, reviewers), each given a signed-in session whose key is
written to `--sessions FILE` (JSON) with the ids the load test visits. Audit entries are not written for these
rows (bulk inserts send no signals): this is a benchmark fixture, never for a real installation — it refuses
to run on a database that already holds problems, proposals or experiments.
"""

from __future__ import annotations

import json
import random
import time
from datetime import timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

BATCH = 5000
ROLES = {"innovator": 25, "network_member": 15, "programme_manager": 5, "reviewer": 10}


def _call_dates(phase_offset: int) -> dict:
    """Dates placing a call in a phase now: 0 open, -1 review (10-day phases)."""
    start = timezone.now() + timedelta(days=10 * phase_offset) - timedelta(days=5)
    return {"opens_at": start, "review_starts_at": start + timedelta(days=10),
            "deliberation_starts_at": start + timedelta(days=20), "results_at": start + timedelta(days=30)}


WORDS = ["accès", "soins", "délais", "attente", "urgences", "domicile", "ville", "hôpital", "sortie", "coordination", "suivi", "parcours", "patients", "aidants", "personnes", "âgées", "chroniques", "diabète", "insuffisance", "cardiaque", "santé", "mentale", "jeunes", "médecins", "infirmiers", "pharmaciens", "télésurveillance", "prévention", "dépistage", "vaccination", "rupture", "information", "dossier", "partage", "rural", "isolement", "transport", "nuit", "week-end", "rendez-vous", "consultation", "spécialiste", "kinésithérapie", "rééducation", "nutrition", "obésité", "addictions", "précarité", "langue", "interprète", "handicap", "enfants", "maternité", "périnatalité", "douleur", "palliatifs", "chutes", "médicaments", "ordonnances", "iatrogénie", "coûts", "hospitalisations", "évitables", "réadmissions", "numérique", "formation", "pénurie", "recrutement"]


def _vocabulary(rng) -> list[str]:
    """French health-care words and rarer variants of them: texts share some words, not all (as real reports)."""
    return list(WORDS) + [f"{w}{suffix}" for w in WORDS for suffix in ("s", "x", "al", "ique") if rng.random() < 0.7]


class Command(BaseCommand):
    help = "Seed a large data set for the load test (bulk inserts; refuses a database that holds data)."

    def add_arguments(self, parser):
        parser.add_argument("--problems", type=int, default=50_000)
        parser.add_argument("--proposals", type=int, default=10_000)
        parser.add_argument("--reviews-per-proposal", type=int, default=5)
        parser.add_argument("--experiments", type=int, default=500)
        parser.add_argument("--reviewers", type=int, default=500)
        parser.add_argument("--sessions", type=Path, required=True, help="JSON file for the sessions and ids.")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, problems, proposals, reviews_per_proposal, experiments, reviewers, sessions, seed,
               **options):
        from tremplin.web.calls.models import Proposal
        from tremplin.web.portfolio.models import Experiment
        from tremplin.web.problems.models import Problem

        if Problem.objects.exists() or Proposal.objects.exists() or Experiment.objects.exists():
            raise CommandError("seed_load fills an empty database only (this one holds problems, proposals or "
                               "experiments).")
        rng = random.Random(seed)
        started = time.perf_counter()
        with transaction.atomic():
            ids = self._seed(rng, problems=problems, proposals=proposals, per_proposal=reviews_per_proposal,
                             experiments=experiments, reviewers=reviewers)
        ids["sessions"] = self._sessions(ids.pop("load_users"))
        sessions.write_text(json.dumps(ids, indent=1))
        self.stdout.write(f"seeded {problems} problems, {proposals} proposals, {proposals * reviews_per_proposal} "
                          f"reviews, {experiments} experiments in {time.perf_counter() - started:.1f} s")

    def _seed(self, rng, *, problems, proposals, per_proposal, experiments, reviewers) -> dict:
        from tremplin.web.accounts.models import Membership, Organisation, Sector, Territory, User
        from tremplin.web.calls.models import Assignment, Proposal, Review
        from tremplin.web.calls.services import call_create
        from tremplin.web.portfolio.models import Experiment
        from tremplin.web.problems.models import CareDomain, Problem

        territories = Territory.objects.bulk_create(
            [Territory(code=f"LOAD-{i:03d}", name=f"Territoire {i}", level="department") for i in range(100)])
        sectors = list(Sector.values)
        orgs = Organisation.objects.bulk_create(
            [Organisation(name=f"Organisation {i}", sector=sectors[i % len(sectors)], kind="association")
             for i in range(200)])
        load_users: dict[str, list] = {}
        users = []
        for role, count in ROLES.items():
            users += [User(username=f"load-{role}-{i}", email=f"load-{role}-{i}@bench.tremplin.org")
                      for i in range(count)]
        users += [User(username=f"reviewer-{i}", email=f"reviewer-{i}@bench.tremplin.org")
                  for i in range(reviewers - ROLES["reviewer"])]
        users = User.objects.bulk_create(users, batch_size=BATCH)
        memberships, position = [], 0
        for role, count in ROLES.items():
            load_users[role] = users[position:position + count]
            for i, user in enumerate(load_users[role]):
                memberships.append(Membership(user=user, organisation=orgs[i % len(orgs)], role=role))
            position += count
        reviewer_pool = load_users["reviewer"] + users[position:]
        memberships += [Membership(user=u, organisation=orgs[-1], role="reviewer") for u in users[position:]]
        Membership.objects.bulk_create(memberships, batch_size=BATCH)

        domains = list(CareDomain.values)
        members = load_users["network_member"]
        vocabulary = _vocabulary(rng)
        problem_rows = Problem.objects.bulk_create([
            Problem(title=" ".join(rng.sample(vocabulary, rng.randint(4, 7))).capitalize()[:200],
                    description=" ".join(rng.choices(vocabulary, k=rng.randint(20, 60))).capitalize() + ".",
                    domain=domains[i % len(domains)], organisation=orgs[i % len(orgs)],
                    created_by=members[i % len(members)], status=rng.choice(["new", "new", "qualified"]),
                    strategic_fit=rng.randint(0, 4), affected_population=rng.randint(100, 100_000))
            for i in range(problems)], batch_size=BATCH)
        through = Problem.territories.through
        through.objects.bulk_create([through(problem_id=p.pk, territory_id=territories[i % 100].pk)
                                     for i, p in enumerate(problem_rows)], batch_size=BATCH)

        open_call = call_create(title="Appel ouvert (charge)", text="Appel ouvert pendant le test de charge.",
                                budget_envelope=5_000_000, max_amount_per_proposal=250_000, **_call_dates(0))
        review_call = call_create(title="Appel en évaluation (charge)", text="10 000 propositions.",
                                  budget_envelope=50_000_000, max_amount_per_proposal=250_000, **_call_dates(-1))
        innovators = load_users["innovator"]
        proposal_rows = Proposal.objects.bulk_create([
            Proposal(call=review_call, title=f"Proposition {i}", summary="Résumé.", description="Description.",
                     organisation=orgs[i % len(orgs)], created_by=innovators[i % len(innovators)],
                     requested_amount=rng.randint(10, 250) * 1000, status="submitted", submitted_at=timezone.now())
            for i in range(proposals)], batch_size=BATCH)
        assignments, reviews = [], []
        for p in proposal_rows:
            for u in rng.sample(reviewer_pool, per_proposal):
                assignments.append(Assignment(proposal=p, reviewer=u))
                reviews.append(Review(proposal=p, reviewer=u, status="submitted", weighted_score=rng.uniform(0, 4),
                                      submitted_at=timezone.now()))
        Assignment.objects.bulk_create(assignments, batch_size=BATCH)
        Review.objects.bulk_create(reviews, batch_size=BATCH)

        experiment_rows = Experiment.objects.bulk_create([
            Experiment(title=f"Expérimentation {i}", summary="Résumé.", lead_organisation=orgs[i % len(orgs)],
                       care_domain=domains[i % len(domains)], stage=1 + i % 5)
            for i in range(experiments)], batch_size=BATCH)
        through = Experiment.territories.through
        through.objects.bulk_create([through(experiment_id=e.pk, territory_id=territories[i % 100].pk)
                                     for i, e in enumerate(experiment_rows)], batch_size=BATCH)
        assigned = {}
        for a in assignments:
            if a.reviewer_id in {u.pk for u in load_users["reviewer"]}:
                assigned.setdefault(str(a.reviewer_id), []).append(a.proposal_id)
        return {
            "load_users": load_users,
            "open_call": open_call.pk, "review_call": review_call.pk,
            "problems": [p.pk for p in rng.sample(problem_rows, min(200, len(problem_rows)))],
            "experiments": [e.pk for e in rng.sample(experiment_rows, min(100, len(experiment_rows)))],
            "territories": [t.pk for t in territories[:5]],
            "organisations": {str(u.pk): orgs[i % len(orgs)].pk for i, u in enumerate(innovators)}
            | {str(u.pk): orgs[i % len(orgs)].pk for i, u in enumerate(members)},
            "assigned": {k: v[:20] for k, v in assigned.items()},
        }

    @staticmethod
    def _sessions(load_users: dict[str, list]) -> dict[str, list[dict]]:
        """A signed-in session for every load user (as after a login: no password hashing during the test)."""
        from django.conf import settings
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
        from django.contrib.sessions.backends.db import SessionStore

        sessions = {}
        for role, users in load_users.items():
            sessions[role] = []
            for user in users:
                store = SessionStore()
                store[SESSION_KEY] = str(user.pk)
                store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
                store[HASH_SESSION_KEY] = user.get_session_auth_hash()
                store["tremplin_login_at"] = time.time()
                store.set_expiry(24 * 3600)
                store.create()
                sessions[role].append({"user": user.pk, "session": store.session_key})
        return sessions
