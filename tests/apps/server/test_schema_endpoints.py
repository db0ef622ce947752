from __future__ import annotations

from django.test import Client


def test_config_schema_is_public_draft7(anon_client: Client) -> None:
    response = anon_client.get("/schema")
    assert response.status_code == 200
    schema = response.json()
    assert schema["$id"] == "https://hector.dev/schemas/config.json"
    assert schema["title"] == "Hector Configuration Schema"
    assert {"agents", "llms", "tools", "guardrails", "document_stores"} <= set(schema["properties"])


def test_openapi_document_describes_the_admin_api(anon_client: Client) -> None:
    response = anon_client.get("/api/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    text = response.content.decode()
    assert "/apps/{app_id}/token" in text or "/admin/apps/{app_id}/token" in text


def test_swagger_ui_is_served(anon_client: Client) -> None:
    response = anon_client.get("/api/docs")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
    assert b"cdn.jsdelivr.net" not in response.content  # works offline
    assert b"/static/drf_spectacular_sidecar/" in response.content
