"""One place picks the app: app token, then /apps/<id>/ prefix, app_id on /admin, default."""

from __future__ import annotations

import pytest
from django.http import HttpRequest
from django.test import Client, RequestFactory

from apps.tenancy.auth import ADMIN, ANONYMOUS, Principal
from apps.tenancy.middleware import resolve_app
from hector_site.errors import NotFound
from tests.factories import make_app


def request_for(path: str, **extra: str) -> HttpRequest:
    return RequestFactory().get(path, **extra)


def test_anonymous_without_prefix_gets_default(db: None) -> None:
    assert resolve_app(request_for("/agents"), ANONYMOUS).id == "default"


def test_prefix_selects_app_and_is_stripped(db: None) -> None:
    app, _ = make_app()
    request = request_for(f"/apps/{app.id}/agents/x")
    assert resolve_app(request, ADMIN).id == app.id
    assert request.path_info == "/agents/x"


def test_unknown_prefix_is_not_found(db: None) -> None:
    with pytest.raises(NotFound):
        resolve_app(request_for("/apps/ghost/agents"), ADMIN)


def test_app_token_selects_its_app_and_cannot_name_another(db: None) -> None:
    mine, _ = make_app()
    other, _ = make_app()
    principal = Principal("app", app=mine)
    assert resolve_app(request_for("/agents"), principal).id == mine.id
    assert resolve_app(request_for(f"/apps/{mine.id}/agents"), principal).id == mine.id
    with pytest.raises(NotFound):
        resolve_app(request_for(f"/apps/{other.id}/agents"), principal)


def test_admin_app_id_query_applies_to_admin_routes_only(db: None) -> None:
    app, _ = make_app()
    assert (
        resolve_app(request_for("/admin/sessions", QUERY_STRING=f"app_id={app.id}"), ADMIN).id
        == app.id
    )
    assert (
        resolve_app(request_for("/agents", QUERY_STRING=f"app_id={app.id}"), ADMIN).id == "default"
    )
    assert (
        resolve_app(request_for("/admin/x", QUERY_STRING=f"app_id={app.id}"), ANONYMOUS).id
        == "default"
    )


def test_other_apps_token_with_prefix_gets_404_over_http(db: None) -> None:
    _, token = make_app()
    other, _ = make_app()
    response = Client(headers={"Authorization": f"Bearer {token}"}).get(f"/apps/{other.id}/agents")
    assert response.status_code == 404
    assert response.json() == {"error": "App not found"}


def test_bad_token_is_ignored_on_public_paths(anon_client: Client) -> None:
    response = anon_client.get("/health", headers={"Authorization": "Bearer junk"})
    assert response.status_code == 200
