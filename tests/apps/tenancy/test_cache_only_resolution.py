"""The async tenant middleware resolves from caches on the event loop, and falls back to a thread
(which may query) on any miss, with the same result either way."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from apps.tenancy import auth
from apps.tenancy.app_cache import NeedsDatabase, app_cache, cache_only
from apps.tenancy.middleware import TenantMiddleware, domain_cache

pytestmark = pytest.mark.django_db


def resolve(path: str, **headers: Any) -> HttpRequest:
    seen: list[HttpRequest] = []

    async def view(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse("ok")

    request = RequestFactory().post(path, headers=headers)
    response = async_to_sync(TenantMiddleware(view))(request)
    assert response.status_code == 200, response.content
    return seen[0]


def test_a_cold_cache_falls_back_and_keeps_the_app_prefix(
    django_assert_max_num_queries: Any,
) -> None:
    app_cache.forget()
    with django_assert_max_num_queries(5) as queries:
        request = resolve("/apps/default/agents/assistant")
    assert len(queries) >= 1  # it did query: the fallback ran
    assert request.tenant.id == "default"  # type: ignore[attr-defined]
    assert request.path_info == "/agents/assistant"


def test_warm_caches_resolve_without_a_query(django_assert_num_queries: Any) -> None:
    resolve("/apps/default/agents/assistant")  # warms the app cache
    resolve("/agents/assistant")  # ... and the host table
    with django_assert_num_queries(0):
        request = resolve("/apps/default/agents/assistant")
        assert request.path_info == "/agents/assistant"
        assert resolve("/agents/assistant").tenant.id == "default"  # type: ignore[attr-defined]


def test_the_admin_secret_is_checked_from_its_cached_hash(django_assert_num_queries: Any) -> None:
    secret = auth.stored_admin_secret()
    assert secret
    resolve("/agents/assistant", authorization=f"Bearer {secret}")
    with django_assert_num_queries(0):
        request = resolve("/agents/assistant", authorization=f"Bearer {secret}")
    assert request.principal.is_admin  # type: ignore[attr-defined]


def test_cache_only_refuses_each_kind_of_miss() -> None:
    app_cache.forget()
    domain_cache.clear()
    auth.forget_cached_secret()
    with cache_only():
        with pytest.raises(NeedsDatabase):
            app_cache.get("default")
        with pytest.raises(NeedsDatabase):
            domain_cache.app_id_for("example.org")
        with pytest.raises(NeedsDatabase):
            auth.is_admin_secret("not-it")
