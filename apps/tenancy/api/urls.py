from django.urls import path, re_path

from apps.conversations.api import views as sessions
from apps.tasks.api import views as queue
from apps.tenancy.api import views
from hector_site.errors import not_found_view

urlpatterns = [
    path("apps", views.AppListView.as_view()),
    path("apps/<str:app_id>", views.AppDetailView.as_view()),
    path("apps/<str:app_id>/token", views.AppTokenView.as_view()),
    path("reload", views.ReloadView.as_view()),
    path("jwks", views.JwksView.as_view()),
    path("jwks.json", views.JwksView.as_view()),
    path("sessions", sessions.SessionListView.as_view()),
    re_path(r"^sessions/(?P<session_id>.*)$", sessions.SessionDetailView.as_view()),
    path("queue/stats", queue.QueueStatsView.as_view()),
    path("queue/dlq", queue.DeadLetterListView.as_view()),
    path("queue/dlq/<str:task_id>/requeue", queue.DeadLetterRequeueView.as_view()),
    re_path(r"^.*$", not_found_view),
]
