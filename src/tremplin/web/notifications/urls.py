from django.urls import path

from tremplin.web.notifications import views

app_name = "notifications"
urlpatterns = [
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/lues/", views.notifications_read, name="notifications-read"),
    path("notifications/preferences/", views.preferences, name="preferences"),
    path("notifications/suivre/<slug:target>/<int:pk>/", views.follow, name="follow"),
    path("courriels/", views.mail_log, name="mail-log"),
    path("courriels/boite-d-envoi/", views.outbox, name="outbox"),
    path("courriels/modeles/", views.templates_platform, name="templates-platform"),
    path("courriels/modeles/<str:kind>/", views.template_edit_platform, name="template-edit-platform"),
    path("courriels/<int:pk>/", views.mail_detail, name="mail-detail"),
    path("courriels/<slug:scope>/<int:pk>/modeles/", views.templates_scope, name="templates-scope"),
    path("courriels/<slug:scope>/<int:pk>/modeles/<str:kind>/", views.template_edit_scope,
         name="template-edit-scope"),
]
