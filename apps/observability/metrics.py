"""`hector_*` Prometheus series. Named hector_<area>_<thing>_<unit>.

Series read from the database when scraped (queue depth, apps) are collectors: `register` puts
them in the default registry and keeps them for /metrics, which with several processes
(`hector_site.metrics_dir`) reads the others' files into a registry of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

_collectors: list[Collector] = []


def register(collector: Collector) -> None:
    """A collector of this process's /metrics (once per process)."""
    REGISTRY.register(collector)
    _collectors.append(collector)


def collectors() -> list[Collector]:
    return list(_collectors)


http_requests_total = Counter(
    "hector_http_requests_total", "HTTP requests served.", ["method", "route", "status"]
)
http_request_duration_seconds = Histogram(
    "hector_http_request_duration_seconds", "HTTP request latency.", ["method", "route"]
)
config_reload_total = Counter(
    "hector_config_reload_total", "Config file reloads by outcome.", ["result"]
)
errors_total = Counter(
    "hector_errors_total", "Errors by component and type.", ["component", "type"]
)
push_notifications_total = Counter(
    "hector_push_notifications_total",
    "A2A push notification deliveries by outcome.",
    ["result"],
)


class AppsCollector(Collector):
    """`hector_apps`: apps (tenants) registered, counted at most every 15 s."""

    REFRESH_S = 15.0

    def __init__(self) -> None:
        self._count: int | None = None
        self._at = 0.0

    def describe(self) -> Iterable[Metric]:
        yield GaugeMetricFamily("hector_apps", "Apps (tenants) registered.")  # no query at start

    def collect(self) -> Iterable[Metric]:
        if time.monotonic() - self._at > self.REFRESH_S:
            self._refresh()
        if self._count is not None:
            yield GaugeMetricFamily("hector_apps", "Apps (tenants) registered.", self._count)

    def _refresh(self) -> None:
        from django_tenants.utils import schema_context

        from apps.tenancy.models import App

        try:
            with schema_context("public"):
                self._count = App.objects.tenants().count()
        except Exception:
            logger.warning("hector_apps not refreshed", exc_info=True)
        self._at = time.monotonic()
