"""DRF glue: the middleware has already authenticated the caller; these read its verdict."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.tenancy.auth import ANONYMOUS, Principal


class HectorAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Principal, None] | None:
        principal: Principal = getattr(request._request, "principal", ANONYMOUS)
        return (principal, None) if principal.is_authenticated else None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="hector"'


class IsAdmin(BasePermission):
    """The admin secret only: app (and OIDC) tokens get 403, no credential 401."""

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, Principal) or not principal.is_authenticated:
            raise exceptions.NotAuthenticated()
        if not principal.is_admin:
            raise exceptions.PermissionDenied()
        return True
