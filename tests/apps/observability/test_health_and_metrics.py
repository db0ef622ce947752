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


def test_health_reports_the_queue_of_the_callers_app(anon_client: Client) -> None:
    body = anon_client.get("/health").json()
    assert set(body["queue"]) == {"pending", "processing", "dead_letter"}
    assert all(isinstance(count, int) for count in body["queue"].values())


async def test_health_shows_an_mcp_server_that_is_down(db: None) -> None:
    from asgiref.sync import sync_to_async

    from apps.tasks import runtime
    from apps.tenancy.models import App
    from tests.tools.mcp_servers.support import free_port

    app = await sync_to_async(App.objects.get)(pk="default")
    config = {
        "llms": {"default": {"provider": "ollama", "model": "q", "base_url": "http://127.0.0.1:9"}},
        "tools": {"down": {"type": "mcp", "url": f"http://127.0.0.1:{free_port()}/mcp"}},
        "agents": {"a": {"llm": "default", "tools": ["down"]}},
    }
    from agents.config_loader import load_config_data
    from agents.runner import Runner

    runner = Runner(load_config_data(config, source="test").config, sessions=None)  # type: ignore[arg-type]
    await runner._agent_tools("a", runner.config.agents["a"])
    cached = runtime._Cached(app.active_revision, app.config_json, app.schema_name, runner)
    runtime._runners["health-test"] = cached
    try:
        response = await sync_to_async(Client().get)("/health")
    finally:
        runtime._runners.pop("health-test", None)
        await runner.aclose()
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    (server,) = [s for s in body["mcp"] if s["app"] == "health-test"]
    assert server["name"] == "down"
    assert server["healthy"] is False
    assert server["last_error"]


async def test_async_requests_count_only_with_metrics_on(db: None, settings: Any) -> None:
    import httpx

    from apps.observability import metrics
    from hector_site.asgi import application

    def served() -> float:
        series = metrics.http_requests_total.labels("GET", "health", "200")
        return float(series._value.get())

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        settings.HECTOR_METRICS = False
        before = served()
        assert (await client.get("/health")).status_code == 200
        assert served() == before  # nothing reads them: not counted
        settings.HECTOR_METRICS = True
        assert (await client.get("/health")).status_code == 200
        assert served() == before + 1
