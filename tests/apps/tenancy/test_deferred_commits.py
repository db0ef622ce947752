"""`deferred_commits`: hops made inside the scope, on the server's database threads, run on a
connection whose session commits without waiting for the WAL flush; everything else commits
synchronously, and a connection given back to the pool loses the setting."""

from __future__ import annotations

import asyncio
import os

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection

from apps.tenancy.context import deferred_commits, in_schema
from hector_site import commit_mode

pytestmark = pytest.mark.django_db


def _mode() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit')")
        return str(cursor.fetchone()[0])


async def _hop() -> str:
    return await in_schema("public", _mode)


def test_database_threads_take_the_mode_of_each_hop() -> None:
    """Eight threads, each switching only when its hop's mode differs from its connection's."""

    async def scenario() -> list[str]:
        seen = [await _hop()]
        with deferred_commits():
            seen += await asyncio.gather(*(_hop() for _ in range(16)))
            with deferred_commits(False):
                seen += await asyncio.gather(*(_hop() for _ in range(16)))
            seen.append(await _hop())
        seen += await asyncio.gather(*(_hop() for _ in range(16)))
        return seen

    seen = asyncio.run(scenario())
    assert seen == ["on"] + ["off"] * 16 + ["on"] * 16 + ["off"] + ["on"] * 16


def test_hops_on_the_calling_thread_commit_synchronously() -> None:
    """Under async_to_sync (a worker, a command) the hop runs on the caller's own connection,
    which may be inside the caller's transaction: it is never switched."""

    async def scenario() -> str:
        with deferred_commits():
            return await _hop()

    assert async_to_sync(scenario)() == "on"


def test_a_connection_back_in_the_pool_commits_synchronously_again() -> None:
    connection.ensure_connection()
    raw = connection.connection
    raw.execute("SET synchronous_commit TO off")
    commit_mode.mark(raw, True)

    commit_mode.reset_returned(raw)

    assert _mode() == "on"
    assert not commit_mode.is_deferred(raw)
    commit_mode.reset_returned(raw)  # not deferred: nothing sent, nothing fails


def test_the_pool_runs_the_reset_hook() -> None:
    """With a pool (the default, HECTOR_DB_POOL_MAX=20) the hook is installed; without one
    (HECTOR_DB_POOL_MAX=0) connections are closed, never given back, and none is needed."""
    pool = settings.DATABASES["default"]["OPTIONS"].get("pool")
    assert pool is None or pool["reset"] is commit_mode.reset_returned
    assert pool is not None or os.environ.get("HECTOR_DB_POOL_MAX") == "0"
