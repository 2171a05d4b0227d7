from django.urls import path

from tremplin.web.calls import views

app_name = "calls"
urlpatterns = [
    path("", views.call_list, name="call-list"),
    path("nouvel/", views.call_create, name="call-create"),
    path("mes-propositions/", views.my_proposals, name="my-proposals"),
    path("a-evaluer/", views.review_queue, name="review-queue"),
    path("<int:pk>/", views.call_detail, name="call-detail"),
    path("<int:pk>/modifier/", views.call_edit, name="call-edit"),
    path("<int:pk>/grille/", views.call_criteria, name="call-criteria"),
    path("<int:pk>/proposer/", views.proposal_create, name="proposal-create"),
    path("<int:pk>/conflits/", views.call_conflicts, name="call-conflicts"),
    path("<int:pk>/conflits/retirer/", views.conflict_delete, name="conflict-delete"),
    path("<int:pk>/conflits/gestion/", views.call_conflicts_manage, name="call-conflicts-manage"),
    path("<int:pk>/affectations/", views.call_assignments, name="call-assignments"),
    path("<int:pk>/affectations/automatique/", views.assignments_auto, name="assignments-auto"),
    path("<int:pk>/affectations/ajouter/", views.assignment_manual, name="assignment-manual"),
    path("<int:pk>/affectations/retirer/", views.assignment_remove, name="assignment-remove"),
    path("<int:pk>/affectations/csv/", views.assignments_csv, name="assignments-csv"),
    path("<int:pk>/classement/", views.call_ranking, name="call-ranking"),
    path("<int:pk>/publier/", views.decisions_release, name="decisions-release"),
    path("<int:pk>/export/", views.call_export, name="call-export"),
    path("<int:pk>/resultats/", views.call_results, name="call-results"),
    path("propositions/<int:pk>/", views.proposal_detail, name="proposal-detail"),
    path("propositions/<int:pk>/modifier/", views.proposal_edit, name="proposal-edit"),
    path("propositions/<int:pk>/soumettre/", views.proposal_submit, name="proposal-submit"),
    path("propositions/<int:pk>/retirer/", views.proposal_withdraw, name="proposal-withdraw"),
    path("propositions/<int:pk>/pieces/", views.attachment_upload, name="attachment-upload"),
    path("propositions/<int:pk>/pieces/retirer/", views.attachment_delete, name="attachment-delete"),
    path("propositions/<int:pk>/pieces/<int:attachment_pk>/", views.attachment_download, name="attachment-download"),
    path("propositions/<int:pk>/evaluation/", views.review_edit, name="review-edit"),
    path("propositions/<int:pk>/notes/", views.note_add, name="note-add"),
    path("propositions/<int:pk>/decision/", views.decision_record, name="decision-record"),
]
