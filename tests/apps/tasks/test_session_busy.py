"""Two runs on one session are serialised: the second waits, then fails with session_busy."""

from __future__ import annotations

import asyncio

import pytest

from agents.content import TextPart
from agents.llm.base import TextDelta
from agents.tasks import Task, UnsupportedOperation
from apps.tasks import service as service_module
from apps.tasks.runtime import override_runtime
from apps.tasks.service import TaskService
from apps.tenancy.models import App
from tests.apps.tasks.helpers import PAUSE, GatedLLM, drive, eventually, text_turn, user_message

pytestmark = pytest.mark.django_db


def test_a_second_run_on_a_busy_session_fails_after_the_wait(task_app: App) -> None:
    llm = GatedLLM([[TextDelta("slow"), PAUSE, *text_turn("")]])
    service = TaskService(task_app)
    service.session_wait_s = 0.2

    async def scenario() -> None:
        first = await service.send(
            agent="assistant", user_id="ann", message=user_message(), blocking=False
        )
        await llm.wait_paused()
        with pytest.raises(UnsupportedOperation) as error:
            await service.send(
                agent="assistant",
                user_id="ann",
                message=user_message(context_id=first.context_id),
            )
        assert error.value.data["reason"] == "session_busy"
        page = await service.list(context_id=first.context_id)
        assert [t.id for t in page.tasks] == [first.id]  # the refused send stored nothing
        llm.resume()
        await eventually(lambda: _is(service, first.id, "completed"))

    with override_runtime(task_app.id, llms={"default": llm}):
        drive(scenario)


def test_a_second_run_waits_for_the_first_and_sees_its_answer(task_app: App) -> None:
    llm = GatedLLM([[TextDelta("first answer"), PAUSE, *text_turn("")], text_turn("second")])
    service = TaskService(task_app)

    async def scenario() -> tuple[Task, Task]:
        first = await service.send(
            agent="assistant", user_id="ann", message=user_message("one"), blocking=False
        )
        await llm.wait_paused()
        second = asyncio.create_task(
            service.send(
                agent="assistant",
                user_id="ann",
                message=user_message("two", context_id=first.context_id),
            )
        )
        key = (task_app.schema_name, first.context_id)

        async def waiting() -> bool:  # it found the session busy and waits for its release
            return key in service_module._session_waiters._waiters

        await eventually(waiting)
        assert not second.done()
        llm.resume()
        answer = await second
        return await service.get(first.id), answer

    with override_runtime(task_app.id, llms={"default": llm}):
        first, second = drive(scenario)

    assert first.status.state == second.status.state == "completed"
    said = [p.text for m in llm.requests[-1].messages for p in m.parts if isinstance(p, TextPart)]
    assert said == ["one", "first answer", "two"]


def test_a_non_blocking_send_on_a_busy_session_runs_after_it(task_app: App) -> None:
    llm = GatedLLM([[PAUSE, *text_turn("first")], text_turn("second")])
    service = TaskService(task_app)

    async def scenario() -> Task:
        first = await service.send(
            agent="assistant", user_id="ann", message=user_message(), blocking=False
        )
        await llm.wait_paused()
        queued = await service.send(
            agent="assistant",
            user_id="ann",
            message=user_message(context_id=first.context_id),
            blocking=False,
        )
        assert queued.status.state == "submitted"
        assert (await service.get(queued.id)).status.state == "submitted"
        llm.resume()
        await eventually(lambda: _is(service, queued.id, "completed"))
        return await service.get(queued.id)

    with override_runtime(task_app.id, llms={"default": llm}):
        queued = drive(scenario)

    assert queued.artifacts[0].parts == (TextPart("second"),)


async def _is(service: TaskService, task_id: str, state: str) -> bool:
    return (await service.get(task_id)).status.state == state
