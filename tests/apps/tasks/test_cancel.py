"""`TaskService.cancel`: a running task stops (its LLM stream too); a finished one cannot."""

from __future__ import annotations

from contextlib import aclosing

import pytest

from agents.content import DataPart
from agents.llm.base import TextDelta
from agents.tasks import StatusUpdate, Task, TaskNotCancelable, TaskNotFound, TaskUpdate
from apps.conversations.stores import PostgresSessionService
from apps.tasks.runtime import local_run, override_runtime
from apps.tasks.service import TaskService
from apps.tenancy.models import App
from tests.apps.tasks.helpers import PAUSE, GatedLLM, drive, text_turn, user_message

pytestmark = pytest.mark.django_db


def last_session_status(app: App, context_id: str) -> dict[str, object]:
    events = drive(lambda: PostgresSessionService(app.schema_name).list_events(context_id))
    part = events[-1].parts[0]
    assert isinstance(part, DataPart)
    return dict(part.data)


def test_cancel_stops_a_running_task_and_its_llm(task_app: App) -> None:
    llm = GatedLLM([[TextDelta("partial "), PAUSE, *text_turn("never sent")]])
    service = TaskService(task_app)

    async def scenario() -> tuple[Task, Task]:
        task = await service.send(
            agent="assistant", user_id="ann", message=user_message(), blocking=False
        )
        await llm.wait_paused()
        canceled = await service.cancel(task.id, user_id="ann")
        assert local_run(task_app.schema_name, task.id) is None  # the run is over
        return canceled, await service.get(task.id)

    with override_runtime(task_app.id, llms={"default": llm}):
        canceled, stored = drive(scenario)

    assert canceled.status.state == "canceled"
    assert stored.status.state == "canceled"
    assert stored.artifacts == ()
    assert llm.closed_early == 1
    status = last_session_status(task_app, stored.context_id)
    assert status["hector_type"] == "status"
    assert status["state"] == "canceled"


def test_a_stream_of_a_canceled_task_ends_with_a_final_canceled_update(task_app: App) -> None:
    llm = GatedLLM([[TextDelta("partial "), PAUSE, *text_turn("never sent")]])
    service = TaskService(task_app)

    async def scenario() -> list[TaskUpdate]:
        seen: list[TaskUpdate] = []
        updates = service.stream(agent="assistant", user_id="ann", message=user_message())
        async with aclosing(updates):
            async for update in updates:
                seen.append(update)
                if len(seen) == 3:  # task, working, first chunk
                    await llm.wait_paused()
                    await service.cancel(seen[0].id)  # type: ignore[union-attr]
        return seen

    with override_runtime(task_app.id, llms={"default": llm}):
        seen = drive(scenario)

    last = seen[-1]
    assert isinstance(last, StatusUpdate)
    assert (last.status.state, last.final) == ("canceled", True)
    assert sum(1 for u in seen if isinstance(u, StatusUpdate) and u.final) == 1


def test_cancel_of_a_finished_task_is_not_cancelable(task_app: App) -> None:
    llm = GatedLLM([text_turn("done")])
    service = TaskService(task_app)
    with override_runtime(task_app.id, llms={"default": llm}):
        task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))

    with pytest.raises(TaskNotCancelable) as error:
        drive(lambda: service.cancel(task.id))

    assert error.value.code == -32002
    assert error.value.data == {"taskId": task.id, "state": "completed"}


def test_cancel_of_an_unknown_or_foreign_task_is_not_found(task_app: App) -> None:
    llm = GatedLLM([[PAUSE, *text_turn("late")]])
    service = TaskService(task_app)

    async def scenario() -> None:
        task = await service.send(
            agent="assistant", user_id="ann", message=user_message(), blocking=False
        )
        await llm.wait_paused()
        with pytest.raises(TaskNotFound):
            await service.cancel("no-such-task")
        with pytest.raises(TaskNotFound):
            await service.cancel(task.id, user_id="bob")
        assert (await service.get(task.id)).status.state == "working"
        await service.cancel(task.id, user_id="ann")

    with override_runtime(task_app.id, llms={"default": llm}):
        drive(scenario)
