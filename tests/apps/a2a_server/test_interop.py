"""Interop over a real socket: `hector serve` in a subprocess, driven by the official a2a-sdk
clients (its v1.0 client and its v0.3 compat client) and by raw JSON-RPC for exact wire shapes.

The default app's LLM is the Ollama wire fake (`tests/fakes/ollama_server.py`) running in this
process; each test scripts the replies it needs (a slow one for cancel and resubscribe).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import ClientConfig, ClientFactory
from a2a.client.base_client import BaseClient
from a2a.client.card_resolver import parse_agent_card
from a2a.compat.v0_3 import types as v03
from a2a.compat.v0_3.jsonrpc_transport import CompatJsonRpcTransport
from a2a.types import a2a_pb2 as pb
from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError

from tests.fakes.ollama_server import Fake
from tests.fakes.script import Reply, Script
from tests.live_server import LiveServer, start_live_server

pytestmark = pytest.mark.live

ANSWER = ["Hel", "lo ", "there"]
SLOW_CHUNKS = [f"w{i} " for i in range(12)]
SLOW = Reply(text=SLOW_CHUNKS, chunk_delay_s=0.25)
TIMEOUT_S = 30.0


@dataclass
class Server:
    live: LiveServer
    fake: Fake
    script: Script

    @property
    def agent_url(self) -> str:
        return f"{self.live.url}/agents/assistant"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    script = Script.of(default=Reply(text=ANSWER))
    fake = Fake(script)
    fake.start()
    data_dir: Path = tmp_path_factory.mktemp("a2a-interop") / "data"
    data_dir.mkdir(parents=True)
    (data_dir / "config.yaml").write_text(
        "llms:\n"
        f"  default: {{provider: ollama, model: qwen3, base_url: '{fake.url}'}}\n"
        "agents:\n"
        "  assistant: {llm: default, instruction: Be brief., description: Says hello.}\n"
        "  staff: {llm: default, visibility: internal}\n"
    )
    live = start_live_server(data_dir)
    try:
        yield Server(live, fake, script)
    finally:
        live.stop()
        fake.stop()


def user_message(text: str = "Hello", **fields: Any) -> pb.Message:
    return pb.Message(
        message_id=uuid.uuid4().hex,
        role=pb.Role.ROLE_USER,
        parts=[pb.Part(text=text)],
        **fields,
    )


async def v10_client(server: Server, *, streaming: bool, polling: bool = False) -> BaseClient:
    http = httpx.AsyncClient(timeout=TIMEOUT_S)
    factory = ClientFactory(ClientConfig(streaming=streaming, polling=polling, httpx_client=http))
    client = await factory.create_from_url(server.agent_url)
    assert not isinstance(client._transport, CompatJsonRpcTransport)  # type: ignore[attr-defined]
    return client  # type: ignore[return-value]


async def v03_client(server: Server, *, streaming: bool) -> BaseClient:
    """The SDK's v0.3 compat client, chosen by the SDK from our v0.3 card."""
    http = httpx.AsyncClient(timeout=TIMEOUT_S)
    card_json = (await http.get(server.agent_url)).json()  # no A2A-Version header: v0.3 card
    assert card_json["protocolVersion"] == "0.3.0"
    card = parse_agent_card(card_json)
    client = ClientFactory(ClientConfig(streaming=streaming, httpx_client=http)).create(card)
    assert isinstance(client._transport, CompatJsonRpcTransport)  # type: ignore[attr-defined]
    return client  # type: ignore[return-value]


async def collect(events: AsyncIterator[pb.StreamResponse]) -> list[pb.StreamResponse]:
    async with asyncio.timeout(TIMEOUT_S):
        return [event async for event in events]


def text_of(task: pb.Task) -> str:
    return "".join(part.text for artifact in task.artifacts for part in artifact.parts)


