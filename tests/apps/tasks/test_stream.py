"""`TaskService.stream` and `subscribe`: event order, the final flag, disconnects, resubscribing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing

import pytest

from agents.content import TextPart, ThinkingPart, ToolCallPart, ToolResultPart
from agents.llm.base import TextDelta
from agents.tasks import ArtifactUpdate, StatusUpdate, Task, TaskNotFound, TaskUpdate
from apps.tasks.runtime import override_runtime
from apps.tasks.service import TaskService
from apps.tenancy.models import App
from tests.apps.tasks.helpers import PAUSE, GatedLLM, drive, eventually, text_turn, user_message
from tests.fakes.script import Reply, ScriptedToolCall
from tests.fakes.scripted_llm import ScriptedLLM
from tools.base import tool

pytestmark = pytest.mark.django_db


@tool
def lookup(topic: str) -> str:
    """Look a topic up."""
    return f"facts about {topic}"


@pytest.fixture
def scripted(task_app: App) -> Iterator[ScriptedLLM]:
    llm = ScriptedLLM([])
    with override_runtime(task_app.id, llms={"default": llm}, tools={"lookup": lookup}):
        yield llm


async def collect(updates: AsyncIterator[TaskUpdate]) -> list[TaskUpdate]:
    async with aclosing(updates):  # type: ignore[type-var]
        return [update async for update in updates]


def describe(update: TaskUpdate) -> tuple[object, ...]:
    """A compact, comparable view of one update."""
    match update:
        case Task():
            return ("task", update.status.state)
        case StatusUpdate(status=status, final=final):
            parts = tuple(type(p).__name__ for p in status.message.parts) if status.message else ()
            return ("status", status.state, parts, final)
        case ArtifactUpdate(artifact=artifact, append=append, last_chunk=last):
            texts = tuple(p.text for p in artifact.parts if isinstance(p, TextPart))
            return ("artifact", artifact.artifact_id, texts, append, last)
    raise AssertionError(update)


def test_stream_yields_task_then_working_then_run_updates_and_ends_final(
    task_app: App, scripted: ScriptedLLM
) -> None:
    scripted.script.extend(
        [
            Reply(tool_calls=[ScriptedToolCall("lookup", {"topic": "owls"}, "c1")]),
            Reply(text=["Owls ", "hoot"]),
        ]
    )
    service = TaskService(task_app)

    updates = drive(
        lambda: collect(
            service.stream(agent="toolbox", user_id="ann", message=user_message("owls?"))
        )
    )

    assert [describe(u) for u in updates] == [
        ("task", "submitted"),
        ("status", "working", (), False),
        ("status", "working", ("ToolCallPart",), False),
        ("status", "working", ("ToolResultPart",), False),
        ("artifact", "response", ("Owls ",), False, False),
        ("artifact", "response", ("hoot",), True, False),
        ("artifact", "response", ("",), True, True),
        ("status", "completed", ("TextPart",), True),
    ]
    call = updates[2].status.message.parts[0]  # type: ignore[union-attr]
    result = updates[3].status.message.parts[0]  # type: ignore[union-attr]
    assert isinstance(call, ToolCallPart)
    assert call.arguments == {"topic": "owls"}
    assert isinstance(result, ToolResultPart)
    assert result.content == "facts about owls"
    assert {u.task_id for u in updates[1:]} == {updates[0].id}  # type: ignore[union-attr]
    final = drive(lambda: service.get(updates[0].id))  # type: ignore[union-attr]
    assert final.status.state == "completed"
    assert final.artifacts[0].parts == (TextPart("Owls hoot"),)


def test_text_streamed_before_a_tool_round_is_replaced_by_the_answer(
    task_app: App, scripted: ScriptedLLM
) -> None:
    scripted.script.extend(
        [
            Reply(text="Let me look. ", tool_calls=[ScriptedToolCall("lookup", {"topic": "x"})]),
            Reply(text="Found it"),
        ]
    )
    service = TaskService(task_app)

    updates = drive(
        lambda: collect(service.stream(agent="toolbox", user_id="ann", message=user_message()))
    )

    last = [u for u in updates if isinstance(u, ArtifactUpdate)][-1]
    assert describe(last) == ("artifact", "response", ("Found it",), False, True)


def test_thinking_reaches_the_stream_only_when_asked(task_app: App, scripted: ScriptedLLM) -> None:
    scripted.script.extend([Reply(thinking="pondering", text="ok")] * 2)
    service = TaskService(task_app)

    plain = drive(
        lambda: collect(service.stream(agent="assistant", user_id="ann", message=user_message()))
    )
    asked = drive(
        lambda: collect(
            service.stream(
                agent="assistant",
                user_id="ann",
                message=user_message(),
                metadata={"include_thinking": True},
            )
        )
    )

    def thinking(updates: list[TaskUpdate]) -> list[object]:
        return [
            part
            for u in updates
            if isinstance(u, StatusUpdate) and u.status.message
            for part in u.status.message.parts
            if isinstance(part, ThinkingPart)
        ]

    assert thinking(plain) == []
    assert [p.text for p in thinking(asked)] == ["pondering"]  # type: ignore[attr-defined]


def test_closing_the_stream_early_does_not_cancel_the_run(task_app: App) -> None:
    llm = GatedLLM([[TextDelta("first "), PAUSE, *text_turn("second")]])
    service = TaskService(task_app)

    async def scenario() -> Task:
        updates = service.stream(agent="assistant", user_id="ann", message=user_message())
        task = await anext(updates)
        assert isinstance(task, Task)
        async for update in updates:
            if isinstance(update, ArtifactUpdate):
                break
        await updates.aclose()  # the client went away mid-answer
        await llm.wait_paused()
        llm.resume()

        async def completed() -> bool:
            return (await service.get(task.id)).status.state == "completed"

        await eventually(completed)
        return await service.get(task.id)

    with override_runtime(task_app.id, llms={"default": llm}):
        final = drive(scenario)

    assert final.artifacts[0].parts == (TextPart("first second"),)
    assert llm.closed_early == 0


def test_resubscribe_gets_the_current_task_then_the_rest(task_app: App) -> None:
    llm = GatedLLM([[TextDelta("one "), PAUSE, TextDelta("two "), *text_turn("three")]])
    service = TaskService(task_app)

    async def scenario() -> list[TaskUpdate]:
        started = await service.send(
            agent="assistant", user_id="ann", message=user_message(), blocking=False
        )
        await llm.wait_paused()  # "one " was streamed to nobody
        resubscribed = service.subscribe(started.id, user_id="ann")
        first = await anext(resubscribed)
        llm.resume()
        return [first, *await collect(resubscribed)]

    with override_runtime(task_app.id, llms={"default": llm}):
        updates = drive(scenario)

    assert [describe(u) for u in updates] == [
        ("task", "working"),
        ("artifact", "response", ("two ",), True, False),
        ("artifact", "response", ("three",), True, False),
        ("artifact", "response", ("",), True, True),
        # It joined mid-answer: the whole artifact replaces the chunks it missed.
        ("artifact", "response", ("one two three",), False, True),
        ("status", "completed", ("TextPart",), True),
    ]


def test_resubscribe_to_a_final_task_gives_just_the_task(
    task_app: App, scripted: ScriptedLLM
) -> None:
    scripted.script.extend([Reply(text="done")])
    service = TaskService(task_app)
    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))

    updates = drive(lambda: collect(service.subscribe(task.id)))

    assert [describe(u) for u in updates] == [("task", "completed")]
    assert updates[0] == task


def test_resubscribe_to_an_unknown_or_foreign_task_is_not_found(
    task_app: App, scripted: ScriptedLLM
) -> None:
    scripted.script.extend([Reply(text="done")])
    service = TaskService(task_app)
    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))

    with pytest.raises(TaskNotFound):
        drive(lambda: collect(service.subscribe("no-such-task")))
    with pytest.raises(TaskNotFound):
        drive(lambda: collect(service.subscribe(task.id, user_id="bob")))


class _QuietSubscription:
    """What a follower in another process sees when every chunk went out before the bus knew of
    it: only the final status."""

    def __init__(self, updates: list[TaskUpdate]) -> None:
        self.updates = updates

    async def get(self, timeout_s: float | None = None) -> TaskUpdate | None:
        return self.updates.pop(0) if self.updates else None


def test_a_follower_that_missed_every_chunk_gets_the_artifact_whole(
    task_app: App, scripted: ScriptedLLM
) -> None:
    scripted.script.extend([Reply(text=["whole ", "answer"])])
    service = TaskService(task_app)

    async def scenario() -> list[TaskUpdate]:
        task = await service.send(agent="assistant", user_id="ann", message=user_message())
        final = StatusUpdate(task.id, task.context_id, task.status, final=True)
        follow = service._follow(task, _QuietSubscription([final]))  # type: ignore[arg-type]
        return [update async for update in follow]

    updates = drive(scenario)
    assert [describe(u) for u in updates] == [
        ("artifact", "response", ("whole answer",), False, True),
        ("status", "completed", ("TextPart",), True),
    ]
