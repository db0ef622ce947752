"""`TaskService.send`: blocking and non-blocking, through a real provider SDK and its wire fake."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from agents.content import DataPart, TextPart
from agents.tasks import InvalidParams, StatusUpdate, Task
from apps.tasks import bus, rows
from apps.tasks.codec import update_from_json
from apps.tasks.service import TaskService
from apps.tenancy import context
from apps.tenancy.context import deferred_commits, in_schema
from apps.tenancy.models import App
from tests.apps.tasks.helpers import drive, eventually, user_message
from tests.fakes.ollama_server import Fake
from tests.fakes.script import Failure, Reply

pytestmark = pytest.mark.django_db


def test_blocking_send_completes_with_the_response_artifact_and_history(
    task_app: App, fake_llm_server: Fake
) -> None:
    fake_llm_server.script.extend([Reply(text=["Hel", "lo ", "there"])])
    service = TaskService(task_app)

    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message("Hi")))

    assert task.status.state == "completed"
    assert [a.artifact_id for a in task.artifacts] == ["response"]
    assert task.artifacts[0].parts == (TextPart("Hello there"),)
    assert [(m.role, m.parts) for m in task.history] == [
        ("user", (TextPart("Hi"),)),
        ("agent", (TextPart("Hello there"),)),
    ]
    assert all(m.task_id == task.id and m.context_id == task.context_id for m in task.history)
    stored = drive(lambda: service.get(task.id))
    assert stored.status.state == "completed"
    assert stored.history == task.history
    assert stored.artifacts == task.artifacts


def test_history_length_trims_the_returned_history(task_app: App, fake_llm_server: Fake) -> None:
    fake_llm_server.script.extend([Reply(text="one"), Reply(text="two")])
    service = TaskService(task_app)

    none = drive(
        lambda: service.send(
            agent="assistant", user_id="ann", message=user_message("Hi"), history_length=0
        )
    )
    last = drive(
        lambda: service.send(
            agent="assistant", user_id="ann", message=user_message("Hi"), history_length=1
        )
    )

    assert none.history == ()
    assert [m.role for m in last.history] == ["agent"]
    assert len(drive(lambda: service.get(last.id)).history) == 2
    with pytest.raises(InvalidParams) as error:
        drive(lambda: service.get(last.id, history_length=-1))
    assert error.value.data == {"fields": ["historyLength"]}


def test_a_context_id_continues_the_session(task_app: App, fake_llm_server: Fake) -> None:
    fake_llm_server.script.extend([Reply(text="Nice to meet you"), Reply(text="You are Ann")])
    service = TaskService(task_app)

    first = drive(
        lambda: service.send(agent="assistant", user_id="ann", message=user_message("I am Ann"))
    )
    second = drive(
        lambda: service.send(
            agent="assistant",
            user_id="ann",
            message=user_message("Who am I?", context_id=first.context_id),
        )
    )

    assert second.context_id == first.context_id
    assert second.id != first.id
    sent = str(fake_llm_server.requests[-1].body)
    assert "I am Ann" in sent
    assert "Nice to meet you" in sent


def test_reference_task_ids_are_stored(task_app: App, fake_llm_server: Fake) -> None:
    fake_llm_server.script.extend([Reply(text="ok")])
    service = TaskService(task_app)
    message = user_message("see that", reference_task_ids=("t-1", "t-2"))

    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=message))

    stored = drive(lambda: service.get(task.id))
    assert stored.history[0].reference_task_ids == ("t-1", "t-2")


def test_llm_failure_fails_the_task_with_the_error_text(
    task_app: App, fake_llm_server: Fake
) -> None:
    fake_llm_server.script.extend([Failure(400, "model qwen9 not found")])
    service = TaskService(task_app)

    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))

    assert task.status.state == "failed"
    assert task.status.message is not None
    text = task.status.message.parts[0]
    assert isinstance(text, TextPart)
    assert "qwen9 not found" in text.text
    assert "Traceback" not in text.text
    assert task.artifacts == ()


def test_unknown_agent_fails_the_task(task_app: App) -> None:
    service = TaskService(task_app)

    task = drive(lambda: service.send(agent="nobody", user_id="ann", message=user_message()))

    assert task.status.state == "failed"
    assert task.status.message is not None
    assert 'agent "nobody" not found' in str(task.status.message.parts[0])


def test_structured_output_adds_a_data_part(task_app: App, fake_llm_server: Fake) -> None:
    fake_llm_server.script.extend([Reply(text='{"ok": true}')])
    service = TaskService(task_app)

    task = drive(lambda: service.send(agent="reporter", user_id="ann", message=user_message()))

    assert task.status.state == "completed"
    assert task.artifacts[0].parts == (TextPart('{"ok": true}'), DataPart({"ok": True}))


def test_non_blocking_send_returns_at_once_and_the_run_completes(
    task_app: App, fake_llm_server: Fake
) -> None:
    fake_llm_server.script.extend([Reply(text="later", delay_s=0.2)])
    service = TaskService(task_app)

    async def scenario() -> tuple[Task, Task]:
        task = await service.send(
            agent="assistant", user_id="ann", message=user_message(), blocking=False
        )

        async def done() -> bool:
            return (await service.get(task.id)).status.state == "completed"

        await eventually(done)
        return task, await service.get(task.id)

    returned, final = drive(scenario)

    assert returned.status.state in ("submitted", "working")
    assert final.artifacts[0].parts == (TextPart("later"),)


@pytest.fixture
def hop_statements(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, str]]:
    """The statements of the hops run on the server's database threads, each with whether its
    hop's commits were deferred."""
    seen: list[tuple[bool, str]] = []
    original = context._on_db_thread

    def recording(call: Callable[[], Any], deferred: bool) -> Any:
        def record(execute: Any, sql: str, params: Any, many: bool, ctx: dict[str, Any]) -> Any:
            seen.append((deferred, sql))
            return execute(sql, params, many, ctx)

        def recorded() -> Any:
            with connection.execute_wrapper(record):
                return call()

        return original(recorded, deferred)

    monkeypatch.setattr(context, "_on_db_thread", recording)
    return seen


