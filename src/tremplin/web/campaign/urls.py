from django.urls import path

from tremplin.web.campaign import views

app_name = "campaign"
urlpatterns = [
    path("", views.campaign_list, name="campaign-list"),
    path("nouvelle/", views.campaign_create, name="campaign-create"),
    path("<int:pk>/", views.campaign_detail, name="campaign-detail"),
    path("<int:pk>/modifier/", views.campaign_edit, name="campaign-edit"),
    path("<int:pk>/indicateurs/", views.kpi_add, name="kpi-add"),
    path("<int:pk>/import/", views.kpi_import, name="kpi-import"),
    path("<int:pk>/export/", views.campaign_export, name="campaign-export"),
    path("<int:pk>/objectifs/", views.campaign_goals, name="campaign-goals"),
    path("<int:pk>/actions/", views.campaign_actions, name="campaign-actions"),
    path("coalitions/nouvelle/", views.coalition_create, name="coalition-create"),
    path("coalitions/<int:pk>/", views.coalition_detail, name="coalition-detail"),
    path("coalitions/<int:pk>/export/", views.coalition_export, name="coalition-export"),
    path("coalitions/<int:pk>/ajouter/", views.member_add, name="member-add"),
    path("organisations/<int:pk>/", views.member_detail, name="member-detail"),
    path("organisations/<int:pk>/modifier/", views.member_edit, name="member-edit"),
]
