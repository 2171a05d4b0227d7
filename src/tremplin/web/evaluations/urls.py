from django.urls import path

from tremplin.web.evaluations import views

app_name = "evaluations"
urlpatterns = [
    path("", views.run_list, name="run-list"),
    path("donnees/", views.dataset_list, name="dataset-list"),
    path("donnees/nouveau/", views.dataset_create, name="dataset-create"),
    path("donnees/<int:pk>/", views.dataset_detail, name="dataset-detail"),
    path("plan/<int:pk>/lancer/", views.run_create, name="run-create"),
    path("<int:pk>/", views.run_detail, name="run-detail"),
    path("<int:pk>/avancement/", views.run_status, name="run-status"),
    path("<int:pk>/annuler/", views.run_cancel, name="run-cancel"),
    path("<int:pk>/publier/", views.run_publish, name="run-publish"),
    path("<int:pk>/rapport.html", views.run_report_html, name="run-report-html"),
    path("<int:pk>/rapport.pdf", views.run_report_pdf, name="run-report-pdf"),
    path("<int:pk>/resultat.json", views.run_json, name="run-json"),
    path("publie/", views.published_list, name="published-list"),
    path("publie/<int:pk>/", views.published_run, name="published-run"),
]
