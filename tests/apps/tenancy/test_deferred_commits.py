"""`deferred_commits`: the writes of hops made inside commit asynchronously, in the same round
trip, and the ORM still reads each write's own result."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from apps.tenancy.context import deferred_commits, in_schema
from apps.tenancy.models import AdminCredential

pytestmark = pytest.mark.django_db

# A write statement (it starts with WITH) that reports the commit mode it ran under.
MODE_OF_A_WRITE = "WITH probe AS (SELECT 1) SELECT current_setting('synchronous_commit')"
MODE_OF_A_READ = "SELECT current_setting('synchronous_commit')"


def _modes() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(MODE_OF_A_WRITE)
        write = cursor.fetchone()[0]
        cursor.execute(MODE_OF_A_READ)
        read = cursor.fetchone()[0]
    return write, read


async def _hop(fn: Any) -> Any:
    return await in_schema("public", fn)


def test_writes_commit_asynchronously_only_inside_the_scope() -> None:
    """On a database thread, in autocommit (as the server runs hops), each statement is its own
    transaction: the mode holds for the write it was sent with, and nothing after it."""

    async def scenario() -> list[tuple[str, str]]:
        seen = [await _hop(_modes)]
        with deferred_commits():
            seen.append(await _hop(_modes))
            with deferred_commits(False):
                seen.append(await _hop(_modes))
            seen.append(await _hop(_modes))
        seen.append(await _hop(_modes))
        return seen

    on, off = ("on", "on"), ("off", "on")  # reads are never changed
    assert asyncio.run(scenario()) == [on, off, on, off, on]


def test_orm_writes_read_their_own_results() -> None:
    """INSERT ... RETURNING, UPDATE's row count and executemany behave as without the scope."""

    def writes() -> tuple[int, int, list[str]]:
        created = AdminCredential.objects.create(secret_hash="a", secret_encrypted="x")
        updated = AdminCredential.objects.filter(pk=created.pk).update(secret_hash="b")
        table = AdminCredential._meta.db_table
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET secret_encrypted = %s WHERE id = %s",
                [("y", created.pk), ("z", -1)],
            )
        rows = AdminCredential.objects.filter(pk=created.pk)
        return created.pk, updated, list(rows.values_list("secret_hash", "secret_encrypted"))

    with deferred_commits():  # here under async_to_sync: on the test's own connection
        pk, updated, rows = async_to_sync(_hop)(writes)
    assert pk is not None
    assert updated == 1
    assert rows == [("b", "y")]
