"""hector_http_* request metrics, and django-prometheus's own series without thread hops.

Both run in the event loop under ASGI: their hooks only touch in-process counters, so hopping to
a thread for them (what `MiddlewareMixin` does for every hook of an async request) is pure cost.
Without `--metrics` nothing exposes the counters, and async requests skip them altogether.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_prometheus import middleware as django_prometheus

from apps.observability import metrics
from hector_site.middleware import DualMiddleware


class HttpMetricsMiddleware(DualMiddleware):
    """Labels by route pattern (`agents/<str:name>`), never raw paths: bounded cardinality."""

    def _call(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response: HttpResponse = self.get_response(request)
        _observe(request, response, started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        if not settings.HECTOR_METRICS:  # nothing reads them: /metrics is off
            off: HttpResponse = await self.get_response(request)
            return off
        started = time.perf_counter()
        response: HttpResponse = await self.get_response(request)
        _observe(request, response, started)
        return response


def _observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
    match = getattr(request, "resolver_match", None)
    route = match.route if match is not None and match.route else "unmatched"
    metrics.http_requests_total.labels(request.method, route, str(response.status_code)).inc()
    metrics.http_request_duration_seconds.labels(request.method, route).observe(
        time.perf_counter() - started
    )


class PrometheusBeforeMiddleware(django_prometheus.PrometheusBeforeMiddleware):
    """django-prometheus's outermost middleware, its in-memory hooks called inline."""

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        if not settings.HECTOR_METRICS:  # nothing reads them: /metrics is off
            off: HttpResponse = await self.get_response(request)
            return off
        self.process_request(request)
        response: HttpResponse = await self.get_response(request)
        return self.process_response(request, response)  # type: ignore[no-any-return]