async def raw_rpc(
    server: Server, method: str, params: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
        response = await http.post(
            server.agent_url,
            json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
            headers=headers or {},
        )
    assert response.status_code == 200, response.text
    return response.json()


def raw_message(text: str = "Hello") -> dict[str, Any]:
    return {
        "kind": "message",
        "messageId": uuid.uuid4().hex,
        "role": "user",
        "parts": [{"kind": "text", "text": text}],
    }


# --- AC 7.a -------------------------------------------------------------------------------------


async def test_ac_7a_message_send_v03_raw(server: Server) -> None:
    body = await raw_rpc(server, "message/send", {"message": raw_message()})
    result = body["result"]
    v03.Task.model_validate(result)
    assert result["kind"] == "task"
    assert result["status"]["state"] == "completed"
    assert result["contextId"]
    assert result["artifacts"][0]["parts"][0]["text"] == "".join(ANSWER)


async def test_ac_7a_send_message_v10_raw(server: Server) -> None:
    params = {
        "message": {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": "Hi"}]}
    }
    body = await raw_rpc(server, "SendMessage", params, headers={"A2A-Version": "1.0"})
    assert body["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert "kind" not in body["result"]["task"]


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_blocking_send_with_the_sdk_client(server: Server, version: str) -> None:
    make = v10_client if version == "1.0" else v03_client
    client = await make(server, streaming=False)
    try:
        events = await collect(client.send_message(pb.SendMessageRequest(message=user_message())))
    finally:
        await client.close()
    assert len(events) == 1
    task = events[0].task
    assert task.status.state == pb.TaskState.TASK_STATE_COMPLETED
    assert text_of(task) == "".join(ANSWER)
    assert task.context_id


# --- AC 7.b: streaming --------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_stream_order_with_the_sdk_client(server: Server, version: str) -> None:
    make = v10_client if version == "1.0" else v03_client
    client = await make(server, streaming=True)
    try:
        events = await collect(client.send_message(pb.SendMessageRequest(message=user_message())))
    finally:
        await client.close()
    kinds = [event.WhichOneof("payload") for event in events]
    assert kinds[0] == "task"
    assert events[0].task.status.state == pb.TaskState.TASK_STATE_SUBMITTED
    assert "artifact_update" in kinds
    assert kinds[-1] == "status_update"
    assert events[-1].status_update.status.state == pb.TaskState.TASK_STATE_COMPLETED
    working = [
        e for e in events if e.HasField("status_update") and e.status_update.status.state == 2
    ]
    assert working, "a working update precedes the answer"
    streamed = "".join(
        part.text
        for e in events
        if e.HasField("artifact_update")
        for part in e.artifact_update.artifact.parts
    )
    assert streamed == "".join(ANSWER)


async def test_stream_v03_raw_ends_with_final_true(server: Server) -> None:
    frames: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
        request = {"jsonrpc": "2.0", "id": "s", "method": "message/stream"}
        request["params"] = {"message": raw_message()}
        async with http.stream("POST", server.agent_url, json=request) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    frames.append(json.loads(line[6:]))
    assert all(frame["id"] == "s" for frame in frames)
    results = [frame["result"] for frame in frames]
    assert results[0]["kind"] == "task"
    assert results[0]["status"]["state"] == "submitted"
    assert results[-1]["kind"] == "status-update"
    assert results[-1]["final"] is True
    assert results[-1]["status"]["state"] == "completed"
    assert [r["final"] for r in results if r["kind"] == "status-update"].count(True) == 1
    for frame in frames:
        v03.SendStreamingMessageSuccessResponse.model_validate(frame)


# --- get, list ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_get_task_with_history_length(server: Server, version: str) -> None:
    make = v10_client if version == "1.0" else v03_client
    client = await make(server, streaming=False)
    try:
        (sent,) = await collect(client.send_message(pb.SendMessageRequest(message=user_message())))
        task_id = sent.task.id
        full = await client.get_task(pb.GetTaskRequest(id=task_id))
        last = await client.get_task(pb.GetTaskRequest(id=task_id, history_length=1))
        with pytest.raises(TaskNotFoundError):
            await client.get_task(pb.GetTaskRequest(id="no-such-task"))
    finally:
        await client.close()
    assert [m.role for m in full.history] == [pb.Role.ROLE_USER, pb.Role.ROLE_AGENT]
    assert len(last.history) == 1
    assert last.history[0].role == pb.Role.ROLE_AGENT
    assert full.status.state == pb.TaskState.TASK_STATE_COMPLETED


async def test_list_tasks_v10_client_and_v03_raw(server: Server) -> None:
    client = await v10_client(server, streaming=False)
    try:
        (sent,) = await collect(client.send_message(pb.SendMessageRequest(message=user_message())))
        context_id = sent.task.context_id
        listed = await client.list_tasks(pb.ListTasksRequest(context_id=context_id))
    finally:
        await client.close()
    assert [task.id for task in listed.tasks] == [sent.task.id]
    assert listed.page_size == 1
    assert listed.total_size == 1
    body = await raw_rpc(server, "tasks/list", {"contextId": context_id, "pageSize": 5})
    result = body["result"]
    assert result["pageSize"] == 1
    assert result["totalSize"] == 1
    v03.Task.model_validate(result["tasks"][0])
    bad = await raw_rpc(server, "tasks/list", {"status": "sleeping"})
    assert bad["error"]["code"] == -32602


# --- cancel -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_cancel_of_a_completed_task_is_32002(server: Server, version: str) -> None:
    make = v10_client if version == "1.0" else v03_client
    client = await make(server, streaming=False)
    try:
        (sent,) = await collect(client.send_message(pb.SendMessageRequest(message=user_message())))
        with pytest.raises(TaskNotCancelableError):
            await client.cancel_task(pb.CancelTaskRequest(id=sent.task.id))
    finally:
        await client.close()


async def test_cancel_of_a_running_non_blocking_task(server: Server) -> None:
    server.script.extend([SLOW])
    client = await v10_client(server, streaming=False, polling=True)  # returnImmediately
    try:
        (sent,) = await collect(client.send_message(pb.SendMessageRequest(message=user_message())))
        assert sent.task.status.state in (
            pb.TaskState.TASK_STATE_SUBMITTED,
            pb.TaskState.TASK_STATE_WORKING,
        )
        canceled = await client.cancel_task(pb.CancelTaskRequest(id=sent.task.id))
        assert canceled.status.state == pb.TaskState.TASK_STATE_CANCELED
        after = await client.get_task(pb.GetTaskRequest(id=sent.task.id))
    finally:
        await client.close()
    assert after.status.state == pb.TaskState.TASK_STATE_CANCELED


async def test_cancel_of_a_streaming_task_ends_its_stream(server: Server) -> None:
    server.script.extend([SLOW])
    streamer = await v03_client(server, streaming=True)
    canceller = await v03_client(server, streaming=False)
    events: list[pb.StreamResponse] = []
    try:
        async with asyncio.timeout(TIMEOUT_S):
            stream = streamer.send_message(pb.SendMessageRequest(message=user_message()))
            async for event in stream:
                events.append(event)
                if event.HasField("artifact_update"):
                    break  # running: cancel from another connection, then read on
            task_id = events[0].task.id
            canceled = await canceller.cancel_task(pb.CancelTaskRequest(id=task_id))
            assert canceled.status.state == pb.TaskState.TASK_STATE_CANCELED
            resumed = await collect(streamer.subscribe(pb.SubscribeToTaskRequest(id=task_id)))
    finally:
        await streamer.close()
        await canceller.close()
    final = resumed[-1]
    state = final.task.status.state if final.HasField("task") else final.status_update.status.state
    assert state == pb.TaskState.TASK_STATE_CANCELED


# --- AC 7.f: resubscribe after dropping the SSE connection --------------------------------------


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_resubscribe_after_dropping_the_stream(server: Server, version: str) -> None:
    server.script.extend([SLOW])
    make = v10_client if version == "1.0" else v03_client
    first = await make(server, streaming=True)
    try:
        async with asyncio.timeout(TIMEOUT_S):
            seen: list[pb.StreamResponse] = []
            async for event in first.send_message(pb.SendMessageRequest(message=user_message())):
                seen.append(event)
                if event.HasField("artifact_update"):
                    break
    finally:
        await first.close()  # the SSE connection is gone mid-answer
    task_id = seen[0].task.id
    second = await make(server, streaming=True)
    try:
        resumed = await collect(second.subscribe(pb.SubscribeToTaskRequest(id=task_id)))
        done = await second.get_task(pb.GetTaskRequest(id=task_id))
    finally:
        await second.close()
    assert resumed, "the resubscription yields the current state"
    last = resumed[-1]
    assert last.HasField("status_update")
    assert last.status_update.status.state == pb.TaskState.TASK_STATE_COMPLETED
    assert done.status.state == pb.TaskState.TASK_STATE_COMPLETED
    assert text_of(done) == "".join(SLOW_CHUNKS)


async def test_resubscribe_to_a_finished_task_gives_it_once(server: Server) -> None:
    body = await raw_rpc(server, "message/send", {"message": raw_message()})
    task_id = body["result"]["id"]
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
        response = await http.post(
            server.agent_url,
            json={
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tasks/resubscribe",
                "params": {"id": task_id},
            },
        )
        missing = await http.post(
            server.agent_url,
            json={"jsonrpc": "2.0", "id": 4, "method": "SubscribeToTask", "params": {"id": "nope"}},
        )
    frames = [
        json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
    ]
    assert len(frames) == 1
    assert frames[0]["result"]["status"]["state"] == "completed"
    assert missing.headers["content-type"].startswith("text/event-stream")
    errors = [
        json.loads(line[6:]) for line in missing.text.splitlines() if line.startswith("data: ")
    ]
    assert [frame["error"]["code"] for frame in errors] == [-32001]


# --- The HTTP edge over a socket ----------------------------------------------------------------


async def test_http_edge_over_the_socket(server: Server) -> None:
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
        slash = await http.post(
            server.agent_url + "/",
            json={"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": "x"}},
        )
        assert slash.status_code == 200
        assert slash.json()["error"]["code"] == -32001
        not_json = await http.post(
            server.agent_url, content=b"not json", headers={"Content-Type": "application/json"}
        )
        assert not_json.json() == {
            "jsonrpc": "2.0",
            "id": None,
            "error": {"code": -32700, "message": "Parse error: body is not JSON"},
        }
        huge = await http.post(
            server.agent_url,
            content=b'{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"x":"'
            + b"a" * (10 * 1024 * 1024)
            + b'"}}',
            headers={"Content-Type": "application/json"},
        )
        assert huge.status_code == 413
        assert huge.json()["error"]["data"]["reason"] == "payload_too_large"
        unknown = await http.post(
            f"{server.live.url}/agents/nobody",
            json={"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": "x"}},
        )
        assert unknown.status_code == 404
        assert unknown.json() == {"error": 'agent "nobody" not found'}
        listed = (await http.get(f"{server.live.url}/agents")).json()
        assert [card["name"] for card in listed["agents"]] == ["assistant"]
        staff = await http.get(f"{server.live.url}/agents/staff")
        assert staff.status_code == 401
        secret = server.live.admin_secret()
        admin = (
            await http.get(
                f"{server.live.url}/agents", headers={"Authorization": f"Bearer {secret}"}
            )
        ).json()
        assert admin["total"] == 2
        card = await http.get(f"{server.live.url}/.well-known/agent-card.json")
        assert card.json()["url"] == server.agent_url
        cached = await http.get(
            f"{server.live.url}/.well-known/agent-card.json",
            headers={"If-None-Match": card.headers["ETag"]},
        )
        assert cached.status_code == 304


async def test_more_open_streams_than_database_connections(server: Server) -> None:
    """Each open SSE stream used to pin its request's pool connection (20 per process)."""
    streams = 40
    server.script.extend([Reply(text=["a", "b", "c"], chunk_delay_s=0.4)] * streams)

    async def one(http: httpx.AsyncClient, index: int) -> str:
        request = {"jsonrpc": "2.0", "id": index, "method": "message/stream"}
        request["params"] = {"message": raw_message()}
        last: dict[str, Any] = {}
        async with http.stream("POST", server.agent_url, json=request) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    last = json.loads(line[6:])
        return str(last["result"]["status"]["state"])

    limits = httpx.Limits(max_connections=streams + 5)
    async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits) as http:
        async with asyncio.timeout(60):
            states = await asyncio.gather(*(one(http, i) for i in range(streams)))
    assert states == ["completed"] * streams


async def test_more_blocking_sends_than_database_connections(server: Server) -> None:
    """A blocking send used to keep its request's pool connection while its run waited for
    another one: 20 concurrent sends drained the pool (20 per process) and none finished."""
    sends = 40
    server.script.extend([Reply(text=["a", "b"], chunk_delay_s=0.2)] * sends)

    async def one(http: httpx.AsyncClient, index: int) -> str:
        request = {"jsonrpc": "2.0", "id": index, "method": "message/send"}
        request["params"] = {"message": raw_message()}
        response = await http.post(server.agent_url, json=request)
        assert response.status_code == 200, response.text
        return str(response.json()["result"]["status"]["state"])

    limits = httpx.Limits(max_connections=sends + 5)
    async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits) as http:
        async with asyncio.timeout(60):
            states = await asyncio.gather(*(one(http, i) for i in range(sends)))
    assert states == ["completed"] * sends
