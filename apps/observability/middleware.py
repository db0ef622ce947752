"""hector_http_* request metrics (django-prometheus adds its own django_* series beside them)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.observability import metrics


class HttpMetricsMiddleware:
    """Labels by route pattern (`agents/<str:name>`), never raw paths: bounded cardinality."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        metrics.http_requests_total.labels(request.method, route, str(response.status_code)).inc()
        metrics.http_request_duration_seconds.labels(request.method, route).observe(
            time.perf_counter() - started
        )
        return response
