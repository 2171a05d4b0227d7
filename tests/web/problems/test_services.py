"""Problem services: reporting, status transitions, endorsements, merge, weights."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tests.web.factories import EndorsementFactory, OrganisationFactory, ProblemFactory, TerritoryFactory
from tremplin.web.accounts.services import membership_create
from tremplin.web.problems import services
from tremplin.web.problems.models import Endorsement, PriorityWeights, ProblemStatus

pytestmark = pytest.mark.django_db
S = ProblemStatus


def test_report_requires_membership_of_the_organisation(personas):
    with pytest.raises(ValidationError) as info:
        services.problem_create(user=personas.other_member, organisation=personas.reporting_org, title="T",
                                description="D", domain="other")
    assert "organisation" in info.value.message_dict
    assert personas.problem.status == S.NEW
    assert personas.problem.created_by == personas.reporter
    assert personas.problem.territories.count() == 1


def test_report_validates_fields(personas):
    with pytest.raises(ValidationError) as info:
        services.problem_create(user=personas.reporter, organisation=personas.reporting_org, title="",
                                description="D", domain="not-a-domain")
    assert {"title", "domain"} <= set(info.value.message_dict)


@pytest.mark.parametrize(("path", "allowed"), [
    ([S.QUALIFIED, S.IN_CALL, S.ADDRESSED], True),
    ([S.QUALIFIED, S.DECLINED, S.QUALIFIED], True),
    ([S.NEW, S.IN_CALL], True),  # a call may take a new problem directly
    ([S.ADDRESSED], False),
    ([S.QUALIFIED, S.ADDRESSED], False),
    ([S.MERGED], False),  # only through problem_merge
    ([S.QUALIFIED, S.QUALIFIED], False),
])
def test_status_transitions(personas, path, allowed):
    problem = personas.problem
    steps = [s for s in path if not (s == S.NEW and problem.status == S.NEW)]
    if allowed:
        for status in steps:
            services.problem_change_status(problem=problem, status=status, reason="motif")
        problem.refresh_from_db()
        assert problem.status == steps[-1]
    else:
        with pytest.raises(ValidationError):
            for status in steps:
                services.problem_change_status(problem=problem, status=status, reason="motif")


def test_declining_needs_a_reason(personas):
    with pytest.raises(ValidationError) as info:
        services.problem_change_status(problem=personas.problem, status=S.DECLINED, reason="  ")
    assert "reason" in info.value.message_dict
    services.problem_change_status(problem=personas.problem, status=S.DECLINED, reason="Hors champ")
    personas.problem.refresh_from_db()
    assert (personas.problem.status, personas.problem.status_reason) == (S.DECLINED, "Hors champ")


def test_mark_in_call_is_idempotent_and_refuses_merged(personas):
    services.problem_mark_in_call(problem=personas.problem, call="Appel 2026")
    services.problem_mark_in_call(problem=personas.problem, call="Appel 2026")
    personas.problem.refresh_from_db()
    assert personas.problem.status == S.IN_CALL
    assert "Appel 2026" in personas.problem.status_reason
    merged = ProblemFactory(status=S.MERGED)
    with pytest.raises(ValidationError):
        services.problem_mark_in_call(problem=merged, call="Appel 2026")


def test_strategic_fit_bounds(personas):
    services.problem_set_strategic_fit(problem=personas.problem, strategic_fit=4)
    with pytest.raises(ValidationError):
        services.problem_set_strategic_fit(problem=personas.problem, strategic_fit=5)
    personas.problem.refresh_from_db()
    assert personas.problem.strategic_fit == 4


def test_endorsement_once_per_organisation(personas):
    e = services.endorsement_create(problem=personas.problem, organisation=personas.other_org,
                                    user=personas.other_member, comment="Même constat chez nous.")
    assert e.comment == "Même constat chez nous."
    with pytest.raises(ValidationError) as info:
        services.endorsement_create(problem=personas.problem, organisation=personas.other_org,
                                    user=personas.other_member, comment="Encore")
    assert "organisation" in info.value.message_dict
    assert Endorsement.objects.filter(problem=personas.problem).count() == 1


def test_reporting_organisation_cannot_endorse_its_own_problem(personas):
    with pytest.raises(ValidationError) as info:
        services.endorsement_create(problem=personas.problem, organisation=personas.reporting_org,
                                    user=personas.colleague, comment="Nous aussi")
    assert "organisation" in info.value.message_dict


def test_endorsement_needs_a_comment_membership_and_an_open_problem(personas):
    with pytest.raises(ValidationError):
        services.endorsement_create(problem=personas.problem, organisation=personas.other_org,
                                    user=personas.other_member, comment=" ")
    with pytest.raises(ValidationError):  # not a member of other_org
        services.endorsement_create(problem=personas.problem, organisation=personas.other_org,
                                    user=personas.manager, comment="Oui")
    services.problem_change_status(problem=personas.problem, status=S.DECLINED, reason="Hors champ")
    with pytest.raises(ValidationError):
        services.endorsement_create(problem=personas.problem, organisation=personas.other_org,
                                    user=personas.other_member, comment="Oui")
    assert not Endorsement.objects.exists()


def test_merge_carries_endorsements_once_per_organisation_and_unites_territories(personas):
    target = personas.problem
    source = ProblemFactory(title="Réhospitalisations d'insuffisants cardiaques", organisation=OrganisationFactory())
    t1, t2 = TerritoryFactory(), TerritoryFactory()
    source.territories.add(t1, t2)
    target.territories.add(t1)
    shared, only_source, reporter_of_target = OrganisationFactory(), OrganisationFactory(), personas.reporting_org
    EndorsementFactory(problem=target, organisation=shared, comment="cible")
    EndorsementFactory(problem=source, organisation=shared, comment="doublon")
    EndorsementFactory(problem=source, organisation=only_source, comment="seulement la source")
    EndorsementFactory(problem=source, organisation=reporter_of_target, comment="l'auteur de la cible")
    earlier = ProblemFactory(status=S.MERGED, merged_into=source)

    services.problem_merge(source=source, target=target, reason="Même problème")

    source.refresh_from_db()
    earlier.refresh_from_db()
    assert (source.status, source.merged_into, source.status_reason) == (S.MERGED, target, "Même problème")
    assert earlier.merged_into == target
    endorsements = {e.organisation_id: e.comment for e in target.endorsements.all()}
    assert endorsements[shared.pk] == "cible"  # the target's own endorsement is kept
    assert endorsements[only_source.pk] == "seulement la source"
    assert source.organisation_id in endorsements  # the duplicate's reporter now endorses the target
    assert reporter_of_target.pk not in endorsements  # never an endorsement by the reporting organisation
    assert len(endorsements) == 3
    assert not source.endorsements.exists()
    assert set(target.territories.all()) >= {t1, t2}


def test_merge_refuses_itself_and_merged_targets(personas):
    with pytest.raises(ValidationError):
        services.problem_merge(source=personas.problem, target=personas.problem)
    merged = ProblemFactory(status=S.MERGED)
    with pytest.raises(ValidationError):
        services.problem_merge(source=personas.problem, target=merged)
    with pytest.raises(ValidationError):
        services.problem_merge(source=merged, target=personas.problem)


def test_endorsement_withdraw_only_by_a_member_of_the_endorsing_organisation(personas):
    from django.core.exceptions import PermissionDenied

    e = services.endorsement_create(problem=personas.problem, organisation=personas.other_org,
                                    user=personas.other_member, comment="Oui")
    with pytest.raises(PermissionDenied):
        services.endorsement_delete(endorsement=e, user=personas.reporter)
    services.endorsement_delete(endorsement=e, user=personas.other_member)
    assert not Endorsement.objects.exists()


def test_weights_update_refuses_negative_weights(personas):
    services.weights_update(user=personas.manager, burden=2, population=0.5)
    weights = PriorityWeights.load()
    assert (float(weights.burden), float(weights.population), float(weights.endorsements)) == (2.0, 0.5, 1.0)
    with pytest.raises(ValidationError):
        services.weights_update(user=personas.manager, strategic_fit=-1)
    assert PriorityWeights.objects.count() == 1


def test_changes_are_audited(personas):
    from tremplin.web.core.models import AuditLog

    membership_create(user=personas.other_member, organisation=OrganisationFactory(), role="network_member")
    services.endorsement_create(problem=personas.problem, organisation=personas.other_org,
                                user=personas.other_member, comment="Oui")
    assert AuditLog.objects.filter(model__icontains="endorsement").exists()


def test_status_reason_can_be_reworded_but_not_emptied_when_required(personas):
    services.problem_set_status_reason(problem=personas.problem, reason="Précisions")
    services.problem_change_status(problem=personas.problem, status=S.DECLINED, reason="Hors champ")
    with pytest.raises(ValidationError):
        services.problem_set_status_reason(problem=personas.problem, reason="")
    personas.problem.refresh_from_db()
    assert personas.problem.status_reason == "Hors champ"
