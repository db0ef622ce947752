"""Sessions Admin API views (SPEC 3.3): parse, call a service, render.

Unlike the rest of /admin/*, these routes also take an app token, which sees only its own app: an
operator's per-app tooling can read its conversations without holding the admin secret. The tenant
middleware has already chosen the app (and set its schema): `app_id` for the admin secret, the
token's app for an app token. It ignores `app_id` for app tokens, so that case is checked here.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.conversations import services
from apps.conversations.api import serializers as s
from apps.tenancy.auth import Principal
from apps.tenancy.models import App
from hector_site.errors import BadRequest, NotFound

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50

APP_ID = OpenApiParameter(
    "app_id", str, description="Admin secret: the app (default `default`). App token: its own app."
)
USER_ID = OpenApiParameter("user_id", str, description="Only sessions of this user.")


class IsAdminOrAppToken(BasePermission):
    """The admin secret (any app) or an app token (its own app); no credential gets 401."""

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, Principal) or not principal.is_authenticated:
            raise exceptions.NotAuthenticated()
        if principal.kind not in ("admin", "app"):
            raise exceptions.PermissionDenied()
        return True


def requested_app(request: Request) -> App:
    """The app whose sessions the caller may see; another app's id is 404, never a peek."""
    app: App = request._request.tenant  # type: ignore[attr-defined]
    principal: Principal = request.user  # type: ignore[assignment]
    asked = request.query_params.get("app_id")
    if principal.kind == "app" and asked is not None and asked != app.id:
        raise NotFound("App not found")
    return app


def int_param(request: Request, name: str, *, default: int, low: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} must be an integer {bounds}") from exc
    if value < low or (high is not None and value > high):
        raise BadRequest(f"{name} must be an integer {bounds}")
    return value


def optional_param(request: Request, name: str) -> str | None:
    return request.query_params.get(name) or None


class SessionListView(APIView):
    permission_classes = [IsAdminOrAppToken]

    @extend_schema(
        operation_id="sessions_list",
        parameters=[
            APP_ID,
            USER_ID,
            OpenApiParameter("agent", str, description="Only sessions of this agent."),
            OpenApiParameter(
                "page_size", int, description=f"1-{MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}"
            ),
            OpenApiParameter("page_token", str, description="next_page_token of the previous page"),
        ],
        responses=s.SessionListSerializer,
    )
    def get(self, request: Request) -> Response:
        app = requested_app(request)
        page_size = int_param(
            request, "page_size", default=DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE
        )
        sessions, next_token = services.session_page(
            user_id=optional_param(request, "user_id"),
            agent=optional_param(request, "agent"),
            page_size=page_size,
            page_token=optional_param(request, "page_token"),
        )
        return Response(
            {
                "sessions": [s.session_json(session, app_name=app.id) for session in sessions],
                "next_page_token": next_token,
            }
        )


class SessionDetailView(APIView):
    permission_classes = [IsAdminOrAppToken]

    @extend_schema(
        parameters=[
            APP_ID,
            USER_ID,
            OpenApiParameter("limit", int, description="At most this many events; 0 = all"),
            OpenApiParameter("after_event_id", str, description="Only events after this one"),
        ],
        responses=s.SessionDetailSerializer,
    )
    def get(self, request: Request, session_id: str) -> Response:
        app = requested_app(request)
        limit = int_param(request, "limit", default=0, low=0, high=None)
        detail = services.session_detail(
            session_id,
            user_id=optional_param(request, "user_id"),
            limit=limit,
            after_event_id=optional_param(request, "after_event_id"),
        )
        return Response(s.session_detail_json(detail, app_name=app.id))

    @extend_schema(parameters=[APP_ID, USER_ID], responses={204: None})
    def delete(self, request: Request, session_id: str) -> Response:
        requested_app(request)
        services.remove_session(session_id, user_id=optional_param(request, "user_id"))
        return Response(status=204)
