"""The shape of our middlewares: a sync and an async path, chosen once by what lies below.

Django adapts a middleware that cannot run async with a thread hop per request, and one sync-only
middleware turns every middleware above it sync as well. Ours therefore all offer both paths.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

__all__ = ["DualMiddleware"]


class DualMiddleware:
    """Subclasses write `_call` (the test client, WSGI) and `_acall` (ASGI)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        return self._acall(request) if self.is_async else self._call(request)

    def _call(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError
