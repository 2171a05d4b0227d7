"""A negative cost took the problems list down (issue 12, item 7), and other values the columns cannot hold.

On main, `burden_cost_eur = -5` was accepted by the form and by the API; `log_scale` then raised a math domain
error and /problematiques/ was a 500 for everyone. Now: the model's validators refuse it (form and API), the
database refuses it (check constraints), a migration repairs what was stored before, and the score is total
on whatever a row holds.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from hypothesis import given
from hypothesis import strategies as st

from tests.web.factories import ProblemFactory
from tests.web.readback import HOSTILE_DECIMALS, HOSTILE_INTEGERS, LONG_TEXT, read_back, users_by_role
from tremplin.web.problems import selectors, services
from tremplin.web.problems.models import PriorityWeights, Problem
from tremplin.web.problems.scoring import Maxima, linear_scale, log_scale, score

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_user, client):
    ProblemFactory(burden_cost_eur=1000, affected_population=500)
    users = users_by_role(make_user)

    def reads_back(*detail_urls) -> list[str]:
        return read_back(client, users, namespaces=("problems:",), detail_urls=detail_urls)

    return users, reads_back


def _form_data(member, **values):
    organisation = member.memberships.first().organisation
    return {"organisation": organisation.pk, "title": "Une problématique toute neuve", "description": "Décrite.",
            "domain": "chronic_disease", "burden": "", "evidence_links": "", **values}


@pytest.mark.parametrize(("field", "value"), [("burden_cost_eur", "-5"), *[("burden_cost_eur", v) for v in
                                                                          HOSTILE_DECIMALS],
                                              *[("affected_population", v) for v in HOSTILE_INTEGERS],
                                              ("title", LONG_TEXT)])
def test_form_and_api_refuse_values_the_columns_cannot_hold(world, client, field, value):
    users, reads_back = world
    member = users["network_member"]
    before = Problem.objects.count()
    client.force_login(member)
    response = client.post("/problematiques/signaler/", _form_data(member, **{field: value}))
    assert response.status_code == 400 and field in response.context["form"].errors
    response = client.post("/api/v1/problems/", _form_data(member, **{field: value}), content_type="application/json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert Problem.objects.count() == before
    assert reads_back() == []


def test_negative_weight_is_refused_by_the_service():
    with pytest.raises(Exception) as refused:
        services.weights_update(burden=-1, population=1, endorsements=1, strategic_fit=1)
    assert "burden" in refused.value.message_dict
    assert PriorityWeights.load().burden == 1


def test_database_refuses_rows_written_around_validation():
    problem = ProblemFactory()
    for values in ({"burden_cost_eur": -5}, {"strategic_fit": 5}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Problem.objects.filter(pk=problem.pk).update(**values)
    PriorityWeights.load()
    with pytest.raises(IntegrityError), transaction.atomic():
        PriorityWeights.objects.filter(pk=1).update(endorsements=-1)


def test_list_ranks_rows_written_directly_at_the_columns_limits(world):
    """Rows created without validation (bulk_create) at the edges of what the columns hold."""
    users, reads_back = world
    Problem.objects.bulk_create([
        Problem(title=f"Limite {i}", description=".", domain="other", organisation=users["network_member"]
                .memberships.first().organisation, burden_cost_eur=cost, affected_population=population,
                strategic_fit=fit)
        for i, (cost, population, fit) in enumerate([
            (Decimal("999999999999.99"), 2_147_483_647, 4), (Decimal("0.01"), 0, 0), (Decimal("0"), None, 0),
            (None, 1, 2)])])
    ranked = selectors.problem_ranked(selectors.problem_filtered(user=None))
    assert all(0 <= r.score.total <= 100 for r in ranked)
    assert ranked[0].problem.title == "Limite 0"
    assert reads_back() == []


finite_or_not = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                          st.integers(-10**30, 10**30), st.decimals(allow_nan=True, allow_infinity=True),
                          st.text(max_size=5))


@given(value=finite_or_not, maximum=finite_or_not)
def test_scales_never_raise_and_stay_in_0_1(value, maximum):
    for scale in (log_scale, linear_scale):
        result = scale(value, maximum)
        assert 0.0 <= result <= 1.0 and not math.isnan(result)


@given(cost=finite_or_not, population=finite_or_not, endorsements=finite_or_not, fit=finite_or_not,
       maxima=st.tuples(finite_or_not, finite_or_not, finite_or_not),
       weights=st.fixed_dictionaries(dict.fromkeys(("burden", "population", "endorsements", "strategic_fit"),
                                                   finite_or_not)))
def test_score_is_total(cost, population, endorsements, fit, maxima, weights):
    result = score(burden_cost=cost, population=population, endorsements=endorsements, strategic_fit=fit,
                   maxima=Maxima(*maxima), weights=weights)
    assert 0.0 <= result.total <= 100.0 + 1e-9
    assert sum(c.points for c in result.components) == pytest.approx(result.total)


def test_negative_cost_scores_as_a_missing_cost():
    maxima = Maxima(burden=1000, population=10, endorsements=1)
    weights = dict.fromkeys(("burden", "population", "endorsements", "strategic_fit"), 1)
    negative = score(burden_cost=-5, population=5, endorsements=0, strategic_fit=1, maxima=maxima, weights=weights)
    missing = score(burden_cost=None, population=5, endorsements=0, strategic_fit=1, maxima=maxima, weights=weights)
    assert negative.total == missing.total
    assert log_scale(999, -1000) == 0.0  # a negative maximum: no log of a negative number


@pytest.mark.django_db(transaction=True)
def test_migration_repairs_rows_stored_before_the_constraints(make_user, client):
    """Rows stored by main (a negative cost, a fit of 7, a negative weight) are repaired by the migration
    that adds the constraints; the list then ranks them."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.recorder import MigrationRecorder

    before, after = ("problems", "0003_problem_fts"), ("problems", "0004_field_constraints")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps
    organisation = old.get_model("accounts", "Organisation").objects.create(name="Ancienne", sector="public",
                                                                             kind="hospital")
    OldProblem = old.get_model("problems", "Problem")
    OldProblem.objects.create(title="Négative", description=".", domain="other", organisation=organisation,
                              burden_cost_eur=Decimal("-5"), strategic_fit=7, status="new")
    OldProblem.objects.create(title="Positive", description=".", domain="other", organisation=organisation,
                              burden_cost_eur=Decimal("100"), strategic_fit=2, status="new")
    old.get_model("problems", "PriorityWeights").objects.create(pk=1, burden=-2)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert after in MigrationRecorder(connection).applied_migrations()
    repaired = Problem.objects.get(title="Négative")
    assert (repaired.burden_cost_eur, repaired.strategic_fit) == (None, 4)
    assert PriorityWeights.load().burden == 0
    client.force_login(make_user("programme_manager"))
    assert client.get("/problematiques/").status_code == 200
