"""Continuing a task: an interrupted one takes the next message; a terminal one refuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context

from agents.content import TextPart
from agents.tasks import InvalidParams, Task, TaskNotFound, UnsupportedOperation
from apps.tasks.models import Task as TaskRow
from apps.tasks.runtime import override_runtime
from apps.tasks.service import TaskService
from apps.tenancy.models import App
from tests.apps.tasks.helpers import drive, user_message
from tests.fakes.script import Reply
from tests.fakes.scripted_llm import ScriptedLLM

pytestmark = pytest.mark.django_db


@pytest.fixture
def scripted(task_app: App) -> Iterator[ScriptedLLM]:
    llm = ScriptedLLM([])
    with override_runtime(task_app.id, llms={"default": llm}):
        yield llm


def interrupt(app: App, task: Task, state: str = "input-required") -> None:
    """Stand-in for an approval pause (a later issue): the row now asks for input."""
    with schema_context(app.schema_name):
        TaskRow.objects.filter(pk=task.id).update(state=state)


def test_an_input_required_task_continues_with_the_next_message(
    task_app: App, scripted: ScriptedLLM
) -> None:
    scripted.script.extend([Reply(text="Which city?"), Reply(text="Sunny in Paris")])
    service = TaskService(task_app)
    task = drive(
        lambda: service.send(agent="assistant", user_id="ann", message=user_message("Weather?"))
    )
    interrupt(task_app, task)

    continued = drive(
        lambda: service.send(
            agent="assistant", user_id="ann", message=user_message("Paris", task_id=task.id)
        )
    )

    assert continued.id == task.id
    assert continued.context_id == task.context_id  # no contextId given: the task's own
    assert continued.status.state == "completed"
    assert [(m.role, m.parts[0]) for m in continued.history] == [
        ("user", TextPart("Weather?")),
        ("agent", TextPart("Which city?")),
        ("user", TextPart("Paris")),
        ("agent", TextPart("Sunny in Paris")),
    ]
    assert continued.artifacts[0].parts == (TextPart("Sunny in Paris"),)
    last_request = scripted.requests[-1]
    said = [p.text for m in last_request.messages for p in m.parts if isinstance(p, TextPart)]
    assert said == ["Weather?", "Which city?", "Paris"]


def test_an_auth_required_task_continues_too(task_app: App, scripted: ScriptedLLM) -> None:
    scripted.script.extend([Reply(text="need a login"), Reply(text="thanks")])
    service = TaskService(task_app)
    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))
    interrupt(task_app, task, "auth-required")

    continued = drive(
        lambda: service.send(
            agent="assistant",
            user_id="ann",
            message=user_message("done", task_id=task.id, context_id=task.context_id),
        )
    )

    assert continued.status.state == "completed"


def test_a_terminal_task_refuses_more_messages(task_app: App, scripted: ScriptedLLM) -> None:
    scripted.script.extend([Reply(text="done")])
    service = TaskService(task_app)
    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))

    with pytest.raises(UnsupportedOperation) as error:
        drive(
            lambda: service.send(
                agent="assistant", user_id="ann", message=user_message("more", task_id=task.id)
            )
        )

    assert error.value.code == -32004
    assert error.value.data["reason"] == "task_terminal"
    assert len(drive(lambda: service.get(task.id)).history) == 2  # nothing was added


def test_an_unknown_or_foreign_task_is_not_found(task_app: App, scripted: ScriptedLLM) -> None:
    scripted.script.extend([Reply(text="done")])
    service = TaskService(task_app)
    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))
    interrupt(task_app, task)

    with pytest.raises(TaskNotFound):
        drive(
            lambda: service.send(
                agent="assistant", user_id="ann", message=user_message(task_id="no-such-task")
            )
        )
    with pytest.raises(TaskNotFound):
        drive(
            lambda: service.send(
                agent="assistant", user_id="bob", message=user_message(task_id=task.id)
            )
        )


def test_a_context_other_than_the_tasks_is_invalid(task_app: App, scripted: ScriptedLLM) -> None:
    scripted.script.extend([Reply(text="done")])
    service = TaskService(task_app)
    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))
    interrupt(task_app, task)

    with pytest.raises(InvalidParams) as error:
        drive(
            lambda: service.send(
                agent="assistant",
                user_id="ann",
                message=user_message(task_id=task.id, context_id="another-context"),
            )
        )

    assert error.value.data == {"fields": ["message.contextId"]}
