"""Approvals, questions and todos in the Studio chat (SPEC 8, 15): a gated call ends the turn
with what the task waits for; the decision, sent as a data part on the paused task, resumes it on
the same task, streaming the tool's result and the answer; a remote agent's question is answered
by the next message on its task; the trace frame carries the session's todos; a reopened chat
still gets what its task waits for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from apps.tasks.runtime import override_runtime
from apps.tasks.service import TaskService
from apps.tenancy.models import App
from tests.apps.studio.conftest import (
    TIMEOUT_S,
    a2a,
    committed,
    data_parts,
    frames_until_trace,
    select,
    socket,
)
from tests.apps.tasks.helpers import drive, user_message
from tests.factories import make_app
from tests.fakes.a2a_peer import start_peer
from tests.fakes.deploy import DEPLOYED as CALLS
from tests.fakes.deploy import deploy
from tests.fakes.script import Reply, ScriptedToolCall
from tests.fakes.scripted_llm import ScriptedLLM

pytestmark = pytest.mark.django_db(transaction=False)


CONFIG: dict[str, Any] = {
    "llms": {"default": {"provider": "ollama", "model": "qwen3", "base_url": "http://127.0.0.1:9"}},
    "agents": {
        "ops": {"llm": "default", "instruction": "Operate.", "tools": ["deploy", "todos"]},
    },
    "tools": {
        "deploy": {"type": "function", "handler": "deploy", "require_approval": True},
        "todos": {"type": "todotool"},
    },
}
PLAN = {
    "todos": [
        {"id": "1", "content": "Deploy to prod", "status": "in_progress"},
        {"id": "2", "content": "Tell the user", "status": "pending"},
    ],
    "overwrite": True,
}


@pytest.fixture(scope="module")
def ops_app(studio_bus: None, django_db_blocker: Any) -> Iterator[App]:
    with committed(django_db_blocker, "ws-chat-approvals", CONFIG) as app:
        yield app


@pytest.fixture
def llm(ops_app: App) -> Iterator[ScriptedLLM]:
    """Plans with the todotool, asks to deploy (gated), then answers once the call is decided."""
    CALLS.clear()
    scripted = ScriptedLLM(
        [
            Reply(tool_calls=[ScriptedToolCall("todo_write", PLAN, "plan")]),
            Reply(tool_calls=[ScriptedToolCall("deploy", {"target": "prod"}, "c1")]),
            Reply(text=["Deployed ", "to prod."]),
        ]
    )
    with override_runtime(ops_app.id, llms={"default": scripted}, tools={"deploy": deploy}):
        yield scripted


async def paused_turn(
    communicator: WebsocketCommunicator, app: App
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Send the first message; returns its A2A events and its trace frame (task paused)."""
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to(
        {"type": "send", "app": app.id, "agent": "ops", "text": "ship it"}
    )
    frames = await frames_until_trace(communicator)
    return a2a(frames), frames[-1]


def decision(app: App, trace: dict[str, Any], decided: str, **extra: Any) -> dict[str, Any]:
    """The frame the Approve/Deny widget sends: a data part on the paused task."""
    request = trace["waiting"]["requests"][0]
    return {
        "type": "send",
        "app": app.id,
        "agent": "ops",
        "data": {"approval_id": request["approval_id"], "decision": decided, **extra},
        "task_id": trace["task_id"],
        "context_id": trace["context_id"],
    }


async def test_a_gated_call_ends_the_turn_with_the_approval_request(
    ops_app: App, llm: ScriptedLLM, cookie: str
) -> None:
    communicator = socket(cookie)
    events, trace = await paused_turn(communicator, ops_app)
    await communicator.disconnect()

    assert events[-1]["final"] is True
    assert events[-1]["status"]["state"] == "input-required"
    assert trace["state"] == "input-required"
    assert trace["task_id"] == events[0]["id"]
    waiting = trace["waiting"]
    assert waiting["task_id"] == trace["task_id"]
    assert waiting["state"] == "input-required"
    assert "Approval needed" in waiting["text"]
    [request] = waiting["requests"]
    assert request["hector_type"] == "approval_request"
    assert (request["tool_name"], request["arguments"]) == ("deploy", {"target": "prod"})
    assert request["prompt"] == 'Allow the agent to call "deploy"?'
    assert request["approval_id"]
    [turn] = trace["turns"]
    deploy_call = next(i for i in turn["items"] if i.get("name") == "deploy")
    assert deploy_call["done"] is False  # the widget marks it as waiting
    assert CALLS == []


