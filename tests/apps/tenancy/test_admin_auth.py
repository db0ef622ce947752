"""Admin API authentication: the admin secret only, JSON errors always."""

from __future__ import annotations

from django.test import Client

from tests.factories import make_app, token_client


def test_missing_credentials_get_401_json(anon_client: Client) -> None:
    response = anon_client.get("/admin/apps")
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized"}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_wrong_secret_gets_401_json(anon_client: Client) -> None:
    response = anon_client.get("/admin/apps", headers={"Authorization": "Bearer not-the-secret"})
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized"}


def test_malformed_authorization_header_gets_401(anon_client: Client) -> None:
    response = anon_client.get("/admin/apps", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401


def test_app_token_is_forbidden_on_admin_routes(db: None) -> None:
    _, token = make_app()
    response = token_client(token).get("/admin/apps")
    assert response.status_code == 403
    assert response.json() == {"error": "Forbidden"}


def test_admin_secret_is_accepted(admin_client: Client) -> None:
    assert admin_client.get("/admin/apps").status_code == 200


def test_jwks_is_public(anon_client: Client) -> None:
    response = anon_client.get("/admin/jwks")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    assert {"kid", "kty", "alg", "use"} <= set(keys[0])
    assert keys[0]["use"] == "sig"
    assert anon_client.get("/admin/jwks.json").json() == response.json()


def test_unknown_admin_subpath_is_404_json(admin_client: Client) -> None:
    response = admin_client.get("/admin/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


def test_wrong_method_is_405_json(admin_client: Client) -> None:
    response = admin_client.patch("/admin/apps", data="{}", content_type="application/json")
    assert response.status_code == 405
    assert response.json() == {"error": "Method not allowed"}
