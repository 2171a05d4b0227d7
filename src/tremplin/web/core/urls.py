from django.urls import path

from tremplin.web.core import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("tableau-de-bord/", views.dashboard, name="dashboard"),
    path("audit/", views.audit_log, name="audit-log"),
    path("code-source.zip", views.source_archive, name="source"),
]