async def test_approve_on_the_same_task_runs_the_tool_and_streams_the_answer(
    ops_app: App, llm: ScriptedLLM, cookie: str
) -> None:
    communicator = socket(cookie)
    first, trace = await paused_turn(communicator, ops_app)
    await communicator.send_json_to(decision(ops_app, trace, "approve"))
    frames = await frames_until_trace(communicator)
    await communicator.disconnect()

    events = a2a(frames)
    assert events[0]["kind"] == "task"
    assert events[0]["id"] == trace["task_id"]  # the paused task goes on, no new task
    assert events[0]["contextId"] == trace["context_id"]
    [result] = data_parts(events, "tool_result")
    assert (result["call_id"], result["content"], result["is_error"]) == (
        "c1",
        "deployed to prod",
        False,
    )
    chunks = [e for e in events if e["kind"] == "artifact-update"]
    assert "".join(p["text"] for c in chunks for p in c["artifact"]["parts"]) == "Deployed to prod."
    assert events[-1]["final"] is True
    assert events[-1]["status"]["state"] == "completed"
    assert CALLS == ["prod"]

    done = frames[-1]
    assert (done["type"], done["state"], done["waiting"]) == ("trace", "completed", None)
    [turn] = done["turns"]
    assert turn["answer"] == "Deployed to prod."
    [resumed_call] = [i for i in turn["items"] if i["kind"] == "tool_call"]
    assert (resumed_call["call_id"], resumed_call["result"]) == ("c1", "deployed to prod")
    assert resumed_call["done"] is True

    page = await TaskService(ops_app).list(user_id="studio", context_id=trace["context_id"])
    assert [(t.id, t.status.state) for t in page.tasks] == [(trace["task_id"], "completed")]
    assert first[0]["id"] == trace["task_id"]


async def test_deny_with_a_reason_tells_the_model_and_never_runs_the_tool(
    ops_app: App, llm: ScriptedLLM, cookie: str
) -> None:
    communicator = socket(cookie)
    _, trace = await paused_turn(communicator, ops_app)
    await communicator.send_json_to(decision(ops_app, trace, "deny", reason="change freeze"))
    frames = await frames_until_trace(communicator)
    await communicator.disconnect()

    [result] = data_parts(a2a(frames), "tool_result")
    assert result["content"] == "denied by user: change freeze"
    assert result["is_error"] is True
    assert a2a(frames)[-1]["status"]["state"] == "completed"
    assert CALLS == []


async def test_a_message_that_decides_nothing_asks_again_on_the_same_task(
    ops_app: App, llm: ScriptedLLM, cookie: str
) -> None:
    communicator = socket(cookie)
    _, trace = await paused_turn(communicator, ops_app)
    await communicator.send_json_to(
        {
            "type": "send",
            "app": ops_app.id,
            "agent": "ops",
            "text": "what would that do?",
            "task_id": trace["task_id"],
            "context_id": trace["context_id"],
        }
    )
    frames = await frames_until_trace(communicator)
    await communicator.disconnect()

    again = frames[-1]
    assert again["state"] == "input-required"
    assert again["task_id"] == trace["task_id"]
    assert again["waiting"]["requests"] == trace["waiting"]["requests"]
    assert "that was not a decision" in again["waiting"]["text"]
    assert CALLS == []


async def test_the_trace_frame_carries_the_sessions_todos(
    ops_app: App, llm: ScriptedLLM, cookie: str
) -> None:
    communicator = socket(cookie)
    events, trace = await paused_turn(communicator, ops_app)
    await communicator.disconnect()

    [written] = [r for r in data_parts(events, "tool_result") if r["name"] == "todo_write"]
    assert written["is_error"] is False
    assert trace["todos"] == [
        {"id": "1", "content": "Deploy to prod", "status": "in_progress"},
        {"id": "2", "content": "Tell the user", "status": "pending"},
    ]


async def test_a_decision_for_a_task_that_is_not_waiting_is_an_error_frame(
    ops_app: App, llm: ScriptedLLM, cookie: str
) -> None:
    communicator = socket(cookie)
    _, trace = await paused_turn(communicator, ops_app)
    await communicator.send_json_to(decision(ops_app, trace, "approve"))
    await frames_until_trace(communicator)
    await communicator.send_json_to(decision(ops_app, trace, "approve"))  # once more
    error = await communicator.receive_json_from(timeout=TIMEOUT_S)
    await communicator.disconnect()

    assert error["type"] == "error"
    assert "completed" in error["message"]
    assert CALLS == ["prod"]


