"""Running ORM work for one app from async code.

django-tenants keeps the schema on the thread's connection and has no async support, so async code
never relies on whatever schema a thread happens to hold: each hop names its schema.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connection
from django_tenants.utils import schema_context

P = ParamSpec("P")
T = TypeVar("T")


async def in_schema(schema: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn` in a thread with the connection set to `schema`, restoring it afterwards."""

    def call() -> T:
        # Switch only when needed: every switch costs a `SET search_path` round trip, and hops of
        # one store follow each other on the same thread. Whoever runs next on this thread names
        # its own schema (middleware, in_schema, schema_context), so nothing relies on a reset.
        if connection.schema_name != schema:
            connection.set_schema(schema)
        return fn(*args, **kwargs)

    return await sync_to_async(call, thread_sensitive=True)()


def public_schema(fn: Callable[P, T]) -> Callable[P, T]:
    """Run a registry service in the public schema (django-tenants refuses elsewhere)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with schema_context("public"):
            return fn(*args, **kwargs)

    return wrapper
