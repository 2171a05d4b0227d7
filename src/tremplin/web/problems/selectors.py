"""Reads for problems: ranked list with explained scores, similar problems, consultation tallies."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import Coalesce

from tremplin.web.accounts.models import User
from tremplin.web.problems import scoring, search
from tremplin.web.problems.models import (
    OPEN_STATUSES,
    Answer,
    Consultation,
    ConsultationResponse,
    PriorityWeights,
    Problem,
    ProblemComment,
    ProblemStatus,
    Question,
    QuestionKind,
)


def problem_list_for_user(*, user: User) -> QuerySet[Problem]:
    """Problems a user may read: every signed-in user reads every problem."""
    return Problem.objects.select_related("organisation").annotate(
        endorsement_count=Count("endorsements", distinct=True))


def problem_filtered(*, user: User, domain: str = "", territory: int | None = None, status: str = "",
                     query: str = "") -> QuerySet[Problem]:
    """Problems filtered by domain, territory (the territory or one of its descendants up to two levels),
    status ('' = open problems, 'all' = every status) and text (title or description)."""
    qs = problem_list_for_user(user=user)
    if domain:
        qs = qs.filter(domain=domain)
    if territory:
        qs = qs.filter(Q(territories=territory) | Q(territories__parent=territory)
                       | Q(territories__parent__parent=territory)).distinct()
    if status == "all":
        pass
    elif status:
        qs = qs.filter(status=status)
    else:
        qs = qs.filter(status__in=OPEN_STATUSES)
    for word in query.split()[:10]:
        qs = qs.filter(Q(title__icontains=word) | Q(description__icontains=word))
    return qs


def score_maxima() -> scoring.Maxima:
    """Maxima used to normalise the components, over the open problems (one query)."""
    open_problems = Problem.objects.filter(status__in=OPEN_STATUSES)
    row = open_problems.aggregate(burden=Max("burden_cost_eur"), population=Max("affected_population"))
    counts = (open_problems.annotate(n=Count("endorsements")).aggregate(m=Coalesce(Max("n"), 0)))
    return scoring.Maxima(burden=float(row["burden"] or 0), population=float(row["population"] or 0),
                          endorsements=int(counts["m"] or 0))


def weights_dict(weights: PriorityWeights | None = None) -> dict[str, float]:
    weights = weights or PriorityWeights.load()
    return {name: float(getattr(weights, name)) for name in scoring.COMPONENTS}


@dataclass
class RankedProblem:
    problem: Problem
    score: scoring.Score
    rank: int = 0
    explanation: list = field(default_factory=list)


def problem_score(problem: Problem, *, maxima: scoring.Maxima | None = None,
                  weights: dict[str, float] | None = None) -> scoring.Score:
    """Score of one problem (its `endorsement_count` annotation is used when present)."""
    endorsements = getattr(problem, "endorsement_count", None)
    if endorsements is None:
        endorsements = problem.endorsements.count()
    return scoring.score(burden_cost=problem.burden_cost_eur, population=problem.affected_population,
                         endorsements=endorsements, strategic_fit=problem.strategic_fit,
                         maxima=maxima or score_maxima(), weights=weights or weights_dict())


def problem_ranked(qs: QuerySet[Problem]) -> list[RankedProblem]:
    """Problems of `qs` (annotated with endorsement_count) with their scores, best first.

    Three queries whatever the number of problems: weights, maxima, the problems.
    """
    weights = weights_dict()
    maxima = score_maxima()
    ranked = [RankedProblem(p, problem_score(p, maxima=maxima, weights=weights)) for p in qs]
    ranked.sort(key=lambda r: (-r.score.total, -r.problem.created_at.timestamp(), r.problem.pk))
    for index, item in enumerate(ranked, start=1):
        item.rank = index
    return ranked


def similar_problems(*, title: str, description: str = "", exclude_pk: int | None = None,
                     limit: int = 5, threshold: float = search.SIMILARITY_THRESHOLD) -> list[search.SimilarProblem]:
    """Problems similar to a text (duplicate detection), most similar first; merged problems left out."""
    base = Problem.objects.exclude(status=ProblemStatus.MERGED)
    if exclude_pk:
        base = base.exclude(pk=exclude_pk)
    ids = search.candidate_ids(base, title, description)
    if not ids:
        return []
    reference = search.stems(title, description)
    found = []
    for problem in base.filter(pk__in=ids).select_related("organisation"):
        similarity = search.cosine(reference, search.stems(problem.title, problem.description))
        if similarity >= threshold:
            found.append(search.SimilarProblem(problem, similarity))
    found.sort(key=lambda s: (-s.similarity, s.problem.pk))
    return found[:limit]


# --- consultations -----------------------------------------------------------------------------------------


@dataclass
class QuestionTally:
    question: Question
    answered: int
    counts: list[tuple[str, int, int]]  # (label, count, percent)
    mean: float | None = None
    texts: list[str] = field(default_factory=list)


def problem_comments(*, problem: Problem) -> list[ProblemComment]:
    """The problem's comments, oldest first, with their authors (one query)."""
    return list(problem.comments.select_related("author", "moderated_by"))


