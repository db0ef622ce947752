"""The one gate of Studio pages: a staff session made by unlocking with the admin secret."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import urlencode

LOGIN_URL = "/studio/login/"


def studio_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Redirect to the unlock form without a Studio session (JSON callers get 401)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_authenticated and user.is_staff):
            if request.headers.get("Accept", "").startswith("application/json"):
                return HttpResponse(
                    b'{"error":"Unauthorized"}', status=401, content_type="application/json"
                )
            return HttpResponseRedirect(f"{LOGIN_URL}?{urlencode({'next': request.path})}")
        return view(request, *args, **kwargs)

    return wrapper
