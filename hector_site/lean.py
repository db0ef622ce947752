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
from django.urls import Resolver404, ResolverMatch, URLResolver, get_resolver

from hector_site.middleware import DualMiddleware

__all__ = ["LeanViewMiddleware", "is_lean", "lean", "lean_route"]

V = TypeVar("V", bound=Callable[..., Awaitable[HttpResponse]])


def lean(view: V) -> V:
    """Mark an async view as needing only `request.principal` and `request.tenant`."""
    if not iscoroutinefunction(view):
        raise TypeError(f"{view.__qualname__}: only async views can be lean")
    view.lean = True  # type: ignore[attr-defined]
    return view


#: (resolver, path) -> the lean route or None; remembered because resolving walks every pattern
#: on each request. Keyed by the resolver object: a changed urlconf is a new resolver. Cleared
#: when full (paths with ids in them vary).
_routes: dict[tuple[URLResolver, str], ResolverMatch | None] = {}
_ROUTES_MAX = 4096


def lean_route(path_info: str, urlconf: str | None = None) -> ResolverMatch | None:
    """The route of a `@lean` view at `path_info` (no app prefix), or None. Views never change
    a match, so requests of one path share it."""
    resolver = get_resolver(urlconf)
    key = (resolver, path_info)
    try:
        return _routes[key]
    except KeyError:
        pass
    try:
        match: ResolverMatch | None = resolver.resolve(path_info)
    except Resolver404:
        match = None
    if match is not None and not getattr(match.func, "lean", False):
        match = None
    if len(_routes) >= _ROUTES_MAX:
        _routes.clear()
    _routes[key] = match
    return match


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
