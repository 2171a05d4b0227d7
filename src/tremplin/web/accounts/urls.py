from django.urls import path

from tremplin.web.accounts import views

app_name = "accounts"
urlpatterns = [
    path("organisations/", views.organisation_list, name="organisation-list"),
    path("organisations/nouvelle/", views.organisation_create, name="organisation-create"),
    path("organisations/<int:pk>/", views.organisation_detail, name="organisation-detail"),
    path("organisations/<int:pk>/modifier/", views.organisation_edit, name="organisation-edit"),
    path("organisations/<int:pk>/membres/ajouter/", views.membership_add, name="membership-add"),
    path("organisations/<int:pk>/membres/<int:membership_pk>/retirer/", views.membership_remove,
         name="membership-remove"),
    path("territoires/", views.territory_list, name="territory-list"),
    path("territoires/importer/", views.territory_import, name="territory-import"),
    path("compte/jetons-api/", views.api_tokens, name="api-tokens"),
    path("compte/jetons-api/<int:pk>/revoquer/", views.api_token_revoke, name="api-token-revoke"),
]
