"""Shared fixtures: one migrated database per run, the template schema, the default app."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import Client

from tests.factories import ADMIN_SECRET_CACHE


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Django's test-database setup renames the database but keeps a connection pool made
    before it: every pooled connection would still open the server's own database."""
    from django.db import connections

    for db in connections.all():
        db.close_pool()


@pytest.fixture(scope="session")
def django_db_setup(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[None]:
    """After pytest-django migrated the shared schema: template, default app, admin secret."""
    from apps.tenancy import auth
    from apps.tenancy.schemas import migrate_template
    from apps.tenancy.services import ensure_default_app

    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        migrate_template()
        ensure_default_app(config=None)
        auth.forget_cached_secret()
        ADMIN_SECRET_CACHE["secret"] = auth.ensure_admin_secret()
    yield
    # Connections this run left open (the pool's, database threads', a thread's of Channels)
    # would keep DROP DATABASE from running: the pool stops, whatever else is left is ended.
    db = connections[DEFAULT_DB_ALIAS]
    db.close()
    db.close_pool()
    with (
        django_db_blocker.unblock(),  # type: ignore[attr-defined]
        db._nodb_cursor() as cursor,
    ):
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            [db.settings_dict["NAME"]],
        )


@pytest.fixture
def admin_secret(db: None) -> str:
    secret = ADMIN_SECRET_CACHE["secret"]
    assert secret
    return secret


@pytest.fixture
def admin_client(admin_secret: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {admin_secret}"})


@pytest.fixture
def anon_client(db: None) -> Client:
    return Client()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Redis-backed tests run where Redis is (CI sets REDIS_URL when it answers); else skipped."""
    if os.environ.get("REDIS_URL"):
        return
    skip = pytest.mark.skip(reason="needs Redis: set REDIS_URL (.ci/run sets it if Redis answers)")
    for item in items:
        if "redis" in item.keywords:
            item.add_marker(skip)
