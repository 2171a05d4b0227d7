"""Duplicate detection: a planted near-duplicate is found (SQLite FTS5 or PostgreSQL full text)."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.web.factories import ProblemFactory
from tremplin.web.problems import search, selectors

pytestmark = pytest.mark.django_db

NOISE = [
    ("Délais d'accès à l'IRM en zone rurale", "Les patients attendent plus de deux mois pour une IRM."),
    ("Passages aux urgences des résidents d'EHPAD", "Des résidents sont adressés aux urgences la nuit faute de "
                                                    "médecin de garde joignable."),
    ("Ruptures de traitement psychiatrique", "Après une hospitalisation en psychiatrie, le suivi ambulatoire tarde."),
    ("Iatrogénie médicamenteuse chez les personnes âgées", "Polymédication et interactions non repérées."),
    ("Dépistage du cancer colorectal insuffisant", "La participation au dépistage reste faible."),
]


@pytest.fixture
def planted():
    for title, description in NOISE:
        ProblemFactory(title=title, description=description)
    return ProblemFactory(
        title="Réhospitalisations évitables des patients insuffisants cardiaques",
        description="Après une hospitalisation pour insuffisance cardiaque, les patients sont réhospitalisés "
                    "dans le mois faute de suivi coordonné entre l'hôpital et la ville.")


def test_backend_index_exists():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE name LIKE 'problems_problem_fts%%'")
            assert {r[0] for r in cursor.fetchall()} >= {"problems_problem_fts", "problems_problem_fts_ai",
                                                         "problems_problem_fts_ad", "problems_problem_fts_au"}
        elif connection.vendor == "postgresql":
            cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname = 'problems_problem_fts_gin'")
            assert cursor.fetchone() is not None


def test_planted_near_duplicate_is_found_first(planted):
    found = selectors.similar_problems(
        title="Hospitalisations évitables de l'insuffisant cardiaque",
        description="Nos patients insuffisants cardiaques reviennent à l'hôpital peu après leur sortie, "
                    "sans suivi en ville.")
    assert found, "the near-duplicate was not found"
    assert found[0].problem == planted
    assert found[0].similarity >= search.SIMILARITY_THRESHOLD
    assert all(s.problem.title != NOISE[4][0] for s in found)


def test_candidates_come_from_the_full_text_index(planted):
    ids = search.candidate_ids(type(planted).objects.all(), "cardiaque", "")
    assert ids == [planted.pk]


def test_index_follows_updates_and_deletes(planted):
    planted.title = "Sujet sans rapport"
    planted.description = "Organisation des transports sanitaires."
    planted.save()
    assert selectors.similar_problems(title="insuffisance cardiaque réhospitalisation", description="") == []
    assert [s.problem for s in selectors.similar_problems(title="transports sanitaires", description="")] == [planted]
    planted.delete()
    assert selectors.similar_problems(title="transports sanitaires", description="") == []


def test_unrelated_text_finds_nothing_and_merged_problems_are_left_out(planted):
    assert selectors.similar_problems(title="Qualité de l'air intérieur des écoles", description="") == []
    planted.status = "merged"
    planted.save()
    assert selectors.similar_problems(title=planted.title, description=planted.description) == []


def test_similarity_is_symmetric_and_bounded():
    a = search.stems("Hospitalisations évitables", "insuffisance cardiaque")
    b = search.stems("Hospitalisation évitable", "insuffisants cardiaques")
    assert search.cosine(a, b) == pytest.approx(search.cosine(b, a))
    assert search.cosine(a, a) == pytest.approx(1.0)
    assert search.cosine(a, search.stems("", "")) == 0
    assert search.words("Le patient et l'hôpital") == ["patient", "hopital"]


def test_special_characters_do_not_break_the_query(planted):
    assert selectors.similar_problems(title='"cardiaque* OR (NEAR', description="AND NOT -") is not None


def test_index_is_recreated_after_a_table_rebuild(planted):
    """SQLite drops triggers when a migration rebuilds the table: the post_migrate hook puts them back."""
    if connection.vendor != "sqlite":
        pytest.skip("FTS5 triggers exist on SQLite only")
    with connection.cursor() as cursor:
        for statement in search.SQLITE_DROP:
            cursor.execute(statement)
    search.ensure_sqlite_index(using="default")
    assert [s.problem for s in selectors.similar_problems(title=planted.title, description="")][:1] == [planted]
    ProblemFactory(title="Transports sanitaires", description="Trajets longs.")
    assert selectors.similar_problems(title="transports sanitaires", description="")
