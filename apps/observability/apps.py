from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    """Shared: /health and /metrics."""

    name = "apps.observability"
    label = "observability"
