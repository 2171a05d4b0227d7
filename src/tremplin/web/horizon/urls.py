from django.urls import path

from tremplin.web.horizon import views

app_name = "horizon"
urlpatterns = [
    path("", views.signal_list, name="signal-list"),
    path("radar/", views.signal_radar, name="signal-radar"),
    path("nouveau/", views.signal_create, name="signal-create"),
    path("export/", views.signal_export, name="signal-export"),
    path("publique/", views.public_list, name="public-list"),
    path("publique/export/", views.public_export, name="public-export"),
    path("panel/", views.panel, name="panel"),
    path("a-noter/", views.score_queue, name="score-queue"),
    path("<int:pk>/", views.signal_detail, name="signal-detail"),
    path("<int:pk>/modifier/", views.signal_edit, name="signal-edit"),
    path("<int:pk>/revue/", views.signal_review, name="signal-review"),
    path("<int:pk>/noter/", views.signal_score, name="signal-score"),
    path("<int:pk>/preparer-un-appel/", views.signal_prepare_call, name="signal-prepare-call"),
]
