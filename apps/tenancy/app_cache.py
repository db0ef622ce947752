"""Apps by id, held for a moment: every request resolves its app, and App rows rarely change.

Saving or deleting an App through the ORM forgets it in this process at once (signals, wired in
`TenancyConfig.ready`); other processes see the change within `HECTOR_APP_CACHE_TTL_S` (2 s by
default), which bounds how long a revoked app token or a new config revision can lag there.
Misses are not cached, so an app created elsewhere is reachable at once.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings

from apps.tenancy.models import App

__all__ = ["AppCache", "NeedsDatabase", "app_cache", "cache_only", "refuse_database"]

DEFAULT_TTL_S = 2.0


class NeedsDatabase(Exception):
    """Raised under `cache_only()` where a query would be needed: the caller does the work
    again where it may query (a thread)."""


_cache_only: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "hector_cache_only", default=False
)


@contextmanager
def cache_only() -> Iterator[None]:
    """Resolve from caches only, on the event loop: a miss raises `NeedsDatabase` instead of
    querying. Spares the common request (caches warm) a hop to a thread and back."""
    token = _cache_only.set(True)
    try:
        yield
    finally:
        _cache_only.reset(token)


def refuse_database() -> None:
    """Call before a query that a cache could not spare."""
    if _cache_only.get():
        raise NeedsDatabase


class AppCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, App]] = {}

    @property
    def ttl_s(self) -> float:
        return float(getattr(settings, "HECTOR_APP_CACHE_TTL_S", DEFAULT_TTL_S))

    def get(self, app_id: str) -> App | None:
        """The app, from the cache while fresh, else from the public schema (sync: ORM)."""
        now = time.monotonic()
        entry = self._entries.get(app_id)
        if entry is not None and now - entry[0] < self.ttl_s:
            return entry[1]
        refuse_database()
        app = App.objects.filter(pk=app_id).first()
        with self._lock:
            if app is None:
                self._entries.pop(app_id, None)
            else:
                self._entries[app_id] = (now, app)
        return app

    def cached(self, app_id: str) -> App | None:
        """The fresh cached app without touching the database, or None (async callers)."""
        entry = self._entries.get(app_id)
        if entry is not None and time.monotonic() - entry[0] < self.ttl_s:
            return entry[1]
        return None

    def forget(self, app_id: str | None = None) -> None:
        with self._lock:
            if app_id is None:
                self._entries.clear()
            else:
                self._entries.pop(app_id, None)


app_cache = AppCache()


def forget_app(sender: type[App], instance: App, **_: Any) -> None:
    """post_save / post_delete receiver."""
    app_cache.forget(instance.pk)
