"""Which app a Studio page works in: the one picked in the app switcher.

The tenant middleware resolves the app from credentials, path prefix or hostname, which gives a
browser session the `default` app. Studio pages (and the Django admin under /studio/admin/) work in
the app stored in the session instead, so every page, list and form of one browser tab agrees on
the app. The schema is switched here, once, for the rest of the request; nothing deeper assumes it.
"""

from __future__ import annotations

from collections.abc import Awaitable

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, HttpResponse

from apps.tenancy.models import App
from hector_site.middleware import DualMiddleware

SESSION_KEY = "studio_app"
STUDIO_PREFIX = "/studio/"


def is_studio_user(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


class StudioAppMiddleware(DualMiddleware):
    """Runs after authentication: only a Studio staff session can pick an app.

    Async-capable, so it does not turn the whole chain above it synchronous: a sync-only
    middleware here would put every async view (A2A, SSE) behind a thread hop per request."""

    def _call(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(STUDIO_PREFIX):
            _use_selected_app_if_studio(request)
        response: HttpResponse = self.get_response(request)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(STUDIO_PREFIX):
            # `request.user` and the session load lazily, by sync ORM calls: one hop for both.
            await sync_to_async(_use_selected_app_if_studio)(request)
        response: Awaitable[HttpResponse] = self.get_response(request)
        return await response


def _use_selected_app_if_studio(request: HttpRequest) -> None:
    if is_studio_user(request):
        use_selected_app(request)


def use_selected_app(request: HttpRequest) -> None:
    app_id = request.session.get(SESSION_KEY)
    current: App = request.tenant  # type: ignore[attr-defined]
    if not app_id or app_id == current.id:
        return
    app = App.objects.tenants().filter(pk=app_id).first()
    if app is None:  # deleted meanwhile: fall back to what the tenant middleware chose
        del request.session[SESSION_KEY]
        return
    request.tenant = app  # type: ignore[attr-defined]
    connection.set_tenant(app)


def select_app(request: HttpRequest, app: App) -> None:
    request.session[SESSION_KEY] = app.id
    request.tenant = app  # type: ignore[attr-defined]
    connection.set_tenant(app)
