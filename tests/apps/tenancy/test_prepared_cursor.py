"""`prepared_cursor`: the statements of every message's path run as prepared statements, in the
app's schema, with Django's errors."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.test import override_settings

from apps.tenancy.context import prepared_cursor

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_schemas() -> Iterator[None]:
    with connection.cursor() as cursor:
        for schema in ("prep_one", "prep_two"):
            cursor.execute(f"CREATE SCHEMA {schema}")
            cursor.execute(f"CREATE TABLE {schema}.item (id text PRIMARY KEY, note text)")
    yield
    connection.set_schema_to_public()


def _insert(item_id: str, note: str) -> None:
    with prepared_cursor() as cursor:
        cursor.execute(
            "INSERT INTO item (id, note) VALUES (%(id)s, %(note)s) RETURNING id",
            {"id": item_id, "note": note},
        )
        assert cursor.fetchone() == (item_id,)


def _notes(schema: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT note FROM {schema}.item ORDER BY id")
        return [note for (note,) in cursor.fetchall()]


def test_one_prepared_statement_serves_every_schema(two_schemas: None) -> None:
    """The plan names no schema: Postgres plans it again for each search path."""
    for index in range(3):
        for schema in ("prep_one", "prep_two"):
            connection.set_schema(schema)
            _insert(f"{index}", f"{schema} {index}")

    assert _notes("prep_one") == ["prep_one 0", "prep_one 1", "prep_one 2"]
    assert _notes("prep_two") == ["prep_two 0", "prep_two 1", "prep_two 2"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO item%%'"
        )
        assert cursor.fetchone() == (1,)


def test_errors_are_djangos(two_schemas: None) -> None:
    """Callers tell a clash by django.db.IntegrityError, whatever the cursor."""
    connection.set_schema("prep_one")
    _insert("same", "first")
    with pytest.raises(IntegrityError), transaction.atomic():
        _insert("same", "second")
    assert _notes("prep_one") == ["first"]


@override_settings(HECTOR_DB_PREPARED=False)
def test_without_prepared_statements_it_is_djangos_cursor() -> None:
    """Behind a pooler that cannot keep prepared statements (HECTOR_DB_PREPARED=0)."""
    with prepared_cursor() as cursor:
        assert isinstance(cursor.cursor, psycopg.ClientCursor)
        cursor.execute("SELECT %s::int + 1", [1])
        assert cursor.fetchone() == (2,)


def test_it_binds_on_the_server() -> None:
    with prepared_cursor() as cursor:
        assert not isinstance(cursor.cursor, psycopg.ClientCursor)
        cursor.execute("SELECT %s::int + 1", [41])
        assert cursor.fetchone() == (42,)
