"""Studio unlock with the admin secret (SPEC AC 15.a)."""

from __future__ import annotations

from django.core.cache import cache
from django.test import Client


def test_root_redirects_to_login_without_a_session(anon_client: Client) -> None:
    response = anon_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/studio/login/"
    page = anon_client.get("/studio/login/")
    assert page.status_code == 200
    assert b'name="secret"' in page.content


def test_right_secret_unlocks_studio_and_admin(anon_client: Client, admin_secret: str) -> None:
    response = anon_client.post("/studio/login/", {"secret": admin_secret})
    assert response.status_code == 302
    assert response["Location"] == "/studio/"
    assert "hector_studio" in response.cookies
    assert response.cookies["hector_studio"]["httponly"]
    assert anon_client.get("/studio/").status_code == 200
    admin_page = anon_client.get("/studio/admin/")
    assert admin_page.status_code == 200
    assert b"Apps" in admin_page.content or b"Tenancy" in admin_page.content
    assert anon_client.get("/studio/admin/tenancy/app/").status_code == 200
    assert anon_client.get("/studio/admin/configs/agent/").status_code == 200


def test_wrong_secret_shows_an_error_and_sets_no_session(anon_client: Client) -> None:
    cache.clear()
    response = anon_client.post("/studio/login/", {"secret": "wrong"})
    assert response.status_code == 200
    assert b"not valid" in response.content
    assert "hector_studio" not in response.cookies
    assert anon_client.get("/studio/").status_code == 302


def test_five_failures_a_minute_are_throttled(anon_client: Client) -> None:
    cache.clear()
    for _ in range(5):
        anon_client.post("/studio/login/", {"secret": "wrong"})
    assert anon_client.post("/studio/login/", {"secret": "wrong"}).status_code == 429
    cache.clear()


def test_login_is_csrf_protected(admin_secret: str, db: None) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post("/studio/login/", {"secret": admin_secret}).status_code == 403


def test_logout_clears_the_session(anon_client: Client, admin_secret: str) -> None:
    anon_client.post("/studio/login/", {"secret": admin_secret})
    anon_client.post("/studio/logout/")
    assert anon_client.get("/studio/").status_code == 302


def test_django_admin_needs_the_studio_session(anon_client: Client) -> None:
    response = anon_client.get("/studio/admin/")
    assert response.status_code == 302
    assert (
        "/studio/admin/login/" in response["Location"] or "/studio/login/" in response["Location"]
    )
