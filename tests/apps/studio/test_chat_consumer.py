"""The Studio chat websocket: refused without a Studio session, a turn is an A2A task that streams
its text and tool calls, and the finished turn's trace names authors and durations."""

from __future__ import annotations

import pytest

from apps.tasks.runtime import override_runtime
from apps.tenancy.models import App
from tests.apps.studio.conftest import TIMEOUT_S, a2a, data_parts, frames_until_trace, socket
from tests.fakes.script import Failure, Reply, ScriptedToolCall
from tests.fakes.scripted_llm import ScriptedLLM
from tools.base import tool

# Committed apps and users, like a running server: the consumer's ORM hops run on other threads.
pytestmark = pytest.mark.django_db(transaction=False)


@tool
def lookup(topic: str) -> str:
    """Look a topic up."""
    return f"facts about {topic}"


async def test_socket_without_a_studio_session_is_refused() -> None:
    communicator = socket(None)
    connected, _ = await communicator.connect()
    assert not connected


async def test_socket_with_a_forged_cookie_is_refused() -> None:
    communicator = socket("not-a-signed-session")
    connected, _ = await communicator.connect()
    assert not connected


async def test_socket_from_another_origin_is_refused(cookie: str) -> None:
    communicator = socket(cookie, origin="https://evil.example")
    connected, _ = await communicator.connect()
    assert not connected


async def test_chat_streams_text_and_tool_call_then_sends_the_trace(
    committed_app: App, cookie: str
) -> None:
    llm = ScriptedLLM(
        [
            Reply(
                thinking="Need facts.",
                tool_calls=[ScriptedToolCall("lookup", {"topic": "otters"}, "c1")],
            ),
            Reply(text=["Otters ", "hold ", "hands."]),
        ]
    )
    with override_runtime(committed_app.id, llms={"default": llm}, tools={"lookup": lookup}):
        communicator = socket(cookie)
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to(
            {"type": "send", "app": committed_app.id, "agent": "helper", "text": "otters?"}
        )
        frames = await frames_until_trace(communicator)
        await communicator.disconnect()

    events = a2a(frames)
    assert events[0]["kind"] == "task"
    assert events[0]["status"]["state"] == "submitted"
    assert data_parts(events, "thinking") == [{"hector_type": "thinking", "text": "Need facts."}]
    [call] = data_parts(events, "tool_call")
    assert call["name"] == "lookup"
    assert call["arguments"] == {"topic": "otters"}
    [result] = data_parts(events, "tool_result")
    assert result["content"] == "facts about otters"
    chunks = [e for e in events if e["kind"] == "artifact-update"]
    assert [p["text"] for c in chunks for p in c["artifact"]["parts"]] == [
        "Otters ",
        "hold ",
        "hands.",
        "",
    ]
    assert events[-1]["final"] is True
    assert events[-1]["status"]["state"] == "completed"

    trace = frames[-1]
    assert trace["type"] == "trace"
    assert trace["context_id"] == events[0]["contextId"]
    assert (trace["state"], trace["waiting"], trace["todos"]) == ("completed", None, None)
    [turn] = trace["turns"]
    assert turn["user"] == "otters?"
    assert turn["answer"] == "Otters hold hands."
    kinds = [item["kind"] for item in turn["items"]]
    assert kinds == ["llm", "thinking", "tool_call", "llm"]
    tool_item = turn["items"][2]
    assert tool_item["author"] == "helper"
    assert tool_item["result"] == "facts about otters"
    assert tool_item["done"] is True
    assert isinstance(tool_item["duration_ms"], int)
    assert turn["items"][0]["usage"]["input_tokens"] == 11


async def test_chat_is_recorded_as_a_task_of_the_studio_user(
    committed_app: App, cookie: str
) -> None:
    from apps.tasks.service import TaskService

    llm = ScriptedLLM([Reply(text="First."), Reply(text="Second.")])
    with override_runtime(committed_app.id, llms={"default": llm}):
        communicator = socket(cookie)
        await communicator.connect()
        await communicator.send_json_to(
            {"type": "send", "app": committed_app.id, "agent": "writer", "text": "one"}
        )
        first = a2a(await frames_until_trace(communicator))
        context_id = first[0]["contextId"]
        await communicator.send_json_to(
            {
                "type": "send",
                "app": committed_app.id,
                "agent": "writer",
                "text": "two",
                "context_id": context_id,
            }
        )
        second = await frames_until_trace(communicator)
        await communicator.disconnect()

    assert a2a(second)[0]["contextId"] == context_id  # the same session continues
    assert [t["answer"] for t in second[-1]["turns"]] == ["Second."]  # only the new turn
    page = await TaskService(committed_app).list(user_id="studio", context_id=context_id)
    assert {task.status.state for task in page.tasks} == {"completed"}
    assert len(page.tasks) == 2


async def test_a_failing_llm_is_shown_not_swallowed(committed_app: App, cookie: str) -> None:
    llm = ScriptedLLM([Failure(400, "model is not available")])
    with override_runtime(committed_app.id, llms={"default": llm}):
        communicator = socket(cookie)
        await communicator.connect()
        await communicator.send_json_to(
            {"type": "send", "app": committed_app.id, "agent": "writer", "text": "hi"}
        )
        frames = await frames_until_trace(communicator)
        await communicator.disconnect()

    last = a2a(frames)[-1]
    assert last["final"] is True
    assert last["status"]["state"] == "failed"
    message = "".join(p.get("text", "") for p in last["status"]["message"]["parts"])
    assert "model is not available" in message
    [turn] = frames[-1]["turns"]
    assert turn["status"] == "failed"
    assert "model is not available" in turn["error"]


async def test_unknown_agent_fails_the_task_with_its_name(committed_app: App, cookie: str) -> None:
    communicator = socket(cookie)
    await communicator.connect()
    await communicator.send_json_to(
        {"type": "send", "app": committed_app.id, "agent": "ghost", "text": "hi"}
    )
    frames = await frames_until_trace(communicator)
    await communicator.disconnect()

    failures = [frame for frame in frames if frame["type"] == "error"] + [
        e
        for e in a2a(frames)
        if e.get("kind") == "status-update" and e["status"]["state"] == "failed"
    ]
    assert failures
    assert "ghost" in str(failures[0])


async def test_bad_frames_get_an_error_frame(cookie: str) -> None:
    communicator = socket(cookie)
    await communicator.connect()
    await communicator.send_json_to({"type": "dance"})
    assert (await communicator.receive_json_from(timeout=TIMEOUT_S))["code"] == "bad_frame"
    await communicator.send_json_to({"type": "send", "agent": "helper", "text": "  "})
    error = await communicator.receive_json_from(timeout=TIMEOUT_S)
    assert error == {"type": "error", "message": "text: required", "code": "bad_frame"}
    await communicator.send_json_to(
        {"type": "send", "app": "no-such-app", "agent": "a", "text": "x"}
    )
    assert (await communicator.receive_json_from(timeout=TIMEOUT_S))["message"] == "App not found"
    await communicator.disconnect()
