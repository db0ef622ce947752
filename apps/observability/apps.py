from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    """Shared: /health and /metrics."""

    name = "apps.observability"
    label = "observability"

    def ready(self) -> None:
        from apps.observability import metrics

        if not any(isinstance(c, metrics.AppsCollector) for c in metrics.collectors()):
            metrics.register(metrics.AppsCollector())
