"""Running ORM work for one app from async code.

django-tenants keeps the schema on the thread's connection and has no async support, so async code
never relies on whatever schema a thread happens to hold: each hop names its schema.

Where hops run. Inside `async_to_sync` (a Celery task, a management command, a test) a hop goes to
the calling thread, as asgiref's thread-sensitive mode wants: one connection, one transaction view.
Everywhere else (the server's event loop: requests, streams, background runs) hops go to a small
pool of database threads, each keeping its own connection. Not to the request's thread: a blocking
`message/send` would hold that thread's connection while its run waited for another one, and 20
concurrent sends drained the connection pool and deadlocked. Not to asgiref's one process-wide sync
thread either: that serialised every run's statements behind each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import psycopg
from asgiref.sync import AsyncToSync, sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.backends.utils import CursorWrapper
from django_tenants.utils import schema_context

from hector_site import commit_mode

P = ParamSpec("P")
T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def db_threads() -> int:
    """How many database threads this process runs hops on (each holds one pooled connection)."""
    return int(getattr(settings, "HECTOR_DB_THREADS", 8))


def _db_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(db_threads(), thread_name_prefix="hector-db")
    return _executor


async def in_schema(schema: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn` in a thread with the connection set to `schema`, restoring it afterwards."""

    def call() -> T:
        # Switch only when needed: every switch costs a `SET search_path` round trip, and hops of
        # one store follow each other on the same thread. Whoever runs next on this thread names
        # its own schema (middleware, in_schema, schema_context), so nothing relies on a reset.
        db = connections[DEFAULT_DB_ALIAS]
        if db.schema_name != schema:
            db.set_schema(schema)
        return fn(*args, **kwargs)

    loop = asyncio.get_running_loop()
    if _under_async_to_sync(loop):
        return await sync_to_async(call, thread_sensitive=True)()
    context = contextvars.copy_context()
    deferred = _commit_deferred.get()
    return await loop.run_in_executor(_db_executor(), context.run, _on_db_thread, call, deferred)


# --- Deferred commits ---------------------------------------------------------------------------

_commit_deferred: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "hector_commit_deferred", default=False
)


@contextlib.contextmanager
def deferred_commits(deferred: bool = True) -> Iterator[None]:
    """Writes of the hops made inside commit without waiting for their WAL flush.

    For writes nobody has been told about yet, followed by one that is: a blocking send's
    admission, and a run's session events and checkpoints, all followed by the write of the
    task's final (or interrupted) state, which commits synchronously before anyone hears of
    it. A synchronous commit flushes the WAL up to itself, so it makes every write before it
    durable too. Until then they are visible to every connection as usual and only a crash of
    Postgres itself (not of this process) within `wal_writer_delay` could lose them, with the
    answer they would have led to. Each saves a flush: the largest part of a commit's cost.
    `deferred=False` opens a scope of synchronous commits inside a deferred one.

    It applies to the hops of the server's database threads; hops run on the calling thread
    (under `async_to_sync`: a queue worker, a command, a test) always commit synchronously."""
    token = _commit_deferred.set(deferred)
    try:
        yield
    finally:
        _commit_deferred.reset(token)


def _set_commit_mode(deferred: bool) -> None:
    """Give this database thread's connection the hop's commit mode, for the whole session.

    A session setting and not `SET LOCAL` per write: with that, each write would need a second
    statement in its round trip, which prepared statements cannot carry. The connection is this
    thread's alone (hops run in autocommit, and it only goes back to the pool when it breaks),
    so the setting leaks to nobody (the pool's reset hook takes it off should the connection go
    back); a statement is sent only when the mode changes."""
    db = connections[DEFAULT_DB_ALIAS]  # one lookup: each `connection.x` is a context-local one
    db.ensure_connection()
    raw = db.connection
    if commit_mode.is_deferred(raw) == deferred:
        return
    statement = "SET synchronous_commit TO off" if deferred else "RESET synchronous_commit"
    with db.wrap_database_errors, raw.cursor() as cursor:
        cursor.execute(statement)
    commit_mode.mark(raw, deferred)


@contextlib.contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    """A cursor for the statements on every message's path. Server-side binding, prepared on
    first use (`HECTOR_DB_PREPARED`): Postgres parses and plans each statement once per
    connection instead of on every call, which was a third of its CPU per message. A prepared
    plan names no schema: Postgres plans it again when the search path (the app) changes.
    Parameters are typed as Postgres infers them, so a parameter used twice may need a cast.
    Without prepared statements it is Django's usual cursor."""
    db = connections[DEFAULT_DB_ALIAS]  # one lookup: each `connection.x` is a context-local one
    if not settings.HECTOR_DB_PREPARED:
        with db.cursor() as cursor:
            yield cursor
        return
    if not db.search_path_set_schemas:  # the app changed: django-tenants sets its search path
        db.cursor().close()  # on a new cursor of its own
    with db.wrap_database_errors:
        raw = psycopg.Cursor(db.connection)
    wrapped = db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)
    with wrapped as cursor:
        yield cursor


def _under_async_to_sync(loop: asyncio.AbstractEventLoop) -> bool:
    """This code (or the loop it runs on) was entered from a sync thread by `async_to_sync`."""
    current = getattr(AsyncToSync.executors, "current", None)
    return current is not None or loop in AsyncToSync.loop_thread_executors


def _on_db_thread(call: Callable[[], T], deferred: bool) -> T:
    """A database thread keeps its connection between hops; one broken by an error (a restart of
    Postgres, a killed backend) is dropped so the next hop gets a fresh one from the pool."""
    try:
        _set_commit_mode(deferred)
        return call()
    except DatabaseError:
        if connection.connection is not None and not connection.is_usable():
            connection.close()
        raise


def public_schema(fn: Callable[P, T]) -> Callable[P, T]:
    """Run a registry service in the public schema (django-tenants refuses elsewhere)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with schema_context("public"):
            return fn(*args, **kwargs)

    return wrapper
