"""Operational endpoints: /health for probes, /metrics for Prometheus (with --metrics)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from apps.observability import metrics as observed
from hector_site import __version__, metrics_dir
from hector_site.errors import json_error

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return False
    return True


def _queue(request: HttpRequest) -> dict[str, int] | None:
    """The queue counts of the caller's app (SPEC 14); None when they cannot be read."""
    from apps.tasks.operations import queue_stats

    try:
        stats = queue_stats(request.tenant)  # type: ignore[attr-defined]
        (app,) = stats["apps"]
    except Exception:
        logger.warning("health: queue counts unavailable", exc_info=True)
        return None
    return {key: int(app["queue"][key]) for key in ("pending", "processing", "dead_letter")}


def _mcp() -> list[dict[str, Any]]:
    """MCP servers of the runners this process built. Not imported when no run happened yet:
    there is nothing to report, and the runtime (LLM SDKs) would swell an idle process."""
    runtime = sys.modules.get("apps.tasks.runtime")
    return runtime.mcp_status() if runtime is not None else []


def health(request: HttpRequest) -> JsonResponse:
    database_ok = _database_ok()
    body: dict[str, Any] = {
        "status": "ok" if database_ok else "degraded",
        "version": __version__,
        "database": "ok" if database_ok else "unreachable",
        "admin": {"enabled": True},
    }
    if database_ok:
        queue = _queue(request)
        if queue is not None:
            body["queue"] = queue
    servers = _mcp()
    if servers:
        body["mcp"] = servers
        if not all(server["healthy"] for server in servers):
            body["status"] = "degraded"  # still 200: the app runs without those tools
    if settings.HECTOR_AUTH_JWKS_URL:
        body["auth"] = {
            "enabled": True,
            "type": "jwt",
            "issuer": settings.HECTOR_AUTH_ISSUER,
            "audience": settings.HECTOR_AUTH_AUDIENCE,
            "client_id": settings.HECTOR_AUTH_CLIENT_ID,
            "admin": True,
        }
    return JsonResponse(body, status=200 if database_ok else 503)


def metrics(request: HttpRequest) -> HttpResponse:
    """This process's series; with `PROMETHEUS_MULTIPROC_DIR` (serve and its workers), every
    process's, summed, plus the collectors that read the database."""
    if not settings.HECTOR_METRICS:
        return json_error(404, "Not found")
    if not os.environ.get(metrics_dir.ENV):
        return ExportToDjangoView(request)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    for collector in observed.collectors():
        registry.register(collector)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
