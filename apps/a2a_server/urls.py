"""A2A routes (SPEC 7.1). Mounted at the site root; `/apps/<app>/...` reaches them too (the tenant
middleware strips that prefix). The JSON-RPC route answers with and without a trailing slash,
never with a redirect (SPEC 7.10)."""

from django.urls import path

from apps.a2a_server import views

urlpatterns = [
    path(".well-known/agent-card.json", views.agent_card, name="a2a-default-card"),
    path("agents", views.discovery, name="a2a-discovery"),
    path("agents/", views.discovery),
    path("agents/<str:name>", views.agent_endpoint, name="a2a-agent"),
    path("agents/<str:name>/", views.agent_endpoint),
    path("agents/<str:name>/.well-known/agent-card.json", views.agent_card, name="a2a-agent-card"),
    path(
        "agents/<str:name>/tasks/<str:task_id>/toolCalls/<str:call_id>/cancel",
        views.cancel_tool_call,
        name="a2a-cancel-tool-call",
    ),
    path("tasks/<str:task_id>/toolCalls/<str:call_id>/cancel", views.cancel_tool_call),
]
