"""Tenant resolution, in one place.

Order (SPEC 3.1): an app token selects its app; an `/apps/<id>/...` prefix selects one for other
callers (an app token naming another app gets 404, never a peek); `app_id` on /admin/* for the admin
secret; a django-tenants Domain matching the host; otherwise `default`.

django-tenants keeps the schema on the thread's connection. Under ASGI each request has its own
thread-sensitive thread (Django enters an asgiref `ThreadSensitiveContext` per request), which
serves the sync views of that request: the async path resolves the app and sets the schema there,
in one hop, hands the connection back to the pool and leaves the async views on the event loop.
The thread ends with its request, so nothing needs resetting. Async code names its schema on
every hop (`apps.tenancy.context.in_schema`, run on the database threads). Apps come from
`app_cache`, so resolving one rarely queries.
"""

from __future__ import annotations

import re
import threading
import time

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, HttpResponse

from apps.tenancy.app_cache import NeedsDatabase, app_cache, cache_only, refuse_database
from apps.tenancy.auth import ANONYMOUS, InvalidCredentials, Principal, authenticate_bearer
from apps.tenancy.models import DEFAULT_APP_ID, App, Domain
from hector_site.errors import HectorError, NotFound, Unauthorized, error_response
from hector_site.lean import is_lean
from hector_site.middleware import DualMiddleware

APP_PREFIX = re.compile(r"^/apps/(?P<app>[^/]+)(?P<rest>/.*)?$")

# A bad credential on these paths is ignored rather than refused: they are public by nature.
PUBLIC_PATH_PREFIXES = ("/health", "/schema", "/admin/jwks", "/metrics", "/static/", "/api/")

DOMAIN_CACHE_TTL_S = 10.0


class _DomainCache:
    """Host -> app id, refreshed every few seconds: hostname routing is rare and rarely changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded_at = 0.0
        self._hosts: dict[str, str] = {}

    def app_id_for(self, host: str) -> str | None:
        now = time.monotonic()
        if now - self._loaded_at > DOMAIN_CACHE_TTL_S:
            refuse_database()
            with self._lock:
                self._hosts = dict(Domain.objects.values_list("domain", "tenant_id"))
                self._loaded_at = now
        return self._hosts.get(host)

    def clear(self) -> None:
        self._loaded_at = 0.0


domain_cache = _DomainCache()


class TenantMiddleware(DualMiddleware):
    def _call(self, request: HttpRequest) -> HttpResponse:
        try:
            _enter_tenant(request)
        except HectorError as error:
            return error_response(error)
        try:
            response: HttpResponse = self.get_response(request)
            return response
        finally:
            connection.set_schema_to_public()

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        path_info = request.path_info
        try:
            try:
                with cache_only():
                    _resolve(request)
            except NeedsDatabase:
                request.path_info = path_info  # resolving may have stripped an /apps/ prefix
                await sync_to_async(_enter_tenant_released, thread_sensitive=True)(request)
            else:
                if not is_lean(request):  # sync code of this request uses the thread's connection
                    await sync_to_async(_use_tenant, thread_sensitive=True)(request)
        except HectorError as error:
            return error_response(error)
        response: HttpResponse = await self.get_response(request)
        return response


def _resolve(request: HttpRequest) -> None:
    principal = authenticate(request)
    request.tenant = resolve_app(request, principal)  # type: ignore[attr-defined]
    request.principal = principal  # type: ignore[attr-defined]


def _use_tenant(request: HttpRequest) -> None:
    connection.set_tenant(request.tenant)  # type: ignore[attr-defined]


def _enter_tenant_released(request: HttpRequest) -> None:
    """`_enter_tenant`, then the connection goes back to the pool: an async view may wait long
    (a blocking send, a stream) and must not pin one meanwhile. A sync view of this request
    checks one out again; django-tenants sets the search path on its first cursor."""
    try:
        _enter_tenant(request)
    finally:
        if connection.connection is not None and not connection.in_atomic_block:
            connection.close()


def _enter_tenant(request: HttpRequest) -> None:
    """Resolve the caller and the app, and point this thread's connection at the app's schema."""
    connection.set_schema_to_public()
    _resolve(request)
    _use_tenant(request)


def bearer_token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate(request: HttpRequest) -> Principal:
    token = bearer_token(request)
    if token is None:
        return ANONYMOUS
    try:
        return authenticate_bearer(token)
    except InvalidCredentials as exc:
        if request.path_info.startswith(PUBLIC_PATH_PREFIXES):
            return ANONYMOUS
        raise Unauthorized("Unauthorized") from exc


def resolve_app(request: HttpRequest, principal: Principal) -> App:
    prefix = APP_PREFIX.match(request.path_info)
    if prefix:
        request.path_info = prefix["rest"] or "/"
    if principal.app is not None:
        if prefix and prefix["app"] != principal.app.id:
            raise NotFound("App not found")
        return principal.app
    if prefix:
        return _load_app(prefix["app"])
    if principal.is_admin and request.path_info.startswith("/admin/") and "app_id" in request.GET:
        return _load_app(request.GET["app_id"])
    host_app = domain_cache.app_id_for(request.get_host().split(":")[0])
    return _load_app(host_app or DEFAULT_APP_ID)


def _load_app(app_id: str) -> App:
    app = app_cache.get(app_id)
    if app is None:
        raise NotFound("App not found")
    return app
