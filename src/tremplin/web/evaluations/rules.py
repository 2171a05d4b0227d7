"""Who may do what with datasets and evaluation runs (rules predicates)."""

from __future__ import annotations

import rules

from tremplin.web.accounts.rules import has_role, is_platform_admin

is_evaluator = is_platform_admin | has_role("evaluator")


@rules.predicate
def launched_run(user, run) -> bool:
    return run is not None and user.is_authenticated and run.created_by_id == user.pk


@rules.predicate
def run_is_published(user, run) -> bool:
    return run is not None and run.published_at is not None and run.publication is not None


rules.add_perm("evaluations.view_dataset_list", is_evaluator)
rules.add_perm("evaluations.add_dataset", is_evaluator)
rules.add_perm("evaluations.view_dataset", is_evaluator)
rules.add_perm("evaluations.view_run_list", is_evaluator)
rules.add_perm("evaluations.add_run", is_evaluator)
rules.add_perm("evaluations.view_run", is_evaluator | launched_run)
rules.add_perm("evaluations.cancel_run", is_platform_admin | (is_evaluator & launched_run))
rules.add_perm("evaluations.publish_run", is_platform_admin | (is_evaluator & launched_run))
rules.add_perm("evaluations.view_published_run", run_is_published)
