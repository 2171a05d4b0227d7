from django.urls import path

from tremplin.web.jobs import views

app_name = "jobs"
urlpatterns = [
    path("", views.job_list, name="job-list"),
    path("demo/", views.job_demo, name="job-demo"),
    path("<uuid:pk>/", views.job_detail, name="job-detail"),
    path("<uuid:pk>/annuler/", views.job_cancel, name="job-cancel"),
]
