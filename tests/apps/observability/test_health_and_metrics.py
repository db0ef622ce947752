from __future__ import annotations

from typing import Any

from django.test import Client


def test_health_reports_ok_with_database(anon_client: Client) -> None:
    response = anon_client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["version"]
    assert body["admin"] == {"enabled": True}


def test_metrics_are_404_without_the_flag(anon_client: Client, settings: Any) -> None:
    settings.HECTOR_METRICS = False
    response = anon_client.get("/metrics")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


def test_metrics_expose_hector_and_django_series(anon_client: Client, settings: Any) -> None:
    settings.HECTOR_METRICS = True
    anon_client.get("/health")
    text = anon_client.get("/metrics").content.decode()
    assert 'hector_http_requests_total{method="GET",route="health",status="200"}' in text
    assert "django_http_requests_total_by_method_total" in text
    assert "hector_http_request_duration_seconds_bucket" in text
