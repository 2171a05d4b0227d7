"""Reads for datasets and runs."""

from __future__ import annotations

from django.db.models import QuerySet

from tremplin.web.evaluations.models import Dataset, Run


def dataset_list_for_user(*, user) -> QuerySet[Dataset]:
    if not user.has_perm("evaluations.view_dataset_list"):
        return Dataset.objects.none()
    return Dataset.objects.select_related("created_by").order_by("-created_at", "-pk")


def dataset_choices_for_plan(*, plan) -> QuerySet[Dataset]:
    """Valid datasets, those linked to the plan's experiment first."""
    from django.db.models import Case, IntegerField, Value, When

    linked = plan.experiment.datasets.values_list("pk", flat=True)
    return (Dataset.objects.filter(status="valid")
            .annotate(linked=Case(When(pk__in=linked, then=Value(0)), default=Value(1), output_field=IntegerField()))
            .order_by("linked", "-created_at"))


def run_list_for_user(*, user) -> QuerySet[Run]:
    qs = Run.objects.select_related("plan__experiment", "dataset", "created_by").order_by("-created_at", "-pk")
    if user.has_perm("evaluations.view_run_list"):
        return qs
    return qs.filter(created_by=user)


def run_list_for_plan(*, plan) -> QuerySet[Run]:
    return Run.objects.filter(plan=plan).select_related("dataset", "created_by").order_by("-created_at", "-pk")


def published_runs_for_experiment(*, experiment) -> QuerySet[Run]:
    return (Run.objects.filter(plan__experiment=experiment, published_at__isnull=False)
            .select_related("plan__experiment").order_by("-published_at"))
