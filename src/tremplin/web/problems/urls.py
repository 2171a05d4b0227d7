from django.urls import path

from tremplin.web.problems import views

app_name = "problems"
urlpatterns = [
    path("", views.problem_list, name="problem-list"),
    path("signaler/", views.problem_create, name="problem-create"),
    path("semblables/", views.problem_similar, name="problem-similar"),
    path("ponderations/", views.weights_edit, name="weights-edit"),
    path("<int:pk>/", views.problem_detail, name="problem-detail"),
    path("<int:pk>/modifier/", views.problem_edit, name="problem-edit"),
    path("<int:pk>/appuyer/", views.problem_endorse, name="problem-endorse"),
    path("<int:pk>/retirer-appui/", views.endorsement_withdraw, name="endorsement-withdraw"),
    path("<int:pk>/pilotage/", views.problem_manage, name="problem-manage"),
    path("<int:pk>/fusionner/", views.problem_merge, name="problem-merge"),
    path("<int:pk>/commentaires/", views.comment_add, name="comment-add"),
    path("commentaires/moderation/", views.comment_moderation, name="comment-moderation"),
    path("commentaires/<int:pk>/signaler/", views.comment_flag, name="comment-flag"),
    path("commentaires/<int:pk>/moderer/", views.comment_moderate, name="comment-moderate"),
    path("consultations/", views.consultation_list, name="consultation-list"),
    path("consultations/nouvelle/", views.consultation_create, name="consultation-create"),
    path("consultations/<int:pk>/", views.consultation_detail, name="consultation-detail"),
    path("consultations/<int:pk>/modifier/", views.consultation_edit, name="consultation-edit"),
    path("consultations/<int:pk>/repondre/", views.consultation_respond, name="consultation-respond"),
    path("consultations/<int:pk>/resultats/", views.consultation_results, name="consultation-results"),
    path("consultations/<int:pk>/export.csv", views.consultation_export_csv, name="consultation-export-csv"),
    path("consultations/<int:pk>/export.xlsx", views.consultation_export_xlsx, name="consultation-export-xlsx"),
]
