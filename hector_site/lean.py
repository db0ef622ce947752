"""Lean routes: async views that need nothing from the middleware below the tenant resolver.

The A2A endpoints authenticate by bearer token (TenantMiddleware) and answer JSON or SSE: no
session, cookie, CSRF token, user or message store. Under ASGI each Django `MiddlewareMixin` hook
is a hop to a thread and back, about a dozen per request, which costs more CPU than the A2A call
itself. `LeanViewMiddleware` calls a view marked `@lean` directly, applying the security headers
inline (`SecurityMiddleware`'s hooks do no I/O), and passes every other request down the chain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.middleware.security import SecurityMiddleware
from django.urls import Resolver404, ResolverMatch, get_resolver

from hector_site.middleware import DualMiddleware

__all__ = ["LeanViewMiddleware", "is_lean", "lean", "lean_route"]

V = TypeVar("V", bound=Callable[..., Awaitable[HttpResponse]])


def lean(view: V) -> V:
    """Mark an async view as needing only `request.principal` and `request.tenant`."""
    if not iscoroutinefunction(view):
        raise TypeError(f"{view.__qualname__}: only async views can be lean")
    view.lean = True  # type: ignore[attr-defined]
    return view


def lean_route(path_info: str, urlconf: str | None = None) -> ResolverMatch | None:
    """The route of a `@lean` view at `path_info` (no app prefix), or None."""
    try:
        match = get_resolver(urlconf).resolve(path_info)
    except Resolver404:
        return None
    return match if getattr(match.func, "lean", False) else None


def _lean_match(request: HttpRequest) -> ResolverMatch | None:
    """The route of a `@lean` view, or None; resolved once per request (the tenant middleware
    asks first, to know whether sync code will need the thread's connection)."""
    cached: tuple[str, ResolverMatch | None] | None = getattr(request, "_lean_match", None)
    if cached is not None and cached[0] == request.path_info:
        return cached[1]
    match = lean_route(request.path_info, getattr(request, "urlconf", None))
    request._lean_match = (request.path_info, match)  # type: ignore[attr-defined]
    return match


def is_lean(request: HttpRequest) -> bool:
    return _lean_match(request) is not None


def _unused(request: HttpRequest) -> HttpResponse:
    raise AssertionError("SecurityMiddleware is only used for its hooks here")


class LeanViewMiddleware(DualMiddleware):
    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        self.security = SecurityMiddleware(_unused)

    def _call(self, request: HttpRequest) -> HttpResponse:
        # The test client and WSGI: the full chain, nothing to save.
        response: HttpResponse = self.get_response(request)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        match = _lean_match(request)
        if match is None:
            response: HttpResponse = await self.get_response(request)
            return response
        redirect = self.security.process_request(request)
        if redirect is not None:
            return redirect
        request.resolver_match = match
        response = await match.func(request, *match.args, **match.kwargs)
        return self.security.process_response(request, response)
