"""AC 8.a with real processes: kill -9 a worker mid-task, start another; every task completes
exactly once and no completed tool call runs again (counted across processes).

Everything the workers must see is written on threads of its own (`durable.committed`), outside
the test's transaction.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.conversations.models import Event
from apps.tasks import queue
from apps.tasks.models import Checkpoint, TaskState
from apps.tasks.models import Task as TaskRow
from apps.tasks.service import TaskService
from apps.tenancy.models import App
from tests.apps.tasks import durable
from tests.apps.tasks.helpers import drive, user_message

pytestmark = [pytest.mark.live, pytest.mark.django_db]

TASKS = 3


@pytest.fixture(scope="module")
def fake() -> Iterator[durable.CountingFake]:
    server = durable.CountingFake()
    server.start()
    yield server
    server.release()
    server.stop()


@pytest.fixture(scope="module")
def durable_app(
    task_bus: None, django_db_blocker: Any, fake: durable.CountingFake
) -> Iterator[App]:
    from apps.tenancy.services import create_app, delete_app

    with django_db_blocker.unblock():
        created = create_app(
            name="durable-worker",
            app_id="durable-worker",
            config=durable.agent_config(fake.url),
            issuer="http://test",
        )
    try:
        yield created.app
    finally:
        with django_db_blocker.unblock():
            delete_app(app_id="durable-worker")


def _rows(app: App, ids: list[str]) -> list[TaskRow]:
    def read() -> list[TaskRow]:
        with schema_context(app.schema_name):
            return list(TaskRow.objects.filter(id__in=ids).order_by("id"))

    return durable.committed(read)


def _send(app: App, n: int) -> str:
    service = TaskService(app)
    message = user_message(f"task-{n}")
    task = durable.committed(
        lambda: drive(
            lambda: service.send(agent="counter", user_id="ann", message=message, blocking=False)
        )
    )
    assert task.status.state == "submitted"
    return str(task.id)


def kill_a_worker_mid_task(
    app: App,
    fake: durable.CountingFake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    broker_url: str | None,
) -> None:
    calls = tmp_path / "calls.log"
    env = durable.process_env(
        app_id=app.id, data_dir=tmp_path, calls_file=calls, broker_url=broker_url
    )
    fake.reset()
    with durable.celery_publisher(tmp_path, broker_url) as publisher:
        monkeypatch.setattr(queue, "uses_workers", lambda: True)
        monkeypatch.setattr(queue, "_celery", lambda: publisher)
        first = durable.start_worker(env)
        try:
            ids = [_send(app, n) for n in range(TASKS)]
            # Mid-task: every task ran its tool, and waits on its answer.
            durable.wait_until(
                lambda: len(durable.calls_in(calls)) == TASKS and fake.held == TASKS,
                timeout_s=30,
                what=f"{TASKS} tool calls and {TASKS} held answers\n{first.text()}",
            )
            # It boots while the first dies and its leases run out.
            second = durable.start(env, "worker")
        finally:
            first.kill()
        try:
            held = [r for r in _rows(app, ids) if r.state == TaskState.WORKING and r.lease_owner]
            assert len(held) == TASKS  # the dead worker still holds them
            fake.release()
            durable.wait_until(
                lambda: all(r.lease_expires_at < timezone.now() for r in _rows(app, ids)),
                timeout_s=10,
                what="the dead worker's leases to expire",
            )
            second.wait_for_output(" ready.", timeout_s=30)
            # What beat sends every minute (the second's start-up recovery may have come first).
            publisher.send_task("hector.queue.recover")
            durable.wait_until(
                lambda: all(r.state == TaskState.COMPLETED for r in _rows(app, ids)),
                timeout_s=30,
                what="every task completed",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- second worker:\n{second.text()}") from None
        finally:
            second.kill()

    rows = _rows(app, ids)

    def evidence() -> tuple[int, dict[str, list[str]]]:
        with schema_context(app.schema_name):
            sessions = [r.context_id for r in rows]
            users = Event.objects.filter(session_id__in=sessions, role="user").count()
            kinds = {
                r.id: list(
                    Checkpoint.objects.filter(task_id=r.id)
                    .order_by("sequence")
                    .values_list("kind", flat=True)
                )
                for r in rows
            }
        return users, kinds

    user_events, kinds = durable.committed(evidence)
    assert sorted(durable.calls_in(calls)) == sorted(f"task-{n}" for n in range(TASKS))
    assert all(r.attempts == 2 and not r.dead_lettered_at for r in rows)
    assert all("lease of" in r.last_error for r in rows)  # the lost attempt is on record
    answers = sorted(r.artifacts[0]["parts"][0]["text"] for r in rows)
    assert answers == sorted(f"done task-{n}" for n in range(TASKS))
    assert user_events == TASKS  # resumed, not restarted: each message stored once
    assert all(k == ["llm_turn", "tool_result", "final"] for k in kinds.values()), kinds


def test_a_killed_worker_s_tasks_complete_once_on_another_worker(
    durable_app: App,
    fake: durable.CountingFake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kill_a_worker_mid_task(durable_app, fake, tmp_path, monkeypatch, None)


@pytest.mark.redis
def test_a_killed_worker_s_tasks_complete_once_on_another_worker_with_redis(
    durable_app: App,
    fake: durable.CountingFake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = os.environ["REDIS_URL"]
    kill_a_worker_mid_task(durable_app, fake, tmp_path, monkeypatch, broker)
