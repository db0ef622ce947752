"""`TaskService.send`: blocking and non-blocking, through a real provider SDK and its wire fake."""

from __future__ import annotations

from typing import Any

import pytest

from agents.content import DataPart, TextPart
from agents.tasks import InvalidParams, Task
from apps.tasks.service import TaskService
from apps.tenancy import context
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
def deferred_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements sent to commit without waiting for their WAL flush."""
    seen: list[str] = []
    original = context._commit_asynchronously

    def recording(execute: Any, sql: str, params: Any, many: bool, ctx: dict[str, Any]) -> Any:
        def recorded(sent: str, *args: Any) -> Any:
            if sent.startswith(context._ASYNC_COMMIT):
                seen.append(sent)
            return execute(sent, *args)

        return original(recorded, sql, params, many, ctx)

    monkeypatch.setattr(context, "_commit_asynchronously", recording)
    return seen


def _count(statements: list[str], needle: str) -> int:
    return sum(needle in statement for statement in statements)


def test_a_blocking_send_flushes_only_its_final_state(
    task_app: App, fake_llm_server: Fake, deferred_writes: list[str]
) -> None:
    """Nobody hears of a blocking send before its final state: admission, session and events
    commit asynchronously, and the final state's synchronous commit flushes them all."""
    fake_llm_server.script.extend([Reply(text="hi")])
    service = TaskService(task_app)

    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))

    assert task.status.state == "completed"
    assert _count(deferred_writes, 'INSERT INTO "tasks_task"') == 1
    assert _count(deferred_writes, "INSERT INTO conversations_session") == 1
    assert _count(deferred_writes, "INSERT INTO conversations_event") == 2  # question, answer
    assert _count(deferred_writes, "UPDATE tasks_task") == 0  # never the final state


def test_a_non_blocking_send_flushes_its_admission(
    task_app: App, fake_llm_server: Fake, deferred_writes: list[str]
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

    drive(scenario)
    assert _count(deferred_writes, 'INSERT INTO "tasks_task"') == 0
    assert _count(deferred_writes, "INSERT INTO conversations_event") == 2
    assert _count(deferred_writes, "UPDATE tasks_task") == 0


def test_empty_message_is_invalid(task_app: App) -> None:
    service = TaskService(task_app)
    message = user_message()
    empty = type(message)(message_id="m", role="user", parts=())

    with pytest.raises(InvalidParams) as error:
        drive(lambda: service.send(agent="assistant", user_id="ann", message=empty))

    assert error.value.data == {"fields": ["message.parts"]}
