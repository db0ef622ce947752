from django.apps import AppConfig


class A2AServerConfig(AppConfig):
    """Shared (no tables): the A2A JSON-RPC + SSE endpoints, agent cards and discovery.

    Not labelled `a2a`: the a2a-sdk owns that import name.
    """

    name = "apps.a2a_server"
    label = "a2a_server"
