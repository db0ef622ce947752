"""POST/GET/PUT/DELETE /admin/apps and /admin/apps/{id}/token (SPEC 3.3)."""

from __future__ import annotations

import json

import jwt
import pytest
from django.db import connection
from django.test import Client

from apps.tenancy.models import App
from tests.factories import MINIMAL_CONFIG, make_app, token_client


def post_app(client: Client, body: object) -> object:
    return client.post("/admin/apps", data=json.dumps(body), content_type="application/json")


def schema_exists(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        return cursor.fetchone() is not None


def test_create_returns_app_and_a_token_that_verifies_against_jwks(
    admin_client: Client, anon_client: Client
) -> None:
    response = post_app(admin_client, {"name": "customer-support"})
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "bearer"
    assert set(body["app"]) >= {"id", "name", "config_json", "created_at", "updated_at"}
    app_id = body["app"]["id"]
    assert len(app_id) == 12
    assert body["app"]["name"] == "customer-support"
    keys = {k["kid"]: k for k in anon_client.get("/admin/jwks").json()["keys"]}
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    public_key = jwt.PyJWK(keys[header["kid"]]).key
    claims = jwt.decode(
        body["access_token"], public_key, algorithms=["RS256"], audience="hector-api"
    )
    assert claims["app"] == app_id
    assert claims["tenant_id"] == app_id
    assert claims["sub"] == f"app:{app_id}"
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600
    assert schema_exists(f"app_{app_id}")


def test_create_with_id_and_config(admin_client: Client) -> None:
    body = {"name": "Support", "id": "support-eu", "config_json": json.dumps(MINIMAL_CONFIG)}
    response = post_app(admin_client, body)
    assert response.status_code == 201
    app = response.json()["app"]
    assert app["id"] == "support-eu"
    assert json.loads(app["config_json"]) == MINIMAL_CONFIG
    assert schema_exists("app_support_eu")


def test_create_accepts_config_yaml(admin_client: Client) -> None:
    yaml_text = "llms:\n  default: {provider: ollama}\nagents:\n  helper: {llm: default}\n"
    response = post_app(admin_client, {"name": "yaml app", "config_yaml": yaml_text})
    assert response.status_code == 201
    assert "helper" in json.loads(response.json()["app"]["config_json"])["agents"]


def test_create_rejects_malformed_json(admin_client: Client) -> None:
    response = admin_client.post("/admin/apps", data="{bad json", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid request body"}


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": None}, {"name": "   "}])
def test_create_requires_a_name(admin_client: Client, body: dict[str, object]) -> None:
    response = post_app(admin_client, body)
    assert response.status_code == 400
    assert response.json()["error"].endswith("Name is required")


def test_create_rejects_non_object_body(admin_client: Client) -> None:
    response = post_app(admin_client, ["name"])
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid request body"}


def test_create_rejects_config_with_undefined_llm_naming_the_path(admin_client: Client) -> None:
    config = {
        "agents": {"writer": {"llm": "gpt5", "instruction": "x"}},
        "llms": {"default": {"provider": "ollama"}},
    }
    response = post_app(admin_client, {"name": "bad", "config_json": json.dumps(config)})
    assert response.status_code == 400
    body = response.json()
    assert body["error"].startswith("Invalid config: agents.writer.llm")
    assert body["details"][0]["path"] == "agents.writer.llm"
    assert not App.objects.filter(name="bad").exists()


def test_create_rejects_config_json_that_is_not_json(admin_client: Client) -> None:
    response = post_app(admin_client, {"name": "bad", "config_json": "{nope"})
    assert response.status_code == 400
    assert "config_json is not valid JSON" in response.json()["error"]


def test_create_rejects_invalid_id(admin_client: Client) -> None:
    response = post_app(admin_client, {"name": "x", "id": "Bad_ID"})
    assert response.status_code == 400
    assert "Invalid app id" in response.json()["error"]


def test_create_duplicate_id_is_409(admin_client: Client) -> None:
    assert post_app(admin_client, {"name": "one", "id": "dup"}).status_code == 201
    response = post_app(admin_client, {"name": "two", "id": "dup"})
    assert response.status_code == 409
    assert "dup" in response.json()["error"]


def test_create_duplicate_name_is_409(admin_client: Client) -> None:
    assert post_app(admin_client, {"name": "same"}).status_code == 201
    assert post_app(admin_client, {"name": "same"}).status_code == 409


def test_server_block_is_file_only(admin_client: Client) -> None:
    config = {**MINIMAL_CONFIG, "server": {"port": 9000}}
    response = post_app(admin_client, {"name": "srv", "config_json": json.dumps(config)})
    assert response.status_code == 403
    assert response.json() == {"error": "server block is file-only"}


def test_get_unknown_app_is_404(admin_client: Client) -> None:
    response = admin_client.get("/admin/apps/missing")
    assert response.status_code == 404
    assert response.json() == {"error": "App not found"}


def test_get_returns_the_app(admin_client: Client) -> None:
    app, _ = make_app(name="fetch me")
    body = admin_client.get(f"/admin/apps/{app.id}").json()
    assert body["id"] == app.id
    assert body["name"] == "fetch me"
    assert body["created_at"].endswith("Z") or "+" in body["created_at"]


def test_list_is_paginated(admin_client: Client) -> None:
    created = [make_app(name=f"page {i}")[0].id for i in range(5)]
    seen: list[str] = []
    token = ""
    while True:
        page = admin_client.get("/admin/apps", {"page_size": 2, "page_token": token}).json()
        seen += [a["id"] for a in page["apps"]]
        token = page["next_page_token"]
        if not token:
            break
    assert [i for i in seen if i in created] == created
    assert "default" in seen


@pytest.mark.parametrize("page_size", ["0", "abc", "100000"])
def test_list_rejects_bad_page_size(admin_client: Client, page_size: str) -> None:
    response = admin_client.get("/admin/apps", {"page_size": page_size})
    assert response.status_code == 400
    assert "page_size" in response.json()["error"]


def test_list_rejects_unknown_page_token(admin_client: Client) -> None:
    response = admin_client.get("/admin/apps", {"page_token": "nope"})
    assert response.status_code == 400


def test_put_renames_and_stores_a_new_config_revision(admin_client: Client) -> None:
    app, _ = make_app(name="before")
    new_config = {**MINIMAL_CONFIG, "agents": {"second": {"llm": "default"}}}
    response = admin_client.put(
        f"/admin/apps/{app.id}",
        data=json.dumps({"name": "after", "config_json": json.dumps(new_config)}),
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "after"
    assert body["active_revision"] == 2
    assert json.loads(body["config_json"]) == new_config


def test_put_invalid_config_keeps_the_old_one(admin_client: Client) -> None:
    app, _ = make_app(name="keep")
    response = admin_client.put(
        f"/admin/apps/{app.id}",
        data=json.dumps({"config_json": json.dumps({"agnets": {}})}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "agnets" in response.json()["error"]
    app.refresh_from_db()
    assert app.active_revision == 1
    assert json.loads(app.config_json) == MINIMAL_CONFIG


def test_put_unknown_app_is_404(admin_client: Client) -> None:
    response = admin_client.put("/admin/apps/ghost", data="{}", content_type="application/json")
    assert response.status_code == 404


def test_delete_drops_schema_and_revokes_tokens(admin_client: Client) -> None:
    app, token = make_app(name="doomed")
    assert token_client(token).get("/agents").status_code != 401
    response = admin_client.delete(f"/admin/apps/{app.id}")
    assert response.status_code == 204
    assert response.content == b""
    assert not schema_exists(app.schema_name)
    assert admin_client.get(f"/admin/apps/{app.id}").status_code == 404
    assert token_client(token).get("/agents").status_code == 401


def test_delete_default_app_is_forbidden(admin_client: Client) -> None:
    response = admin_client.delete("/admin/apps/default")
    assert response.status_code == 403
    assert response.json() == {"error": "Cannot delete the default app"}


def test_delete_unknown_app_is_404(admin_client: Client) -> None:
    assert admin_client.delete("/admin/apps/ghost").status_code == 404


def test_regenerating_a_token_revokes_older_ones(admin_client: Client) -> None:
    app, old = make_app(name="rotate")
    response = admin_client.post(f"/admin/apps/{app.id}/token", content_type="application/json")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert token_client(old).get("/agents").status_code == 401
    assert token_client(body["access_token"]).get("/agents").status_code != 401


def test_regenerate_can_keep_previous_tokens(admin_client: Client) -> None:
    app, old = make_app(name="keep-old")
    response = admin_client.post(
        f"/admin/apps/{app.id}/token",
        data=json.dumps({"revoke_previous": False, "ttl": "1h"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600
    assert token_client(old).get("/agents").status_code != 401


@pytest.mark.parametrize("ttl", ["soon", "-5s", "0"])
def test_token_rejects_bad_ttl(admin_client: Client, ttl: str) -> None:
    app, _ = make_app()
    response = admin_client.post(
        f"/admin/apps/{app.id}/token",
        data=json.dumps({"ttl": ttl}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("ttl")


def test_token_for_unknown_app_is_404(admin_client: Client) -> None:
    assert admin_client.post("/admin/apps/ghost/token").status_code == 404
