"""Admin API views: parse, call a service, render."""

from __future__ import annotations

import json
import os
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.config_loader import ConfigError, load_config
from agents.durations import parse_duration
from apps.configs.file_sync import reload_config_file
from apps.configs.services import config_error
from apps.tenancy import auth, services
from apps.tenancy.api import serializers as s
from hector_site.errors import BadRequest, Forbidden

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


def issuer_for(request: Request) -> str:
    return settings.HECTOR_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


def parse_config(data: dict[str, Any]) -> dict[str, Any] | None:
    """The lean config from `config_json` (text or object) or `config_yaml`; None when absent."""
    if "config_yaml" in data:
        try:
            return load_config(data["config_yaml"], source="config_yaml").lean
        except ConfigError as error:
            raise config_error(error) from error
    if "config_json" not in data:
        return None
    raw = data["config_json"]
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"Invalid config: config_json is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise BadRequest("Invalid config: config_json must be a JSON object")
    if "server" in raw:
        raise Forbidden("server block is file-only")
    return raw


def validated(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise BadRequest("Invalid request body")
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class AppListView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "page_size", int, description=f"1-{MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}"
            ),
            OpenApiParameter("page_token", str, description="next_page_token of the previous page"),
        ],
        responses=s.AppListSerializer,
    )
    def get(self, request: Request) -> Response:
        try:
            page_size = int(request.query_params.get("page_size", DEFAULT_PAGE_SIZE))
        except ValueError as exc:
            raise BadRequest("page_size must be an integer") from exc
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise BadRequest(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        apps = services.list_apps(after=request.query_params.get("page_token"), limit=page_size + 1)
        next_token = apps[page_size - 1].id if len(apps) > page_size else ""
        return Response(
            {
                "apps": [s.app_json(app) for app in apps[:page_size]],
                "next_page_token": next_token,
            }
        )

    @extend_schema(request=s.AppCreateSerializer, responses={201: s.AppCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = validated(s.AppCreateSerializer, request)
        created = services.create_app(
            name=data["name"],
            app_id=data.get("id"),
            description=data.get("description", ""),
            config=parse_config(data),
            issuer=issuer_for(request),
        )
        body = {
            "app": s.app_json(created.app),
            "access_token": created.access_token,
            "token_type": "bearer",
            "issuer": issuer_for(request),
        }
        return Response(body, status=201)


class AppDetailView(APIView):
    @extend_schema(responses=s.AppSerializer)
    def get(self, request: Request, app_id: str) -> Response:
        return Response(s.app_json(services.access_app(app_id)))

    @extend_schema(request=s.AppUpdateSerializer, responses=s.AppSerializer)
    def put(self, request: Request, app_id: str) -> Response:
        services.access_app(app_id)
        data = validated(s.AppUpdateSerializer, request)
        app = services.update_app(
            app_id=app_id,
            name=data.get("name"),
            description=data.get("description"),
            config=parse_config(data),
        )
        return Response(s.app_json(app))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, app_id: str) -> Response:
        services.delete_app(app_id=app_id)
        return Response(status=204)


class AppTokenView(APIView):
    @extend_schema(request=s.TokenRequestSerializer, responses=s.TokenSerializer)
    def post(self, request: Request, app_id: str) -> Response:
        services.access_app(app_id)
        data = validated(s.TokenRequestSerializer, request) if request.body else {}
        ttl_s = None
        if data.get("ttl"):
            try:
                ttl_s = int(parse_duration(data["ttl"]))
            except ValueError as exc:
                raise BadRequest(f"ttl: {exc}") from exc
            if ttl_s <= 0:
                raise BadRequest("ttl: must be positive")
        token = services.regenerate_token(
            app_id=app_id,
            issuer=issuer_for(request),
            ttl_s=ttl_s,
            revoke_previous=data.get("revoke_previous", True),
        )
        return Response(
            {"access_token": token, "token_type": "bearer", "issuer": issuer_for(request)}
        )


class JwksView(APIView):
    """Public: anyone may verify an app token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(auth.jwks())


class ReloadView(APIView):
    """Re-read the default app's config file now (as the watcher and SIGHUP do)."""

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request: Request) -> Response:
        body = request.data if request.body else {}
        if not isinstance(body, dict):
            raise BadRequest("Invalid request body")
        env = body.get("env") or {}
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise BadRequest("env: must be an object of string values")
        os.environ.update(env)
        result = reload_config_file(settings.HECTOR_CONFIG)
        if result.status == "error":
            raise BadRequest(f"Invalid config: {result.message}")
        return Response({"status": result.status, "message": result.message})
