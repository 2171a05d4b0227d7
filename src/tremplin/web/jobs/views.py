"""Job pages: list, detail with live progress (htmx polling, works without JS), cancel."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tremplin.web.core.access import LOGGED_IN, Expect, only_roles, view_access
from tremplin.web.jobs import selectors, services
from tremplin.web.jobs.models import Job


def _job(request, pk, **kwargs) -> Job:
    return get_object_or_404(Job, pk=pk)


@view_access("jobs.view_job_list", expect=LOGGED_IN)
def job_list(request):
    page = Paginator(selectors.job_list_for_user(user=request.user), 50).get_page(request.GET.get("page"))
    return render(request, "jobs/job_list.html", {
        "page": page, "can_run_demo": request.user.has_perm("jobs.run_demo_job"),
    })


@view_access("jobs.view_job", get_object=_job, expect=only_roles("admin", sample="job"))
def job_detail(request, pk, obj: Job):
    """The job's progress: the whole page, or only the progress block for htmx polling (every second until
    the job finishes); without JavaScript, a refresh link."""
    template = "jobs/_job_progress.html" if request.htmx else "jobs/job_detail.html"
    response = render(request, template,
                      {"job": obj, "can_cancel": request.user.has_perm("jobs.cancel_job", obj)})
    patch_vary_headers(response, ["HX-Request"])  # same URL, two representations
    return response


@require_POST
@view_access("jobs.cancel_job", get_object=_job,
             expect=Expect(anonymous=302, default=403, roles={"admin": 302}, sample="job", methods=("POST",)))
def job_cancel(request, pk, obj: Job):
    services.job_cancel(job=obj)
    messages.info(request, _("Annulation demandée."))
    return redirect("jobs:job-detail", pk=obj.pk)


@require_POST
@view_access("jobs.run_demo_job",
             expect=Expect(anonymous=302, default=403, roles={"admin": 302}, methods=("POST",)))
def job_demo(request):
    job = services.job_enqueue(kind="demo.count", params={"steps": 20, "delay": 0.25},
                               label=_("Tâche de démonstration"), user=request.user)
    return redirect("jobs:job-detail", pk=job.pk)
