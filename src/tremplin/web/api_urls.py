"""Versioned API routes (/api/v1/). Capability apps register their viewsets here."""

from importlib import import_module

from rest_framework.routers import DefaultRouter

from tremplin.web.accounts.api import MembershipViewSet, OrganisationViewSet, TerritoryViewSet
from tremplin.web.jobs.api import JobViewSet

router = DefaultRouter()
router.register("organisations", OrganisationViewSet, basename="organisation")
router.register("territories", TerritoryViewSet, basename="territory")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("jobs", JobViewSet, basename="job")

for _app in ("problems", "calls", "portfolio", "evaluations", "horizon", "campaign"):
    import_module(f"tremplin.web.{_app}.api").register(router)

urlpatterns = router.urls
