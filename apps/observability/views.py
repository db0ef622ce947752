"""Operational endpoints: /health for probes, /metrics for Prometheus (with --metrics)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_prometheus.exports import ExportToDjangoView

from hector_site import __version__
from hector_site.errors import json_error


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return False
    return True


def health(request: HttpRequest) -> JsonResponse:
    database_ok = _database_ok()
    body: dict[str, Any] = {
        "status": "ok" if database_ok else "degraded",
        "version": __version__,
        "database": "ok" if database_ok else "unreachable",
        "admin": {"enabled": True},
    }
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
    if not settings.HECTOR_METRICS:
        return json_error(404, "Not found")
    return ExportToDjangoView(request)