async def test_malformed_continuations_get_a_bad_frame_error(cookie: str) -> None:
    communicator = socket(cookie)
    await communicator.connect()
    for frame, message in [
        ({"agent": "ops", "data": ["approve"]}, "data: must be an object"),
        ({"agent": "ops", "text": "yes", "task_id": 7}, "task_id: must be a string"),
        ({"agent": "ops", "data": {}}, "text: required"),
        ({"agent": "ops", "text": 3}, "text: must be a string"),
    ]:
        await communicator.send_json_to({"type": "send", **frame})
        error = await communicator.receive_json_from(timeout=TIMEOUT_S)
        assert error == {"type": "error", "message": message, "code": "bad_frame"}
    await communicator.disconnect()


# --- a question (input-required without approvals) ----------------------------------------------


@pytest.fixture(scope="module")
def desk_app(studio_bus: None, django_db_blocker: Any) -> Iterator[App]:
    """An app whose agent is a remote A2A peer that asks "Which account?" when told `ask`."""
    peer = start_peer()
    config = {
        "server": {"remote_allowed_hosts": ["127.0.0.1"]},
        "agents": {"desk": {"type": "remote", "url": peer.url + "/v1", "timeout": "10s"}},
    }
    try:
        with committed(django_db_blocker, "ws-chat-question", config) as app:
            yield app
    finally:
        peer.stop()


async def test_a_question_is_answered_by_the_next_message_on_the_same_task(
    desk_app: App, cookie: str
) -> None:
    communicator = socket(cookie)
    await communicator.connect()
    await communicator.send_json_to(
        {"type": "send", "app": desk_app.id, "agent": "desk", "text": "ask"}
    )
    asked = (await frames_until_trace(communicator))[-1]
    await communicator.send_json_to(
        {
            "type": "send",
            "app": desk_app.id,
            "agent": "desk",
            "text": "savings",
            "task_id": asked["task_id"],
            "context_id": asked["context_id"],
        }
    )
    frames = await frames_until_trace(communicator)
    await communicator.disconnect()

    assert asked["state"] == "input-required"
    assert asked["waiting"] == {
        "task_id": asked["task_id"],
        "state": "input-required",
        "text": "Which account?",
        "requests": [],
    }
    events = a2a(frames)
    assert events[0]["id"] == asked["task_id"]
    assert events[-1]["status"]["state"] == "completed"
    answered = frames[-1]
    assert (answered["state"], answered["waiting"]) == ("completed", None)
    assert answered["turns"][-1]["answer"] == "got: savings"


# --- reopening a paused session ------------------------------------------------------------------


@pytest.fixture
def paused_app(db: None, studio_bus: None) -> tuple[App, str]:
    """A rolled-back app whose studio session has a task waiting for approval of deploy(prod)."""
    app, _ = make_app(name="paused", app_id="studio-paused", config=CONFIG)
    CALLS.clear()
    llm = ScriptedLLM(
        [
            Reply(tool_calls=[ScriptedToolCall("todo_write", PLAN, "plan")]),
            Reply(tool_calls=[ScriptedToolCall("deploy", {"target": "prod"}, "c1")]),
        ]
    )
    with override_runtime(app.id, llms={"default": llm}, tools={"deploy": deploy}):
        task = drive(
            lambda: TaskService(app).send(agent="ops", user_id="studio", message=user_message("go"))
        )
    assert task.status.state == "input-required"
    return app, task.context_id


def test_a_reopened_session_gets_what_its_task_waits_for_and_its_todos(
    studio: Client, paused_app: tuple[App, str]
) -> None:
    app, session_id = paused_app
    select(studio, app.id)
    body = studio.get(f"/studio/sessions/{session_id}/turns.json").json()

    waiting = body["waiting"]
    assert waiting["state"] == "input-required"
    [request] = waiting["requests"]
    assert (request["tool_name"], request["arguments"]) == ("deploy", {"target": "prod"})
    assert [todo["status"] for todo in body["todos"]] == ["in_progress", "pending"]


def test_a_finished_session_waits_for_nothing(studio: Client, db: None, studio_bus: None) -> None:
    app, _ = make_app(name="done", app_id="studio-done", config=CONFIG)
    llm = ScriptedLLM([Reply(text="Nothing to do.")])
    with override_runtime(app.id, llms={"default": llm}, tools={"deploy": deploy}):
        task = drive(
            lambda: TaskService(app).send(agent="ops", user_id="studio", message=user_message("hi"))
        )
    assert task.status.state == "completed"
    select(studio, app.id)
    body = studio.get(f"/studio/sessions/{task.context_id}/turns.json").json()
    assert (body["waiting"], body["todos"]) == (None, None)
