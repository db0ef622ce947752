"""Fixtures for the Studio tests: a logged-in Studio client, apps with agents, committed apps for
the websocket tests (the consumer's ORM hops run on other threads, outside the test transaction),
and helpers to talk to the chat socket."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
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


@contextlib.contextmanager
def committed(django_db_blocker: Any, app_id: str, config: dict[str, Any]) -> Iterator[App]:
    """A committed app, deleted (schema and all) at the end of the block."""
    from apps.tenancy.services import create_app, delete_app

    with django_db_blocker.unblock():
        with contextlib.suppress(Exception):  # left over from an interrupted run
            delete_app(app_id=app_id)
        created = create_app(name=app_id, app_id=app_id, config=config, issuer="http://t")
    try:
        yield created.app
    finally:
        with django_db_blocker.unblock():
            delete_app(app_id=app_id)


@pytest.fixture(scope="module")
def committed_app(
    studio_bus: None, django_db_blocker: Any, request: pytest.FixtureRequest
) -> Iterator[App]:
    """A committed app for websocket tests, deleted after the module."""
    app_id = f"ws-{request.module.__name__.rsplit('.', 1)[-1].replace('_', '-')}"[:40]
    with committed(django_db_blocker, app_id, STUDIO_CONFIG) as app:
        yield app


# --- the chat websocket -------------------------------------------------------------------------

CHAT_PATH = "/ws/studio/chat"
TIMEOUT_S = 10


@pytest.fixture(scope="module")
def cookie(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """A Studio session cookie for a committed staff user (the socket loads it on its thread)."""
    from django.contrib.auth import get_user_model

    with django_db_blocker.unblock():
        user, _ = get_user_model().objects.get_or_create(
            username="studio-ws", defaults={"is_staff": True, "is_superuser": True}
        )
        client = Client()
        client.force_login(user)
    yield client.cookies["hector_studio"].value
    with django_db_blocker.unblock():
        user.delete()


def headers(cookie: str | None, origin: str = "http://testserver") -> list[tuple[bytes, bytes]]:
    pairs = [(b"host", b"testserver"), (b"origin", origin.encode())]
    if cookie is not None:
        pairs.append((b"cookie", f"hector_studio={cookie}".encode()))
    return pairs


def socket(cookie: str | None, **kwargs: Any) -> WebsocketCommunicator:
    from hector_site.asgi import application

    return WebsocketCommunicator(application, CHAT_PATH, headers=headers(cookie, **kwargs))


async def frames_until_trace(communicator: WebsocketCommunicator) -> list[dict[str, Any]]:
    """Frames of one turn: its A2A events, then the trace (or an error)."""
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["type"] not in ("trace", "error"):
        frames.append(await communicator.receive_json_from(timeout=TIMEOUT_S))
    return frames


def a2a(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [frame["payload"] for frame in frames if frame["type"] == "a2a"]


def data_parts(events: list[dict[str, Any]], hector_type: str) -> list[dict[str, Any]]:
    return [
        part["data"]
        for event in events
        if event.get("kind") == "status-update" and event["status"].get("message")
        for part in event["status"]["message"]["parts"]
        if part.get("kind") == "data" and part["data"].get("hector_type") == hector_type
    ]
