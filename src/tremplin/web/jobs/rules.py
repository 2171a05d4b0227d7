import rules

from tremplin.web.accounts.rules import is_platform_admin


@rules.predicate
def launched_job(user, job) -> bool:
    return job is not None and job.created_by_id == user.pk


rules.add_perm("jobs.view_job_list", rules.is_authenticated)
rules.add_perm("jobs.view_job", is_platform_admin | launched_job)
rules.add_perm("jobs.cancel_job", is_platform_admin | launched_job)
rules.add_perm("jobs.run_demo_job", is_platform_admin)
