"""Which pooled connections carry `synchronous_commit = off` for their session.

A database thread gives its connection the commit mode of the hop it runs
(`apps.tenancy.context.deferred_commits`). Should such a connection go back to the pool, the pool's
reset hook (settings) takes the setting off first, so no other user of the connection commits
asynchronously by surprise. Free of Django imports: the settings module names the hook.
"""

from __future__ import annotations

import weakref
from typing import Any

_deferred: weakref.WeakSet[Any] = weakref.WeakSet()


def mark(connection: Any, deferred: bool) -> None:
    if deferred:
        _deferred.add(connection)
    else:
        _deferred.discard(connection)


def is_deferred(connection: Any) -> bool:
    return connection in _deferred


def reset_returned(connection: Any) -> None:
    """psycopg_pool `reset` hook: runs on every connection given back to the pool."""
    if connection in _deferred:
        connection.execute("RESET synchronous_commit")
        _deferred.discard(connection)
