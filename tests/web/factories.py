"""factory_boy factories for the web apps."""

from __future__ import annotations

import factory

from tremplin.web.accounts.models import Membership, Organisation, Sector, Territory, User


class TerritoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Territory

    code = factory.Sequence(lambda n: f"T{n:04d}")
    name = factory.Sequence(lambda n: f"Territoire {n}")
    level = "department"
    population = 100_000


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    sector = Sector.PUBLIC
    kind = "hospital"
    territory = factory.SubFactory(TerritoryFactory)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.Sequence(lambda n: f"user{n}@example.org")
    display_name = factory.Sequence(lambda n: f"Personne {n}")
    password = factory.PostGenerationMethodCall("set_password", "Correct-Horse-42!")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = "network_member"


# --- problems ------------------------------------------------------------------------------------------------

from datetime import timedelta  # noqa: E402

from django.utils import timezone  # noqa: E402

from tremplin.web.problems.models import (  # noqa: E402
    Consultation,
    Endorsement,
    Problem,
    Question,
)


class ProblemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Problem

    title = factory.Sequence(lambda n: f"Problématique {n}")
    description = "Description de la problématique."
    domain = "chronic_disease"
    organisation = factory.SubFactory(OrganisationFactory)


class EndorsementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Endorsement

    problem = factory.SubFactory(ProblemFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    comment = "Nous vivons le même problème."


class ConsultationFactory(factory.django.DjangoModelFactory):
    """An open consultation (started a day ago, closing in a week)."""

    class Meta:
        model = Consultation

    title = factory.Sequence(lambda n: f"Consultation {n}")
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    consultation = factory.SubFactory(ConsultationFactory)
    text = factory.Sequence(lambda n: f"Question {n} ?")
    kind = "choice"
    choices = "Oui\nNon\nNe sait pas"
    position = factory.Sequence(lambda n: n)


# --- calls ---------------------------------------------------------------------------------------------------


def _call_dates(phase: str = "open") -> dict:
    """Phase dates placing a call in `phase` now (draft, open, review, deliberation, results)."""
    from datetime import timedelta as _td

    from django.utils import timezone as _tz

    now = _tz.now()
    offsets = {"draft": 1, "open": 0, "review": -1, "deliberation": -2, "results": -3}[phase]
    start = now + _td(days=10 * offsets) - _td(days=5) if offsets <= 0 else now + _td(days=5)
    return {"opens_at": start, "review_starts_at": start + _td(days=10),
            "deliberation_starts_at": start + _td(days=20), "results_at": start + _td(days=30)}


def make_call(phase: str = "open", **kwargs):
    """A call in the given phase with the default evaluation grid (through the service)."""
    from tremplin.web.calls.services import call_create

    values = {"title": "Appel de solutions", "text": "Texte de l'appel.", "budget_envelope": 1_000_000,
              "max_amount_per_proposal": 200_000, **_call_dates(phase), **kwargs}
    return call_create(**values)


class ProposalFactory(factory.django.DjangoModelFactory):
    """A submitted proposal (use services to go through the phase checks)."""

    class Meta:
        model = "calls.Proposal"

    call = factory.LazyFunction(make_call)
    title = factory.Sequence(lambda n: f"Proposition {n}")
    summary = "Résumé de la proposition."
    description = "Description de la proposition."
    organisation = factory.SubFactory(OrganisationFactory)
    requested_amount = 100_000
    status = "submitted"
    submitted_at = factory.LazyFunction(lambda: _now())


def _now():
    from django.utils import timezone as _tz

    return _tz.now()


# --- portfolio -----------------------------------------------------------------------------------------------


class ExperimentFactory(factory.django.DjangoModelFactory):
    """An active stage-1 experiment (use portfolio services for transitions)."""

    class Meta:
        model = "portfolio.Experiment"

    title = factory.Sequence(lambda n: f"Expérimentation {n}")
    summary = "Résumé de l'expérimentation."
    lead_organisation = factory.SubFactory(OrganisationFactory)
    care_domain = "chronic_disease"
    stage = 1
