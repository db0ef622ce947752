"""Fixtures for the Studio tests: a logged-in Studio client, apps with agents, committed apps for
the websocket tests (the consumer's ORM hops run on other threads, outside the test transaction)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from apps.tenancy.models import App
from tests.factories import make_app

STUDIO_CONFIG: dict[str, Any] = {
    "llms": {"default": {"provider": "ollama", "model": "qwen3", "base_url": "http://127.0.0.1:9"}},
    "agents": {
        "helper": {"llm": "default", "instruction": "Help.", "tools": ["lookup"]},
        "writer": {"llm": "default", "instruction": "Write."},
    },
    "tools": {"lookup": {"type": "function", "handler": "lookup"}},
}


@pytest.fixture
def studio(anon_client: Client, admin_secret: str) -> Client:
    """A browser-like client unlocked with the admin secret."""
    response = anon_client.post("/studio/login/", {"secret": admin_secret})
    assert response.status_code == 302
    return anon_client


@pytest.fixture
def app(db: None) -> App:
    """An app with two agents and a tool, rolled back with the test."""
    created, _token = make_app(name="studio test", app_id="studio-test", config=STUDIO_CONFIG)
    return created


def select(client: Client, app_id: str) -> None:
    response = client.post("/studio/apps/select/", {"app": app_id, "next": "/studio/"})
    assert response.status_code == 302, response.content


@pytest.fixture
def selected(studio: Client, app: App) -> Client:
    select(studio, app.id)
    return studio


@pytest.fixture(scope="session")
def studio_bus(django_db_setup: None) -> Iterator[None]:
    """Close the task bus's LISTEN connections before the test database is dropped."""
    yield
    from apps.tasks import bus

    bus.shutdown()


@pytest.fixture(scope="module")
def committed_app(
    studio_bus: None, django_db_blocker: Any, request: pytest.FixtureRequest
) -> Iterator[App]:
    """A committed app for websocket tests, deleted (schema and all) after the module."""
    from apps.tenancy.services import create_app, delete_app

    app_id = f"ws-{request.module.__name__.rsplit('.', 1)[-1].replace('_', '-')}"[:40]
    with django_db_blocker.unblock():
        with contextlib.suppress(Exception):  # left over from an interrupted run
            delete_app(app_id=app_id)
        created = create_app(name=app_id, app_id=app_id, config=STUDIO_CONFIG, issuer="http://t")
    try:
        yield created.app
    finally:
        with django_db_blocker.unblock():
            delete_app(app_id=app_id)