def _count(statements: list[tuple[bool, str]], needle: str, *, deferred: bool) -> int:
    return sum(needle in sql for was_deferred, sql in statements if was_deferred == deferred)


def test_a_blocking_send_flushes_only_its_final_state(
    task_app: App, fake_llm_server: Fake, hop_statements: list[tuple[bool, str]]
) -> None:
    """Nobody hears of a blocking send before its final state: admission, session and events
    commit asynchronously, and the final state's synchronous commit flushes them all. On a
    loop of its own, as the server runs it: hops go to the database threads."""
    fake_llm_server.script.extend([Reply(text="hi")])
    service = TaskService(task_app)

    task = asyncio.run(service.send(agent="assistant", user_id="ann", message=user_message()))

    assert task.status.state == "completed"
    assert _count(hop_statements, 'INSERT INTO "tasks_task"', deferred=True) == 1
    assert _count(hop_statements, "INSERT INTO conversations_session", deferred=True) == 1
    assert _count(hop_statements, "INSERT INTO conversations_event", deferred=True) == 2
    finals = [sql for _, sql in hop_statements if "UPDATE tasks_task" in sql]
    assert len(finals) == 1  # on the deferred connection, but synchronous by itself:
    assert "set_config('synchronous_commit', 'on', true)" in finals[0]


@pytest.fixture
def postgres_bus(task_bus: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process-wide bus on Postgres LISTEN/NOTIFY (the default without REDIS_URL)."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    bus.shutdown()
    yield
    bus.shutdown()


def test_the_final_states_statement_announces_it_to_other_processes(
    task_app: App,
    fake_llm_server: Fake,
    hop_statements: list[tuple[bool, str]],
    postgres_bus: None,
) -> None:
    """No follower elsewhere: the final status update goes out as a NOTIFY of the UPDATE that
    writes the final state, delivered at its commit, and not a second time by the bus."""
    fake_llm_server.script.extend([Reply(text="announced")])
    service = TaskService(task_app)

    with psycopg.connect(bus.postgres_conninfo(), autocommit=True) as listener:
        listener.execute(f"LISTEN {bus.PostgresBackend.updates_channel}")
        task = asyncio.run(service.send(agent="assistant", user_id="ann", message=user_message()))
        frames = [n.payload for n in listener.notifies(timeout=0.5) if task.id in n.payload]

    [frame] = frames
    sender, kind, schema, task_id, body = frame.split(" ", 4)
    assert sender.startswith(f"{bus.get_bus().origin}:")
    assert (kind, schema, task_id) == ("update", task_app.schema_name, task.id)
    assert update_from_json(json.loads(body)) == StatusUpdate(
        task.id, task.context_id, task.status, final=True
    )
    [final] = [sql for _, sql in hop_statements if "UPDATE tasks_task" in sql]
    assert "pg_notify(" in final


def test_a_non_blocking_send_flushes_its_admission(
    task_app: App, fake_llm_server: Fake, hop_statements: list[tuple[bool, str]]
) -> None:
    """Its caller is told of the task at once: the admission commits synchronously."""
    fake_llm_server.script.extend([Reply(text="later")])
    service = TaskService(task_app)

    async def scenario() -> None:
        task = await service.send(
            agent="assistant", user_id="ann", message=user_message(), blocking=False
        )

        async def done() -> bool:
            return (await service.get(task.id)).status.state == "completed"

        await eventually(done)

    asyncio.run(scenario())
    assert _count(hop_statements, 'INSERT INTO "tasks_task"', deferred=False) == 1
    assert _count(hop_statements, 'INSERT INTO "tasks_task"', deferred=True) == 0
    assert _count(hop_statements, "INSERT INTO conversations_event", deferred=True) == 2


def test_the_final_state_commits_synchronously_on_a_deferred_connection(task_app: App) -> None:
    """The final write turns `synchronous_commit` on for its own transaction, so it flushes
    although the database thread's connection stays in the run's deferred mode."""
    task_id = uuid.uuid4().hex

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('synchronous_commit')")
            return str(cursor.fetchone()[0])

    def finish_in_an_open_transaction() -> tuple[str, str, str]:
        before = setting()
        with transaction.atomic():  # keeps the final write's transaction open to look inside
            rows.admit_new(
                task_id=task_id,
                context_id=uuid.uuid4().hex,
                context_is_new=True,
                agent="assistant",
                user_id="ann",
                message=user_message(),
                metadata={},
                push=None,
                owner="test",
                lease_s=30,
                claim=True,
            )
            finished, _ = rows.finish_row(
                task_id,
                state="completed",
                status_message=None,
                history=(),
                artifact=None,
                last_error="",
                at=timezone.now(),
            )
            assert finished is not None
            during = setting()
        return before, during, setting()

    async def scenario() -> tuple[str, str, str]:
        with deferred_commits():
            return await in_schema(task_app.schema_name, finish_in_an_open_transaction)

    assert asyncio.run(scenario()) == ("off", "on", "off")


def test_empty_message_is_invalid(task_app: App) -> None:
    service = TaskService(task_app)
    message = user_message()
    empty = type(message)(message_id="m", role="user", parts=())

    with pytest.raises(InvalidParams) as error:
        drive(lambda: service.send(agent="assistant", user_id="ann", message=empty))

    assert error.value.data == {"fields": ["message.parts"]}
