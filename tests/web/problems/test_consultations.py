"""Consultations: dates enforced on the server (time-zone aware), one response per person, tallies, exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.web.factories import ConsultationFactory, QuestionFactory
from tremplin.web.problems import exports, selectors, services
from tremplin.web.problems.models import ConsultationResponse

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def consultation(make_user):
    manager = make_user("programme_manager")
    return services.consultation_create(
        user=manager, title="Retour à domicile après hospitalisation",
        starts_at=datetime(2026, 3, 1, 9, 0, tzinfo=PARIS), ends_at=datetime(2026, 3, 31, 18, 0, tzinfo=PARIS),
        questions=[
            {"text": "Le problème vous concerne-t-il ?", "kind": "choice", "choices": "Oui\nNon\nNe sait pas"},
            {"text": "Quelle priorité ?", "kind": "scale"},
            {"text": "Commentaire", "kind": "text", "required": False},
        ])


def _ids(consultation):
    return [q.pk for q in consultation.questions.all()]


def test_dates_are_enforced_with_time_zones(consultation, make_user):
    user = make_user("network_member")
    q1, q2, _q3 = _ids(consultation)
    answers = {q1: "Oui", q2: "4"}
    # 08:59 in Paris is 07:59 UTC: not open yet; 09:00 Paris (08:00 UTC) is open.
    with pytest.raises(ValidationError, match="pas encore ouverte"):
        services.consultation_respond(consultation=consultation, user=user, answers=answers,
                                      now=datetime(2026, 3, 1, 7, 59, tzinfo=UTC))
    assert services.consultation_state(consultation, datetime(2026, 3, 1, 8, 0, tzinfo=UTC)) == "open"
    # Closing: 18:00 in Paris on 31 March is 16:00 UTC (summer time since 29 March).
    assert services.consultation_state(consultation, datetime(2026, 3, 31, 15, 59, tzinfo=UTC)) == "open"
    with pytest.raises(ValidationError, match="close"):
        services.consultation_respond(consultation=consultation, user=user, answers=answers,
                                      now=datetime(2026, 3, 31, 16, 0, tzinfo=UTC))
    assert not ConsultationResponse.objects.exists()


def test_naive_or_inverted_dates_are_refused(make_user):
    manager = make_user("programme_manager")
    with pytest.raises(ValidationError):
        services.consultation_create(user=manager, title="T", starts_at=datetime(2026, 3, 1, 9, 0),
                                     ends_at=datetime(2026, 3, 2, 9, 0))
    start = timezone.now()
    with pytest.raises(ValidationError):
        services.consultation_create(user=manager, title="T", starts_at=start, ends_at=start - timedelta(hours=1))


def test_answer_once_and_validation(consultation, make_user):
    user = make_user("innovator")
    q1, q2, q3 = _ids(consultation)
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    with pytest.raises(ValidationError) as info:
        services.consultation_respond(consultation=consultation, user=user, answers={q1: "Peut-être", q2: "9"},
                                      now=now)
    assert set(info.value.message_dict) == {f"q{q1}", f"q{q2}"}
    services.consultation_respond(consultation=consultation, user=user, answers={q1: "Oui", q2: 5, q3: ""}, now=now)
    with pytest.raises(ValidationError, match="déjà répondu"):
        services.consultation_respond(consultation=consultation, user=user, answers={q1: "Non", q2: 1}, now=now)
    response = ConsultationResponse.objects.get()
    assert sorted(a.value for a in response.answers.all()) == ["5", "Oui"]


def test_questions_locked_after_first_answer(consultation, make_user):
    q1, q2, _q3 = _ids(consultation)
    services.consultation_respond(consultation=consultation, user=make_user("innovator"),
                                  answers={q1: "Oui", q2: 3}, now=datetime(2026, 3, 10, tzinfo=UTC))
    with pytest.raises(ValidationError):
        services.question_add(consultation=consultation, text="Nouvelle ?", kind="text")


def test_choice_question_needs_two_choices(consultation):
    with pytest.raises(ValidationError):
        services.question_add(consultation=ConsultationFactory(), text="?", kind="choice", choices="Oui")


def _fill(consultation, make_user):
    q1, q2, q3 = _ids(consultation)
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    for choice, scale, text in [("Oui", 5, "Très utile"), ("Oui", 3, ""), ("Non", 4, "=HYPERLINK(\"x\")")]:
        services.consultation_respond(consultation=consultation, user=make_user("network_member"),
                                      answers={q1: choice, q2: scale, q3: text}, now=now)


def test_tallies(consultation, make_user):
    _fill(consultation, make_user)
    total, tallies = selectors.consultation_tallies(consultation=consultation, with_texts=True)
    assert total == 3
    choice, scale, text = tallies
    assert choice.counts == [("Oui", 2, 67), ("Non", 1, 33), ("Ne sait pas", 0, 0)]
    assert [c[1] for c in scale.counts] == [0, 0, 1, 1, 1]
    assert scale.mean == pytest.approx(4.0)
    assert text.answered == 2 and text.texts == ["Très utile", "=HYPERLINK(\"x\")"]
    assert selectors.consultation_tallies(consultation=consultation)[1][2].texts == []


def test_csv_export_parses_back(consultation, make_user):
    _fill(consultation, make_user)
    content = exports.consultation_csv(consultation=consultation)
    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["response", "submitted_at"] and rows[0][2].startswith("Q1. Le problème")
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert [r[2:] for r in rows[1:]] == [["Oui", "5", "Très utile"], ["Oui", "3", ""],
                                        ["Non", "4", "'=HYPERLINK(\"x\")"]]  # formula neutralised
    assert "@" not in content.decode("utf-8-sig")  # no respondent e-mail in the export


def test_xlsx_export_parses_back(consultation, make_user):
    from openpyxl import load_workbook

    _fill(consultation, make_user)
    workbook = load_workbook(io.BytesIO(exports.consultation_xlsx(consultation=consultation)))
    rows = [list(r) for r in workbook.active.iter_rows(values_only=True)]
    assert rows[0][2].startswith("Q1. ")
    assert [r[2:] for r in rows[1:]] == [["Oui", 5, "Très utile"], ["Oui", 3, None], ["Non", 4, "=HYPERLINK(\"x\")"]]
    cell = workbook.active.cell(row=4, column=5)
    assert cell.data_type == "s"  # stored as text, never as a formula


def test_factory_question_default(make_user):
    question = QuestionFactory()
    assert question.choice_list == ["Oui", "Non", "Ne sait pas"]
