from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from apps.studio import chat_views, config_views, flow_views, resource_views, views

urlpatterns = [
    path("", chat_views.chat_view, name="studio-chat"),
    path("login/", views.login_view, name="studio-login"),
    path("logout/", views.logout_view, name="studio-logout"),
    path("apps/", views.apps_view, name="studio-apps"),
    path("apps/select/", views.select_app_view, name="studio-select-app"),
    path("apps/<str:app_id>/token/", views.regenerate_token_view, name="studio-app-token"),
    path("apps/<str:app_id>/delete/", views.delete_app_view, name="studio-app-delete"),
    path("sessions/", chat_views.sessions_view, name="studio-sessions"),
    path("sessions/<str:session_id>/", chat_views.session_view, name="studio-session"),
    path("sessions/<str:session_id>/turns.json", chat_views.session_turns_view),
    path("sessions/<str:session_id>/delete/", chat_views.delete_session_view),
    path("config/", config_views.config_view, name="studio-config"),
    path("config/validate/", config_views.validate_view, name="studio-config-validate"),
    path("config/diff/", config_views.diff_view, name="studio-config-diff"),
    path("config/revisions/<int:number>/", config_views.revision_view, name="studio-revision"),
    path("config/revisions/<int:number>/rollback/", config_views.rollback_view),
    path("resources/", resource_views.resources_view, name="studio-resources"),
    path("resources/<str:section>/new/", resource_views.resource_view),
    path("resources/<str:section>/<str:name>/", resource_views.resource_view),
    path("resources/<str:section>/<str:name>/delete/", resource_views.delete_resource_view),
    path("flow/", flow_views.flow_view, name="studio-flow"),
    path("flow/edges/", flow_views.edge_view, name="studio-flow-edges"),
    # The Django admin's own password login does not apply: the admin secret unlocks the Studio.
    path("admin/login/", RedirectView.as_view(url="/studio/login/", query_string=True)),
    path("admin/", admin.site.urls),
]
