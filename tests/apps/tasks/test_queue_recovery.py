"""Recovery and resume in one process: a run that died after its model asked for a tool is
released by recovery and resumed (the pending call runs once, the user message is not stored
again); a corrupt checkpoint dead-letters its task; a job for a deleted app is discarded."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from agents.content import TextPart, ToolCallPart, ToolResultPart
from agents.sessions import Event
from apps.conversations.stores import PostgresSessionService
from apps.tasks import jobs, operations, queue, rows
from apps.tasks.models import Checkpoint
from apps.tasks.models import Task as TaskRow
from apps.tasks.runtime import override_runtime
from apps.tasks.service import TaskService
from apps.tenancy.models import App
from tests.apps.tasks.helpers import PAUSE, GatedLLM, drive, text_turn, user_message
from tests.fakes.script import Reply
from tests.fakes.scripted_llm import ScriptedLLM
from tools.base import FunctionTool

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(
        queue, "publish_run", lambda schema, task_id, **_: sent.append((schema, task_id))
    )
    return sent


def _died_after_a_tool_call(app: App, *, expired: bool = True) -> str:
    """A task as a process leaves it when it dies right after its model asked for `lookup`:
    working, leased, the user message and the model turn in the session."""
    message = user_message("find it")
    task_id = "dead" + message.message_id[:28]
    with schema_context(app.schema_name):
        admission = rows.admit_new(
            task_id=task_id,
            context_id="ctx-" + task_id,
            context_is_new=True,
            agent="toolbox",
            user_id="ann",
            message=message,
            metadata={},
            push=None,
            owner="gone-process",
            lease_s=60,
            claim=True,
        )
        assert admission.task is not None
        if expired:
            TaskRow.objects.filter(pk=task_id).update(
                lease_expires_at=timezone.now() - timedelta(seconds=1)
            )
    sessions = PostgresSessionService(app.schema_name)
    invocation = f"{task_id}.1"

    async def history() -> None:
        session = await sessions.create(user_id="ann", agent="toolbox", session_id="ctx-" + task_id)
        await sessions.append_event(
            session,
            Event(
                author="user", role="user", parts=(TextPart("find it"),), invocation_id=invocation
            ),
        )
        call = ToolCallPart("call-1", "lookup", {"q": "it"})
        await sessions.append_event(
            session, Event(author="toolbox", role="agent", parts=(call,), invocation_id=invocation)
        )

    drive(history)
    return task_id


def test_recovery_releases_a_dead_run_and_the_resume_runs_its_pending_call_once(
    task_app: App, published: list[tuple[str, str]]
) -> None:
    task_id = _died_after_a_tool_call(task_app)
    looked_up: list[str] = []

    def lookup(q: str) -> str:
        """Look something up."""
        looked_up.append(q)
        return f"found {q}"

    llm = ScriptedLLM([Reply(text="here it is")])

    report = operations.recover_app(task_app)

    assert report.released == 1
    assert (task_app.schema_name, task_id) in published
    with override_runtime(
        task_app.id, llms={"default": llm}, tools={"lookup": FunctionTool(lookup)}
    ):
        task = drive(lambda: TaskService(task_app).execute(task_id))
    assert task.status.state == "completed"
    assert looked_up == ["it"]
    (request,) = llm.requests
    results = [p for m in request.messages for p in m.parts if isinstance(p, ToolResultPart)]
    assert [r.content for r in results] == ["found it"]
    asked = [
        p.text
        for m in request.messages
        if m.role == "user"
        for p in m.parts
        if isinstance(p, TextPart)
    ]
    assert asked == ["find it"]  # the message was not stored twice
    with schema_context(task_app.schema_name):
        row = TaskRow.objects.get(pk=task_id)
        kinds = list(Checkpoint.objects.filter(task_id=task_id).values_list("kind", flat=True))
    assert row.attempts == 2
    assert "gone-process" in row.last_error
    assert kinds == ["tool_result", "final"]


def test_a_live_lease_is_not_recovered(task_app: App, published: list[tuple[str, str]]) -> None:
    task_id = _died_after_a_tool_call(task_app, expired=False)

    assert operations.recover_app(task_app).released == 0
    assert (task_app.schema_name, task_id) not in published


def test_a_corrupt_checkpoint_dead_letters_its_task_with_the_reason(
    task_app: App, published: list[tuple[str, str]]
) -> None:
    task_id = _died_after_a_tool_call(task_app)
    with schema_context(task_app.schema_name):
        rows.save_checkpoint(task_id, kind="llm_turn", snapshot={"invocation_id": 42})
    operations.recover_app(task_app)
    llm = ScriptedLLM([Reply(text="never asked")])

    with override_runtime(task_app.id, llms={"default": llm}):
        task = drive(lambda: TaskService(task_app).execute(task_id))

    with schema_context(task_app.schema_name):
        row = TaskRow.objects.get(pk=task_id)
    assert task.status.state == "failed"
    assert row.dead_lettered_at is not None
    assert row.dead_letter_reason == (
        "corrupt checkpoint #1: invocation_id missing or not of this task"
    )
    assert llm.requests == []


def test_a_job_for_a_deleted_app_is_discarded_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="apps.tasks.jobs"):
        jobs.run_task("app_that_was_deleted", "task-1")

    assert "task=task-1 schema=app_that_was_deleted discarded: its app no longer exists" in (
        caplog.text
    )


def test_a_job_for_an_unknown_task_is_discarded(
    task_app: App, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="apps.tasks.jobs"):
        jobs.run_task(task_app.schema_name, "no-such-task")

    assert "task=no-such-task" in caplog.text
    assert "discarded: no such task" in caplog.text


def test_the_lease_is_renewed_while_the_run_lives(task_app: App) -> None:
    llm = GatedLLM([[PAUSE, *text_turn("late")]])
    service = TaskService(task_app)
    service.lease_s = 0.3

    async def scenario() -> Any:
        sent = await service.send(
            agent="assistant", user_id="u", message=user_message(), blocking=False
        )
        await llm.wait_paused()
        first = await _lease(task_app, sent.id)
        await asyncio.sleep(0.35)
        second = await _lease(task_app, sent.id)
        llm.resume()
        return first, second

    with override_runtime(task_app.id, llms={"default": llm}):
        first, second = drive(scenario)
    assert second > first  # renewed every third of the lease


async def _lease(app: App, task_id: str) -> Any:
    from apps.tenancy.context import in_schema

    def read() -> Any:
        return TaskRow.objects.get(pk=task_id).lease_expires_at

    return await in_schema(app.schema_name, read)
