from django.urls import path

from tremplin.web.portfolio import views

app_name = "portfolio"
urlpatterns = [
    path("", views.portfolio, name="portfolio"),
    path("export/", views.portfolio_export, name="export"),
    path("nouvelle/", views.experiment_create, name="experiment-create"),
    path("depuis-proposition/", views.experiment_from_proposal, name="experiment-from-proposal"),
    path("criteres/", views.gate_criteria, name="gate-criteria"),
    path("mise-a-jour-csv/", views.bulk_update, name="bulk-update"),
    path("<int:pk>/", views.experiment_detail, name="experiment-detail"),
    path("<int:pk>/modifier/", views.experiment_edit, name="experiment-edit"),
    path("<int:pk>/revue/", views.gate_review, name="gate-review"),
    path("<int:pk>/plan/", views.plan_edit, name="plan"),
    path("<int:pk>/suivi/", views.progress, name="progress"),
    path("<int:pk>/echeances/", views.deadlines, name="deadlines"),
]
