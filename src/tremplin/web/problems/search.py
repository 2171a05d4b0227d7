"""Duplicate detection: full-text candidates from the database, then a transparent similarity score.

1. Candidates: the problems sharing at least one significant word with the text, ranked by the
   database's full-text engine: SQLite FTS5 (`problems_problem_fts`, BM25, title weighted twice) or
   PostgreSQL full text (French configuration, title weight A, description weight B). Other
   databases fall back to the most recent problems.
2. Similarity (0–1), the same on every database: cosine similarity between the sets of word stems
   (lower case, accents removed, French stop words dropped, words cut to their first 6 letters) of the
   two texts, title words counted twice. It is shown next to each suggestion; a problem is "similar"
   from `SIMILARITY_THRESHOLD` upwards.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from django.db import connection

SIMILARITY_THRESHOLD = 0.3
STEM_LENGTH = 6
MAX_CANDIDATES = 50
MAX_QUERY_TERMS = 40

SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS problems_problem_fts USING fts5("
    "title, description, content='problems_problem', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS problems_problem_fts_ai AFTER INSERT ON problems_problem BEGIN "
    "INSERT INTO problems_problem_fts(rowid, title, description) VALUES (new.id, new.title, new.description); END",
    "CREATE TRIGGER IF NOT EXISTS problems_problem_fts_ad AFTER DELETE ON problems_problem BEGIN "
    "INSERT INTO problems_problem_fts(problems_problem_fts, rowid, title, description) "
    "VALUES ('delete', old.id, old.title, old.description); END",
    "CREATE TRIGGER IF NOT EXISTS problems_problem_fts_au AFTER UPDATE OF title, description ON problems_problem "
    "BEGIN INSERT INTO problems_problem_fts(problems_problem_fts, rowid, title, description) "
    "VALUES ('delete', old.id, old.title, old.description); "
    "INSERT INTO problems_problem_fts(rowid, title, description) VALUES (new.id, new.title, new.description); END",
    "INSERT INTO problems_problem_fts(problems_problem_fts) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS problems_problem_fts_au",
    "DROP TRIGGER IF EXISTS problems_problem_fts_ad",
    "DROP TRIGGER IF EXISTS problems_problem_fts_ai",
    "DROP TABLE IF EXISTS problems_problem_fts",
]
POSTGRES_CREATE = [
    "CREATE INDEX IF NOT EXISTS problems_problem_fts_gin ON problems_problem USING GIN ("
    "(setweight(to_tsvector('french'::regconfig, COALESCE(title, '')), 'A') || "
    "setweight(to_tsvector('french'::regconfig, COALESCE(description, '')), 'B')))",
]
POSTGRES_DROP = ["DROP INDEX IF EXISTS problems_problem_fts_gin"]

STOP_WORDS = frozenset({  # words of one or two letters are dropped anyway
    "ainsi", "alors", "aussi", "aux", "avec", "avoir", "bien", "car", "ces", "cet", "cette", "chez", "comme",
    "dans", "deja", "des", "donc", "dont", "elle", "encore", "entre", "est", "ete", "etre", "eux", "fait",
    "ici", "ils", "les", "leur", "leurs", "lors", "lui", "mais", "meme", "mes", "moi", "mon", "nos", "notre",
    "nous", "ont", "par", "pas", "peu", "plus", "pour", "que", "qui", "sans", "ses", "son", "sont", "sous",
    "sur", "tes", "toi", "ton", "tous", "tout", "toute", "toutes", "tres", "trop", "une", "vos", "votre",
    "vous",
})
WORD = re.compile(r"[a-z0-9]+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Significant words: folded (lower case, no accents), without stop words or one-letter words."""
    return [w for w in WORD.findall(_fold(text or "")) if len(w) > 2 and w not in STOP_WORDS]


def stems(title: str, description: str) -> Counter:
    """Word stems (first STEM_LENGTH letters) with title words counted twice."""
    bag: Counter = Counter()
    for w in words(title):
        bag[w[:STEM_LENGTH]] += 2
    for w in words(description):
        bag[w[:STEM_LENGTH]] += 1
    return bag


def cosine(a: Counter, b: Counter) -> float:
    """Cosine similarity of two bags of stems (0 when either is empty)."""
    if not a or not b:
        return 0.0
    dot = sum(count * b[stem] for stem, count in a.items() if stem in b)
    norm = math.sqrt(sum(c * c for c in a.values())) * math.sqrt(sum(c * c for c in b.values()))
    return dot / norm


@dataclass(frozen=True)
class SimilarProblem:
    problem: object
    similarity: float

    @property
    def percent(self) -> int:
        return round(self.similarity * 100)


def _sqlite_candidates(terms: list[str]) -> list[int]:
    query = " OR ".join(f'"{t[:STEM_LENGTH]}"*' for t in terms)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rowid FROM problems_problem_fts WHERE problems_problem_fts MATCH %s "
            "ORDER BY bm25(problems_problem_fts, 2.0, 1.0) LIMIT %s", [query, MAX_CANDIDATES])
        return [row[0] for row in cursor.fetchall()]


def _postgres_candidates(queryset, terms: list[str]):
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

    vector = SearchVector("title", weight="A", config="french") + SearchVector("description", weight="B",
                                                                               config="french")
    query = None
    for term in terms:
        part = SearchQuery(term, config="french", search_type="plain")
        query = part if query is None else query | part
    return list(queryset.annotate(rank=SearchRank(vector, query)).filter(rank__gt=0)
                .order_by("-rank").values_list("pk", flat=True)[:MAX_CANDIDATES])


def candidate_ids(queryset, title: str, description: str) -> list[int]:
    """Ids of problems sharing words with the text, best first, from the database's full-text engine."""
    terms = list(dict.fromkeys(words(title) + words(description)))[:MAX_QUERY_TERMS]
    if not terms:
        return []
    if connection.vendor == "sqlite":
        return _sqlite_candidates(terms)
    if connection.vendor == "postgresql":
        return _postgres_candidates(queryset, terms)
    return list(queryset.order_by("-created_at").values_list("pk", flat=True)[:MAX_CANDIDATES])


def ensure_sqlite_index(using: str = "default", **kwargs) -> None:
    """Re-create the FTS5 table and triggers if missing (post_migrate; a table rebuild drops triggers)."""
    from django.db import connections

    conn = connections[using]
    if conn.vendor != "sqlite":
        return
    with conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name IN ('problems_problem', "
                       "'problems_problem_fts', 'problems_problem_fts_ai', 'problems_problem_fts_ad', "
                       "'problems_problem_fts_au')")
        if cursor.fetchone()[0] in (0, 5):  # no problems table yet, or everything in place
            return
        for statement in SQLITE_CREATE:
            cursor.execute(statement)