def comments_to_moderate() -> QuerySet[ProblemComment]:
    """Comments with open flags first (most flagged first), then every other comment, newest first."""
    return (ProblemComment.objects.select_related("problem", "author", "moderated_by")
            .annotate(open_flags=Count("flags", filter=Q(flags__resolved_at__isnull=True)))
            .order_by("-open_flags", "-created_at", "-pk"))


def consultation_tallies(*, consultation: Consultation, with_texts: bool = False) -> tuple[int, list[QuestionTally]]:
    """Number of responses and, per question, the counts of each choice / note (free texts if asked)."""
    questions = list(consultation.questions.all())
    total = ConsultationResponse.objects.filter(consultation=consultation).count()
    grouped: dict[int, dict[str, int]] = {}
    rows = (Answer.objects.filter(question__consultation=consultation).exclude(question__kind=QuestionKind.TEXT)
            .values("question_id", "choice", "scale").annotate(n=Count("id")))
    for row in rows:
        key = row["choice"] if row["scale"] is None else str(row["scale"])
        grouped.setdefault(row["question_id"], {})[key] = row["n"]
    text_counts = dict(Answer.objects.filter(question__consultation=consultation, question__kind=QuestionKind.TEXT)
                       .exclude(text="").values_list("question_id").annotate(n=Count("id")).values_list(
                           "question_id", "n"))
    texts: dict[int, list[str]] = {}
    if with_texts:
        for question_id, text in (Answer.objects.filter(question__consultation=consultation,
                                                        question__kind=QuestionKind.TEXT)
                                  .exclude(text="").order_by("pk").values_list("question_id", "text")):
            texts.setdefault(question_id, []).append(text)
    tallies = []
    for question in questions:
        counts = grouped.get(question.pk, {})
        if question.kind == QuestionKind.TEXT:
            tallies.append(QuestionTally(question, text_counts.get(question.pk, 0), [], None,
                                         texts.get(question.pk, [])))
            continue
        labels = question.choice_list if question.kind == QuestionKind.CHOICE else [str(i) for i in range(1, 6)]
        answered = sum(counts.get(label, 0) for label in labels)
        lines = [(label, counts.get(label, 0), round(100 * counts.get(label, 0) / answered) if answered else 0)
                 for label in labels]
        mean = None
        if question.kind == QuestionKind.SCALE and answered:
            mean = sum(int(label) * n for label, n, _p in lines) / answered
        tallies.append(QuestionTally(question, answered, lines, mean))
    return total, tallies


def consultation_export_rows(*, consultation: Consultation) -> tuple[list[str], list[list]]:
    """Header and one row per response (pseudonymous: response number, date, then one column per question)."""
    questions = list(consultation.questions.all())
    header = ["response", "submitted_at"] + [f"Q{i}. {q.text}" for i, q in enumerate(questions, start=1)]
    answers: dict[int, dict[int, Answer]] = {}
    for answer in Answer.objects.filter(response__consultation=consultation):
        answers.setdefault(answer.response_id, {})[answer.question_id] = answer
    rows = []
    for number, response in enumerate(consultation.responses.order_by("submitted_at", "pk"), start=1):
        by_question = answers.get(response.pk, {})
        row: list = [number, response.submitted_at.isoformat()]
        for q in questions:
            a = by_question.get(q.pk)
            if a is None:
                row.append("")
            elif q.kind == QuestionKind.SCALE:
                row.append(a.scale)
            else:
                row.append(a.choice if q.kind == QuestionKind.CHOICE else a.text)
        rows.append(row)
    return header, rows


def problem_dashboard_hints(*, user: User, now=None) -> dict:
    """Counts for the dashboard (three queries): problems waiting for qualification (managers), open problems
    the user's organisations could endorse, open consultations the user has not answered."""
    from django.utils import timezone

    now = now or timezone.now()
    hints = {"can_manage": user.has_perm("problems.manage_problem"),
             "can_report": user.has_perm("problems.add_problem")}
    org_ids = list(user.memberships.values_list("organisation_id", flat=True))
    hints["new_problems"] = Problem.objects.filter(status=ProblemStatus.NEW).count() if hints["can_manage"] else 0
    hints["to_endorse"] = (Problem.objects.filter(status__in=OPEN_STATUSES).exclude(organisation_id__in=org_ids)
                           .exclude(endorsements__organisation_id__in=org_ids).count() if org_ids else 0)
    hints["open_consultations"] = (Consultation.objects.filter(starts_at__lte=now, ends_at__gt=now)
                                   .exclude(responses__respondent=user).count())
    return hints
