"""Apps for the task tests, committed once per module (their schemas are cloned outside the
test transaction); each test's task rows still roll back with its transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from apps.tenancy.models import App
from tests.fakes.ollama_server import Fake
from tests.fakes.script import Script


@pytest.fixture(scope="session")
def task_bus(django_db_setup: None) -> Iterator[None]:
    """Close the bus's LISTEN connections before the test database is dropped (an open
    connection makes DROP DATABASE fail)."""
    yield
    from apps.tasks import bus

    bus.shutdown()


def app_config(base_url: str = "http://127.0.0.1:9") -> dict[str, Any]:
    return {
        "llms": {"default": {"provider": "ollama", "model": "qwen3", "base_url": base_url}},
        "agents": {
            "assistant": {"llm": "default", "instruction": "You are helpful."},
            "toolbox": {"llm": "default", "instruction": "Use tools.", "tools": ["lookup"]},
            "reporter": {
                "llm": "default",
                "instruction": "Report.",
                "output_schema": {
                    "type": "object",
                    "properties": {"ok": {"type": "boolean"}},
                    "required": ["ok"],
                },
            },
        },
        "tools": {"lookup": {"type": "function", "handler": "lookup"}},
    }


@pytest.fixture(scope="module")
def fake_llm_server() -> Iterator[Fake]:
    server = Fake(Script())
    server.start()
    yield server
    server.stop()


def _committed_app(blocker: Any, app_id: str, config: dict[str, Any]) -> Iterator[App]:
    from apps.tenancy.services import create_app, delete_app

    with blocker.unblock():
        created = create_app(name=app_id, app_id=app_id, config=config, issuer="http://test")
    try:
        yield created.app
    finally:
        with blocker.unblock():
            delete_app(app_id=app_id)


@pytest.fixture(scope="module")
def task_app(
    task_bus: None, django_db_blocker: Any, fake_llm_server: Fake, request: pytest.FixtureRequest
) -> Iterator[App]:
    """An app whose `default` LLM is the module's fake Ollama server."""
    app_id = f"tasks-{request.module.__name__.rsplit('.', 1)[-1].replace('_', '-')}"[:40]
    yield from _committed_app(django_db_blocker, app_id, app_config(fake_llm_server.url))


@pytest.fixture(scope="module")
def other_app(
    task_bus: None, django_db_blocker: Any, request: pytest.FixtureRequest
) -> Iterator[App]:
    app_id = f"other-{request.module.__name__.rsplit('.', 1)[-1].replace('_', '-')}"[:40]
    yield from _committed_app(django_db_blocker, app_id, app_config())
