"""A blocking send whose web process dies: kill -9 `hector serve` mid-run (its worker and beat
children die with it), start it again; the task completes once, its tool call not repeated."""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.conversations.models import Event
from apps.tasks.models import Checkpoint, TaskState
from apps.tasks.models import Task as TaskRow
from apps.tenancy.models import App
from tests.apps.tasks import durable
from tests.live_server import free_port

pytestmark = [pytest.mark.live, pytest.mark.django_db]

SECRET = "durable-web-test-secret"


@pytest.fixture(scope="module")
def fake() -> Iterator[durable.CountingFake]:
    server = durable.CountingFake()
    server.start()
    yield server
    server.release()
    server.stop()


@pytest.fixture(scope="module")
def web_app(task_bus: None, django_db_blocker: Any, fake: durable.CountingFake) -> Iterator[App]:
    from apps.tenancy.services import create_app, delete_app

    with django_db_blocker.unblock():
        created = create_app(
            name="durable-web",
            app_id="durable-web",
            config=durable.agent_config(fake.url),
            issuer="http://test",
        )
    try:
        yield created.app
    finally:
        with django_db_blocker.unblock():
            delete_app(app_id="durable-web")


def _serve(env: dict[str, str], port: int) -> durable.Proc:
    server = durable.start(env, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-watch")
    durable.wait_until(lambda: _healthy(port), timeout_s=60, what=f"serve\n{server.text()}")
    return server


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _rpc(port: int, app: App, method: str, params: dict[str, Any], timeout_s: float) -> Any:
    response = httpx.post(
        f"http://127.0.0.1:{port}/apps/{app.id}/agents/counter",
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
        headers={"Authorization": f"Bearer {SECRET}"},
        timeout=timeout_s,
    )
    return response.json()


def _tasks(app: App) -> list[TaskRow]:
    def read() -> list[TaskRow]:
        with schema_context(app.schema_name):
            return list(TaskRow.objects.all())

    return durable.committed(read)


def kill_the_web_process_mid_send(
    app: App, fake: durable.CountingFake, tmp_path: Path, broker_url: str | None
) -> None:
    calls = tmp_path / "calls.log"
    env = durable.process_env(
        app_id=app.id, data_dir=tmp_path, calls_file=calls, broker_url=broker_url
    )
    env["HECTOR_AUTH_SECRET"] = SECRET
    port = free_port()
    fake.reset()
    before = {t.id for t in _tasks(app)}

    def ours() -> list[TaskRow]:
        return [t for t in _tasks(app) if t.id not in before]

    message = {
        "role": "user",
        "parts": [{"kind": "text", "text": "task-web"}],
        "messageId": uuid.uuid4().hex,
        "kind": "message",
    }
    first = _serve(env, port)
    try:
        sender = threading.Thread(
            target=lambda: _swallow(
                lambda: _rpc(port, app, "message/send", {"message": message}, 60)
            ),
            daemon=True,
        )
        sender.start()
        durable.wait_until(
            lambda: durable.calls_in(calls) == ["task-web"] and fake.held == 1,
            timeout_s=30,
            what=f"the tool call and the held answer\n{first.text()}",
        )
    finally:
        first.kill()
    (task,) = ours()
    assert task.state == TaskState.WORKING
    assert task.lease_owner
    fake.release()
    durable.wait_until(
        lambda: all(t.lease_expires_at < timezone.now() for t in ours()),
        timeout_s=10,
        what="the dead process's lease to expire",
    )
    second = _serve(env, port)
    try:
        second.wait_for_output(" ready.", timeout_s=30)  # its worker
        durable.wait_until(
            lambda: ours()[0].state == TaskState.COMPLETED,
            timeout_s=30,
            what=f"the task completed\n{second.text()}",
        )
        seen = _rpc(port, app, "tasks/get", {"id": task.id}, 10)
    finally:
        second.stop()

    def evidence() -> tuple[int, list[str]]:
        with schema_context(app.schema_name):
            users = Event.objects.filter(session_id=task.context_id, role="user").count()
            kinds = Checkpoint.objects.filter(task_id=task.id).order_by("sequence")
            return users, list(kinds.values_list("kind", flat=True))

    user_events, kinds = durable.committed(evidence)
    (done,) = ours()
    assert seen["result"]["status"]["state"] == "completed"
    assert durable.calls_in(calls) == ["task-web"]  # not run again
    assert done.attempts == 2
    assert "lease of" in done.last_error
    assert done.artifacts[0]["parts"][0]["text"] == "done task-web"
    assert user_events == 1
    assert kinds == ["llm_turn", "tool_result", "final"]


def _swallow(call: Any) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server dies under it: that is the test
        call()


def test_a_blocking_send_survives_a_killed_web_process(
    web_app: App, fake: durable.CountingFake, tmp_path: Path
) -> None:
    kill_the_web_process_mid_send(web_app, fake, tmp_path, None)


@pytest.mark.redis
def test_a_blocking_send_survives_a_killed_web_process_with_redis(
    web_app: App, fake: durable.CountingFake, tmp_path: Path
) -> None:
    kill_the_web_process_mid_send(web_app, fake, tmp_path, os.environ["REDIS_URL"])
