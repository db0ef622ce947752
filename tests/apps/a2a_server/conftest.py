"""Fixtures for the A2A endpoint tests: committed apps, an ASGI client, a scripted task service.

The endpoints run through the real ASGI stack (tenant middleware included) with httpx's ASGI
transport; their task service is replaced by `FakeTaskService`, so these tests pin the wire
layer (parsing, dispatch, rendering, errors, SSE) independently of the task runtime. The real
service is exercised over a socket in `test_interop.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from agents.content import TextPart
from agents.tasks import (
    ArtifactUpdate,
    PushConfig,
    StatusUpdate,
    Task,
    TaskArtifact,
    TaskMessage,
    TaskNotCancelable,
    TaskNotFound,
    TaskPage,
    TaskStatus,
    TaskUpdate,
)
from apps.a2a_server import cards, catalog, views

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
APP_ID = "a2a-views"
OTHER_APP_ID = "a2a-other"
VIEWS_CONFIG: dict[str, Any] = {
    "llms": {"default": {"provider": "ollama", "model": "qwen3"}},
    "agents": {
        "assistant": {"llm": "default", "description": "Helps.", "input_modes": ["text/plain"]},
        "staff": {"llm": "default", "visibility": "internal"},
        "secret": {"llm": "default", "visibility": "private"},
        "quiet": {
            "llm": "default",
            "streaming": False,
            "input_modes": ["text/plain", "image/*"],
            "skills": [{"id": "s1", "name": "Summaries", "tags": ["text"], "examples": ["Sum"]}],
        },
    },
}
OTHER_CONFIG: dict[str, Any] = {
    "llms": {"default": {"provider": "ollama"}},
    "agents": {"elsewhere": {"llm": "default"}},
}


@dataclass
class Apps:
    token: str
    other_token: str


@pytest.fixture(scope="module")
def apps(django_db_setup: None, django_db_blocker: Any) -> Iterator[Apps]:
    """Committed apps: the ASGI handler's threads use their own connections, not the test's."""
    from apps.tenancy.services import create_app, delete_app

    with django_db_blocker.unblock():
        for app_id in (APP_ID, OTHER_APP_ID):
            with contextlib.suppress(Exception):  # left over from an interrupted run
                delete_app(app_id=app_id)
        mine = create_app(name=APP_ID, app_id=APP_ID, config=VIEWS_CONFIG, issuer="http://t")
        other = create_app(
            name=OTHER_APP_ID, app_id=OTHER_APP_ID, config=OTHER_CONFIG, issuer="http://t"
        )
    try:
        yield Apps(mine.access_token, other.access_token)
    finally:
        with django_db_blocker.unblock():
            delete_app(app_id=APP_ID)
            delete_app(app_id=OTHER_APP_ID)


def make_task(
    state: str = "completed",
    *,
    task_id: str = "task-1",
    text: str = "Hello!",
    history: tuple[TaskMessage, ...] = (),
) -> Task:
    artifacts = (TaskArtifact("response", (TextPart(text),), name="response"),) if text else ()
    return Task(
        id=task_id,
        context_id="ctx-1",
        agent="assistant",
        user_id="default",
        status=TaskStatus(state, NOW),  # type: ignore[arg-type]
        history=history,
        artifacts=artifacts,
    )


def stream_script(task_id: str = "task-1") -> list[TaskUpdate]:
    return [
        make_task("submitted", task_id=task_id, text=""),
        StatusUpdate(task_id, "ctx-1", TaskStatus("working", NOW)),
        ArtifactUpdate(
            task_id, "ctx-1", TaskArtifact("response", (TextPart("Hel"),)), append=False
        ),
        ArtifactUpdate(task_id, "ctx-1", TaskArtifact("response", (TextPart("lo"),)), append=True),
        StatusUpdate(task_id, "ctx-1", TaskStatus("completed", NOW), final=True),
    ]


@dataclass
class FakeTaskService:
    """Scripted stand-in for `apps.tasks.service.TaskService`; records every call."""

    app_id: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    tasks: dict[str, Task] = field(default_factory=lambda: {"task-1": make_task()})
    script: list[TaskUpdate] = field(default_factory=stream_script)
    event_delay_s: float = 0.0
    push_configs: dict[str, PushConfig] = field(default_factory=dict)
    fail_with: Exception | None = None
    stream_closed: asyncio.Event = field(default_factory=asyncio.Event)

    def _record(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))
        if self.fail_with is not None:
            raise self.fail_with

    def _task(self, task_id: str) -> Task:
        if task_id not in self.tasks:
            raise TaskNotFound(task_id)
        return self.tasks[task_id]

    async def send(self, **kwargs: Any) -> Task:
        self._record("send", **kwargs)
        return self.tasks["task-1"]

    async def stream(self, **kwargs: Any) -> AsyncIterator[TaskUpdate]:
        self._record("stream", **kwargs)
        try:
            for event in self.script:
                if self.event_delay_s:
                    await asyncio.sleep(self.event_delay_s)
                yield event
        finally:
            self.stream_closed.set()

    async def get(self, task_id: str, **kwargs: Any) -> Task:
        self._record("get", task_id=task_id, **kwargs)
        return self._task(task_id)

    async def list(self, **kwargs: Any) -> TaskPage:
        self._record("list", **kwargs)
        tasks = tuple(self.tasks.values())
        return TaskPage(tasks=tasks, next_page_token="", total_size=len(tasks))

    async def cancel(self, task_id: str, **kwargs: Any) -> Task:
        self._record("cancel", task_id=task_id, **kwargs)
        task = self._task(task_id)
        if task.is_terminal:
            raise TaskNotCancelable(task_id, task.status.state)
        return make_task("canceled", task_id=task_id)

    async def subscribe(self, task_id: str, **kwargs: Any) -> AsyncIterator[TaskUpdate]:
        self._record("subscribe", task_id=task_id, **kwargs)
        task = self._task(task_id)
        if task.is_terminal:
            yield task
            return
        for event in self.script[1:]:
            yield event

    async def set_push_config(self, task_id: str, config: PushConfig, **kw: Any) -> PushConfig:
        self._record("set_push_config", task_id=task_id, config=config, **kw)
        self._task(task_id)
        self.push_configs[config.id] = config
        return config

    async def get_push_config(
        self, task_id: str, config_id: str | None = None, **kw: Any
    ) -> PushConfig:
        self._record("get_push_config", task_id=task_id, config_id=config_id, **kw)
        self._task(task_id)
        if config_id is None:
            return next(iter(self.push_configs.values()))
        return self.push_configs[config_id]

    async def list_push_configs(self, task_id: str, **kw: Any) -> list[PushConfig]:
        self._record("list_push_configs", task_id=task_id, **kw)
        self._task(task_id)
        return list(self.push_configs.values())

    async def delete_push_config(self, task_id: str, config_id: str, **kw: Any) -> None:
        self._record("delete_push_config", task_id=task_id, config_id=config_id, **kw)
        self._task(task_id)
        self.push_configs.pop(config_id, None)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> FakeTaskService:
    fake = FakeTaskService()

    def factory(app: Any) -> FakeTaskService:
        fake.app_id = app.id
        return fake

    monkeypatch.setattr(views, "task_service", factory)
    return fake


@pytest.fixture
async def client(apps: Apps) -> AsyncIterator[httpx.AsyncClient]:
    from hector_site.asgi import application

    catalog.forget()
    cards.forget()
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def rpc(method: str, params: dict[str, Any] | None = None, rpc_id: Any = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": rpc_id, "method": method}
    if params is not None:
        body["params"] = params
    return body


def message(text: str = "Hello", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "message",
        "messageId": "m-1",
        "role": "user",
        "parts": [{"kind": "text", "text": text}],
        **extra,
    }


def sse_payloads(text: str) -> list[dict[str, Any]]:
    import json

    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
