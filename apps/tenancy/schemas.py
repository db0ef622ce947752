"""App schemas: naming, the migrated template, and cloning it into a new app's schema.

Migrating each new schema costs 0.5-0.75 s; copying the migrated template costs a few ms.
django-tenants' own clone function loses pgvector typmods (`vector(384)` becomes `vector`), which
breaks HNSW indexes, so the copy is rebuilt from the catalog here: `CREATE TABLE ... (LIKE ...)`
keeps column types with their typmods, and constraints and indexes are replayed from
`pg_get_constraintdef` / `pg_get_indexdef` so their names (which later migrations refer to) and
access methods survive. Template schemas hold only tables, identity sequences, constraints, indexes
and the rows written by migrations; views, triggers and functions are not copied (no migration
creates any).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

_READABLE_MAX = 59  # "app_" + 59 = 63, Postgres' identifier limit


def schema_name_for(app_id: str) -> str:
    """`app_<id>` with `-` as `_` (ids have no `_`, so the mapping is one-to-one)."""
    body = app_id.replace("-", "_")
    if len(body) > _READABLE_MAX:
        digest = hashlib.sha256(app_id.encode()).hexdigest()[:8]
        body = f"{body[:50]}_{digest}"
    return f"app_{body}"


def quote_ident(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a safe schema/table identifier: {name!r}")
    return f'"{name}"'


def template_schema() -> str:
    return settings.HECTOR_TEMPLATE_SCHEMA


def migrate_template(*, verbosity: int = 0) -> None:
    """Bring the template schema up to date with the tenant apps' migrations."""
    template = template_schema()
    with schema_context("public"), connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(template)}")
    call_command(
        "migrate_schemas",
        tenant=True,
        schema_name=template,
        interactive=False,
        verbosity=verbosity,
    )
    _PLAN_CACHE.clear()


@dataclass(frozen=True)
class ClonePlan:
    """The DDL and data statements that rebuild the template, with `{target}` for the new schema."""

    statements: tuple[str, ...]


_PLAN_CACHE: dict[tuple[str, str], ClonePlan] = {}


def clone_template(target: str) -> None:
    """Create schema `target` as a copy of the migrated template. Joins the caller's transaction."""
    template = template_schema()
    with schema_context("public"):
        plan = _clone_plan(template)
        sql = ";\n".join(s.replace("{target}", quote_ident(target)) for s in plan.statements)
        with connection.cursor() as cursor:
            cursor.execute(sql)


def drop_schema(schema: str) -> None:
    with schema_context("public"), connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")


def _fingerprint(cursor, template: str) -> str:  # type: ignore[no-untyped-def]
    cursor.execute(
        """
        SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = %s)::text
        """,
        [template],
    )
    objects = cursor.fetchone()[0]
    cursor.execute(
        f"SELECT count(*), coalesce(max(id), 0) FROM {quote_ident(template)}.django_migrations"
    )
    count, last = cursor.fetchone()
    return f"{objects}:{count}:{last}"


def _clone_plan(template: str) -> ClonePlan:
    if not schema_exists(template):
        raise RuntimeError(f"template schema {template!r} is missing: run `hector migrate` first")
    src = quote_ident(template)
    with connection.cursor() as cursor:
        key = (template, _fingerprint(cursor, template))
        if key in _PLAN_CACHE:
            return _PLAN_CACHE[key]
        statements: list[str] = ["CREATE SCHEMA {target}"]
        tables = _tables(cursor, template)
        for table in tables:
            statements.append(
                f'CREATE TABLE {{target}}."{table}" (LIKE {src}."{table}" INCLUDING DEFAULTS '
                "INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)"
            )
        statements += _constraint_statements(cursor, template, kinds=("p", "u", "c", "x"))
        statements += _index_statements(cursor, template)
        statements += _data_statements(cursor, template, tables)
        statements += _constraint_statements(cursor, template, kinds=("f",))
    plan = ClonePlan(tuple(statements))
    _PLAN_CACHE.clear()
    _PLAN_CACHE[key] = plan
    return plan


def _tables(cursor, template: str) -> list[str]:  # type: ignore[no-untyped-def]
    cursor.execute(
        """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname
        """,
        [template],
    )
    return [row[0] for row in cursor.fetchall()]


def _constraint_statements(cursor, template: str, *, kinds: tuple[str, ...]) -> list[str]:  # type: ignore[no-untyped-def]
    cursor.execute(
        """
        SELECT c.relname, con.conname, pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND con.contype = ANY(%s)
        ORDER BY array_position(%s, con.contype::text), c.relname, con.conname
        """,
        [template, list(kinds), list(kinds)],
    )
    statements = []
    for table, name, definition in cursor.fetchall():
        definition = _requalify(definition, template)
        statements.append(f'ALTER TABLE {{target}}."{table}" ADD CONSTRAINT "{name}" {definition}')
    return statements


def _index_statements(cursor, template: str) -> list[str]:  # type: ignore[no-untyped-def]
    cursor.execute(
        """
        SELECT pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = %s
          AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid
                          AND con.contype IN ('p', 'u', 'x'))
        ORDER BY 1
        """,
        [template],
    )
    return [_requalify(row[0], template) for row in cursor.fetchall()]


def _requalify(definition: str, template: str) -> str:
    """Point schema-qualified references at the template to the new schema."""
    pattern = re.compile(rf'(?<![\w"])("?){re.escape(template)}\1\.')
    return pattern.sub("{target}.", definition)


def _data_statements(cursor, template: str, tables: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """Copy the rows migrations wrote (django_migrations at least); move identity sequences on."""
    src = quote_ident(template)
    statements = []
    for table in tables:
        cursor.execute(f'SELECT EXISTS (SELECT 1 FROM {src}."{table}")')
        if not cursor.fetchone()[0]:
            continue
        statements.append(
            f'INSERT INTO {{target}}."{table}" OVERRIDING SYSTEM VALUE '
            f'SELECT * FROM {src}."{table}"'
        )
        cursor.execute(
            """
            SELECT column_name FROM information_schema.columns
            WHERE table_schema = %s AND table_name = %s AND is_identity = 'YES'
            """,
            [template, table],
        )
        for (column,) in cursor.fetchall():
            statements.append(
                f"SELECT setval(pg_get_serial_sequence('{{target}}.\"{table}\"', '{column}'), "
                f'(SELECT max("{column}") FROM {{target}}."{table}"))'
            )
    return statements
