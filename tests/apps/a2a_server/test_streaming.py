"""SSE: message/stream, SendStreamingMessage, tasks/resubscribe and SubscribeToTask (SPEC 7.4)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from a2a.compat.v0_3 import types as v03
from a2a.types import a2a_pb2 as pb
from google.protobuf.json_format import ParseDict

from agents.content import ThinkingPart
from agents.tasks import StatusUpdate, TaskMessage, TaskStatus, UnsupportedOperation
from apps.a2a_server import views
from tests.apps.a2a_server.conftest import (
    APP_ID,
    FakeTaskService,
    make_task,
    message,
    rpc,
    sse_payloads,
)

pytestmark = pytest.mark.django_db(transaction=False)

AGENT = f"/apps/{APP_ID}/agents/assistant"
NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


async def test_message_stream_v03_order_and_final_frame(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post(
        AGENT, json=rpc("message/stream", {"message": message()}, rpc_id="s-1")
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    frames = sse_payloads(response.text)
    assert all(frame["id"] == "s-1" for frame in frames)
    results = [frame["result"] for frame in frames]
    for frame in frames:
        v03.SendStreamingMessageSuccessResponse.model_validate(frame)
    assert results[0]["kind"] == "task"
    assert results[0]["status"]["state"] == "submitted"
    assert [r["kind"] for r in results[1:]] == [
        "status-update",
        "artifact-update",
        "artifact-update",
        "status-update",
    ]
    assert results[1]["status"]["state"] == "working"
    assert results[3]["append"] is True
    assert results[-1]["final"] is True
    assert results[-1]["status"]["state"] == "completed"
    assert service.calls[0][0] == "stream"
    assert service.stream_closed.is_set()


async def test_send_streaming_message_v10_events(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    params = {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]}}
    response = await client.post(AGENT, json=rpc("SendStreamingMessage", params))
    results = [frame["result"] for frame in sse_payloads(response.text)]
    assert [next(iter(r)) for r in results] == [
        "task",
        "statusUpdate",
        "artifactUpdate",
        "artifactUpdate",
        "statusUpdate",
    ]
    for result in results:
        ParseDict(result, pb.StreamResponse())
    assert results[0]["task"]["status"]["state"] == "TASK_STATE_SUBMITTED"
    assert results[-1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"


async def test_stream_ends_after_the_final_update(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    service.script.append(StatusUpdate("task-1", "ctx-1", TaskStatus("working", NOW)))
    response = await client.post(AGENT, json=rpc("message/stream", {"message": message()}))
    results = [frame["result"] for frame in sse_payloads(response.text)]
    assert results[-1]["final"] is True
    assert len(results) == 5
    assert service.stream_closed.is_set()


async def test_keep_alive_pings(
    client: httpx.AsyncClient, service: FakeTaskService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "PING_INTERVAL_S", 0.02)
    service.event_delay_s = 0.1
    service.script = service.script[:2] + service.script[-1:]
    response = await client.post(AGENT, json=rpc("message/stream", {"message": message()}))
    assert ": ping\n\n" in response.text
    assert sse_payloads(response.text)[-1]["result"]["final"] is True


async def test_thinking_in_streams_only_when_asked(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    thinking = TaskMessage("m-t", "agent", (ThinkingPart("pondering"),))
    service.script.insert(2, StatusUpdate("task-1", "ctx-1", TaskStatus("working", NOW, thinking)))
    plain = await client.post(AGENT, json=rpc("message/stream", {"message": message()}))
    assert "pondering" not in plain.text
    asked = await client.post(
        AGENT,
        json=rpc("message/stream", {"message": message(), "metadata": {"include_thinking": True}}),
    )
    assert "pondering" in asked.text
    assert '"hector_type":"thinking"' in asked.text


async def test_upfront_stream_errors_are_plain_jsonrpc(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    service.fail_with = UnsupportedOperation("busy", data={"reason": "session_busy"})
    response = await client.post(AGENT, json=rpc("message/stream", {"message": message()}))
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == -32004
    bad = await client.post(AGENT, json=rpc("message/stream", {}))
    assert bad.json()["error"]["code"] == -32602


async def test_resubscribe_unknown_task_is_one_sse_error_frame(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    for method in ("tasks/resubscribe", "SubscribeToTask"):
        response = await client.post(AGENT, json=rpc(method, {"id": "missing"}, rpc_id=9))
        assert response.headers["Content-Type"].startswith("text/event-stream")
        frames = sse_payloads(response.text)
        assert len(frames) == 1
        assert frames[0]["id"] == 9
        assert frames[0]["error"]["code"] == -32001


async def test_resubscribe_errors_before_the_service_are_sse_too(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post(AGENT, json=rpc("tasks/resubscribe", {}))
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert sse_payloads(response.text)[0]["error"]["code"] == -32602


async def test_resubscribe_on_a_terminal_task_emits_the_task_once(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post(AGENT, json=rpc("tasks/resubscribe", {"id": "task-1"}))
    frames = sse_payloads(response.text)
    assert len(frames) == 1
    assert frames[0]["result"]["kind"] == "task"
    assert frames[0]["result"]["status"]["state"] == "completed"


async def test_resubscribe_to_a_running_task_follows_it_to_the_end(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    service.tasks["task-1"] = make_task("working", text="")
    response = await client.post(
        AGENT, json=rpc("SubscribeToTask", {"id": "task-1"}), headers={"A2A-Version": "1.0"}
    )
    results = [frame["result"] for frame in sse_payloads(response.text)]
    assert next(iter(results[0])) == "statusUpdate"
    assert results[-1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"


async def test_errors_mid_stream_end_it_with_an_error_frame(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    class Boom(Exception):
        pass

    original = service.stream

    async def failing(**kwargs: object):  # type: ignore[no-untyped-def]
        async for event in original(**kwargs):
            yield event
            raise Boom("secret detail")

    service.stream = failing  # type: ignore[method-assign]
    response = await client.post(AGENT, json=rpc("message/stream", {"message": message()}))
    frames = sse_payloads(response.text)
    assert frames[0]["result"]["kind"] == "task"
    assert frames[-1]["error"] == {"code": -32603, "message": "Internal error"}
    assert "secret detail" not in response.text
