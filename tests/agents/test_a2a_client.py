"""The A2A client against a reference server built from the a2a-sdk's own server components
(Starlette routes, DefaultRequestHandler, an echo AgentExecutor) under uvicorn, for both protocol
versions; malformed replies come from a tiny stdlib server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from a2a.helpers.proto_helpers import new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import AgentCapabilities, AgentCard, Task, TaskState, TaskStatus
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agents import a2a_client
from agents.a2a_client import (
    A2AClient,
    AgentCardError,
    InvalidAgentResponse,
    RemoteAgentError,
    RemoteAgentTimeout,
    RemoteAgentUnreachable,
    RemoteTaskNotCancelable,
    RemoteTaskNotFound,
)
from agents.content import DataPart, FilePart, TextPart, text_of
from agents.tasks import ArtifactUpdate, StatusUpdate, TaskMessage
from agents.tasks import Task as DomainTask
from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response
from tools.ssrf import SSRFBlocked

LOCAL = ["127.0.0.1"]
VERSIONS = ["1.0", "0.3"]


# --- the reference server -----------------------------------------------------------------------


class EchoExecutor(AgentExecutor):
    """`ask` -> input-required; `wait` -> works until cancelled; anything else -> echoed back
    as artifact `response` in two chunks."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id
        assert context.context_id
        assert context.message
        if context.current_task is None:
            await event_queue.enqueue_event(
                Task(
                    id=context.task_id,
                    context_id=context.context_id,
                    status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
                    history=[context.message],
                )
            )
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        text = context.get_user_input()
        await updater.start_work()
        if text == "ask":
            await updater.requires_input(updater.new_agent_message([new_text_part("need more")]))
            return
        if text == "wait":
            await asyncio.sleep(5)
        await updater.add_artifact(
            [new_text_part("echo: ")], artifact_id="response", name="response"
        )
        await updater.add_artifact(
            [new_text_part(text)], artifact_id="response", append=True, last_chunk=True
        )
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id
        assert context.context_id
        await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


def card_v10(base: str, *, streaming: bool) -> dict[str, Any]:
    return {
        "name": "echo",
        "description": "Echoes text.",
        "version": "1.0.0",
        "supportedInterfaces": [
            {"url": f"{base}/v1", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
        ],
        "capabilities": {"streaming": streaming},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [],
    }


def card_v03(base: str, *, streaming: bool) -> dict[str, Any]:
    return {
        "protocolVersion": "0.3.0",
        "name": "echo",
        "description": "Echoes text.",
        "url": f"{base}/v03",
        "preferredTransport": "JSONRPC",
        "version": "1.0.0",
        "capabilities": {"streaming": streaming, "pushNotifications": False},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [],
    }


def reference_app() -> Starlette:
    handler = DefaultRequestHandler(
        agent_executor=EchoExecutor(),
        task_store=InMemoryTaskStore(),
        agent_card=AgentCard(
            name="echo",
            description="Echoes text.",
            version="1.0.0",
            capabilities=AgentCapabilities(streaming=True),
        ),
    )

    def card_route(path: str, build: Any, streaming: bool) -> Route:
        async def card(request: Request) -> JSONResponse:
            return JSONResponse(build(str(request.base_url).rstrip("/"), streaming=streaming))

        return Route(f"{path}/.well-known/agent-card.json", card)

    return Starlette(
        routes=[
            *create_jsonrpc_routes(handler, "/v1"),
            *create_jsonrpc_routes(handler, "/v03", enable_v0_3_compat=True),
            card_route("/v1", card_v10, True),
            card_route("/v03", card_v03, True),
            card_route("/v1-polling", card_v10, False),
            card_route("/v03-polling", card_v03, False),
        ]
    )


@pytest.fixture(scope="module")
def reference_url() -> Iterator[str]:
    """uvicorn on its own thread and loop, so the server outlives each test's event loop."""
    server = uvicorn.Server(
        uvicorn.Config(
            reference_app(),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            timeout_graceful_shutdown=1,  # streams of cancelled tests must not hold teardown
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def agent_path(version: str, *, streaming: bool = True) -> str:
    path = "/v1" if version == "1.0" else "/v03"
    return path if streaming else f"{path}-polling"


@pytest.fixture
async def client(reference_url: str, request: pytest.FixtureRequest) -> AsyncIterator[A2AClient]:
    version = request.param
    async with A2AClient(
        url=reference_url + agent_path(version), allowed_hosts=LOCAL, timeout_s=10
    ) as remote:
        assert remote.protocol_version == version
        yield remote


def user_message(text: str, *extra: Any) -> TaskMessage:
    return TaskMessage(message_id=str(uuid.uuid4()), role="user", parts=(TextPart(text), *extra))


def artifact_text(task: DomainTask) -> str:
    return "".join(text_of(a.parts) for a in task.artifacts)


async def collect(stream: AsyncIterator[Any]) -> list[Any]:
    return [update async for update in stream]


both_versions = pytest.mark.parametrize("client", VERSIONS, indirect=True)


# --- send, get, cancel ----------------------------------------------------------------------------


@both_versions
async def test_send_returns_the_completed_task(client: A2AClient) -> None:
    data = DataPart({"n": 1, "tags": ["a"]})
    file = FilePart("text/plain", data=b"notes", name="notes.txt")
    task = await client.send(user_message("hello", data, file))

    assert task.status.state == "completed"
    assert task.agent == "echo"
    assert task.context_id
    assert artifact_text(task) == "echo: hello"
    sent = task.history[0]
    assert sent.role == "user"
    assert sent.parts == (TextPart("hello"), data, file)


@both_versions
async def test_input_required_propagates(client: A2AClient) -> None:
    task = await client.send(user_message("ask"))

    assert task.status.state == "input-required"
    assert task.status.message is not None
    assert text_of(task.status.message.parts) == "need more"


@both_versions
async def test_get_returns_the_task(client: A2AClient) -> None:
    sent = await client.send(user_message("hello"))
    task = await client.get(sent.id)

    assert (task.id, task.status.state) == (sent.id, "completed")
    assert artifact_text(task) == "echo: hello"


@both_versions
async def test_remote_errors_keep_the_remote_message(client: A2AClient) -> None:
    with pytest.raises(RemoteTaskNotFound) as not_found:
        await client.get("no-such-task")
    assert not_found.value.rpc_code == -32001
    assert not_found.value.message == "Task not found"

    done = await client.send(user_message("hello"))
    with pytest.raises(RemoteTaskNotCancelable) as not_cancelable:
        await client.cancel(done.id)
    assert not_cancelable.value.rpc_code == -32002
    assert "cannot be canceled" in not_cancelable.value.message


# --- streaming ------------------------------------------------------------------------------------


@both_versions
async def test_stream_yields_task_then_updates_then_final_status(client: A2AClient) -> None:
    updates = await collect(client.stream(user_message("hello")))

    first, *middle, last = updates
    assert isinstance(first, DomainTask)
    assert first.status.state == "submitted"
    assert isinstance(last, StatusUpdate)
    assert (last.final, last.status.state) == (True, "completed")
    chunks = [u for u in middle if isinstance(u, ArtifactUpdate)]
    assert [text_of(c.artifact.parts) for c in chunks] == ["echo: ", "hello"]
    assert [c.append for c in chunks] == [False, True]
    assert chunks[-1].last_chunk
    assert {u.task_id for u in updates[1:]} == {first.id}


@both_versions
async def test_cancel_stops_a_running_task(client: A2AClient) -> None:
    stream = client.stream(user_message("wait"))
    first = await anext(stream)
    assert isinstance(first, DomainTask)

    canceled = await client.cancel(first.id)

    assert canceled.status.state == "canceled"
    async with asyncio.timeout(5):
        rest = await collect(stream)
    assert isinstance(rest[-1], StatusUpdate)
    assert (rest[-1].final, rest[-1].status.state) == (True, "canceled")


@pytest.mark.parametrize("version", VERSIONS)
async def test_stream_polls_when_the_card_has_no_streaming(
    reference_url: str, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(a2a_client, "POLL_INITIAL_S", 0.05)
    url = reference_url + agent_path(version, streaming=False)
    async with A2AClient(url=url, allowed_hosts=LOCAL, timeout_s=10) as remote:
        assert not remote.supports_streaming
        updates = await collect(remote.stream(user_message("hello")))

    first, *middle, last = updates
    assert isinstance(first, DomainTask)
    assert isinstance(last, StatusUpdate)
    assert (last.final, last.status.state) == (True, "completed")
    chunks = [u for u in middle if isinstance(u, ArtifactUpdate)]
    if first.status.state != "completed":  # the send answered before the echo finished
        assert [text_of(c.artifact.parts) for c in chunks] == ["echo: hello"]


async def test_polling_backs_off_from_one_second_to_ten(monkeypatch: pytest.MonkeyPatch) -> None:
    """The delays `stream` waits between polls, without waiting them."""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    remote = A2AClient(url="http://127.0.0.1:9/", allowed_hosts=LOCAL)
    task = _domain_task("working")
    polls = iter([*["working"] * 6, "completed"])

    async def fake_get(task_id: str, *, history_length: int | None = None) -> DomainTask:
        return _domain_task(next(polls))

    monkeypatch.setattr(a2a_client.asyncio, "sleep", fake_sleep)
    monkeypatch.setattr(remote, "get", fake_get)
    updates = await collect(remote._poll(task))
    await remote.aclose()

    assert slept == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert isinstance(updates[-1], StatusUpdate)
    assert updates[-1].final


def _domain_task(state: Any) -> DomainTask:
    from datetime import UTC, datetime

    from agents.tasks import TaskStatus as DomainStatus

    return DomainTask(
        id="t1",
        context_id="c1",
        agent="echo",
        user_id="",
        status=DomainStatus(state=state, timestamp=datetime(2026, 1, 1, tzinfo=UTC)),
    )


# --- timeouts, card sources -----------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_send_times_out(reference_url: str, version: str) -> None:
    url = reference_url + agent_path(version)
    async with A2AClient(url=url, allowed_hosts=LOCAL, timeout_s=0.5) as remote:
        started = time.monotonic()
        with pytest.raises(RemoteAgentTimeout):
            await remote.send(user_message("wait"))
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("version", VERSIONS)
async def test_stream_times_out(reference_url: str, version: str) -> None:
    url = reference_url + agent_path(version)
    async with A2AClient(url=url, allowed_hosts=LOCAL, timeout_s=0.5) as remote:
        with pytest.raises(RemoteAgentTimeout):
            await collect(remote.stream(user_message("wait")))


async def test_card_from_file_and_explicit_card_url(reference_url: str, tmp_path: Path) -> None:
    card_file = tmp_path / "card.json"
    card_file.write_text(json.dumps(card_v10(reference_url, streaming=True)))
    async with A2AClient(agent_card_file=card_file, allowed_hosts=LOCAL) as remote:
        assert remote.protocol_version == "1.0"
        assert (await remote.send(user_message("hi"))).status.state == "completed"

    card_url = f"{reference_url}/v03/.well-known/agent-card.json"
    async with A2AClient(agent_card_url=card_url, allowed_hosts=LOCAL) as remote:
        assert remote.protocol_version == "0.3"
        assert (await remote.send(user_message("hi"))).status.state == "completed"


async def test_card_without_a_v1_interface_means_v03(tmp_path: Path, reference_url: str) -> None:
    card = card_v10(reference_url, streaming=True)
    card["supportedInterfaces"][0]["protocolVersion"] = ""
    card["supportedInterfaces"][0]["url"] = f"{reference_url}/v03"
    card_file = tmp_path / "card.json"
    card_file.write_text(json.dumps(card))
    async with A2AClient(agent_card_file=card_file, allowed_hosts=LOCAL) as remote:
        assert remote.protocol_version == "0.3"
        assert (await remote.send(user_message("hi"))).status.state == "completed"


async def test_missing_card_is_a_clear_error(reference_url: str) -> None:
    remote = A2AClient(url=f"{reference_url}/nothing", allowed_hosts=LOCAL)
    with pytest.raises(AgentCardError, match="HTTP 404"):
        await remote.send(user_message("hi"))
    await remote.aclose()


# --- malformed replies (a stdlib server that says whatever the test wants) ------------------------


class ScriptedAgent(FakeHTTPServer):
    """Serves a card for `version` pointing at itself, and answers every call with `reply`."""

    def __init__(self, version: str, reply: Response) -> None:
        super().__init__()
        self.version = version
        self.reply = reply

    def handle(self, request: RecordedRequest) -> Response:
        if request.method == "GET":
            build = card_v10 if self.version == "1.0" else card_v03
            return Response(200, build(self.url, streaming=False))
        return self.reply


def jsonrpc_error(code: int, message: str) -> Response:
    return Response(200, {"jsonrpc": "2.0", "id": "1", "error": {"code": code, "message": message}})


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Response(200, "not json at all", content_type="text/plain"), InvalidAgentResponse),
        (Response(200, {"jsonrpc": "2.0", "id": "1"}), InvalidAgentResponse),
        (Response(200, [1, 2, 3]), InvalidAgentResponse),
        (Response(200, {"jsonrpc": "2.0", "id": "1", "error": "boom"}), InvalidAgentResponse),
        (Response(200, {"jsonrpc": "2.0", "id": "1", "result": 42}), InvalidAgentResponse),
        (Response(500, {"error": "down"}), RemoteAgentUnreachable),
    ],
)
async def test_malformed_replies_are_clear_errors(
    version: str, reply: Response, error: type[Exception]
) -> None:
    with ScriptedAgent(version, reply) as agent:
        async with A2AClient(url=agent.url, allowed_hosts=LOCAL, timeout_s=5) as remote:
            with pytest.raises(error):
                await remote.get("t1")


@pytest.mark.parametrize("version", VERSIONS)
async def test_unknown_remote_error_code_keeps_code_and_message(version: str) -> None:
    with ScriptedAgent(version, jsonrpc_error(-32099, "quota exhausted")) as agent:
        async with A2AClient(url=agent.url, allowed_hosts=LOCAL, timeout_s=5) as remote:
            with pytest.raises(RemoteAgentError) as caught:
                await remote.get("t1")
    assert caught.value.message == "quota exhausted"
    if version == "1.0":  # the SDK's v0.3 transport drops codes it does not know
        assert caught.value.rpc_code == -32099


@pytest.mark.parametrize("version", VERSIONS)
async def test_headers_and_version_header_reach_the_remote(version: str) -> None:
    with ScriptedAgent(version, jsonrpc_error(-32001, "Task not found")) as agent:
        async with A2AClient(
            url=agent.url, allowed_hosts=LOCAL, headers={"X-Api-Key": "k1"}
        ) as remote:
            with pytest.raises(RemoteTaskNotFound):
                await remote.get("t1")
    card_request, call = agent.requests
    assert card_request.path == "/.well-known/agent-card.json"
    assert card_request.headers["x-api-key"] == call.headers["x-api-key"] == "k1"
    assert call.headers["a2a-version"] == version
    assert call.body["method"] == ("GetTask" if version == "1.0" else "tasks/get")


# --- SSRF -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://10.1.2.3/agent", "http://169.254.169.254/", "http://[::ffff:192.168.0.1]/"]
)
async def test_private_host_is_refused(url: str) -> None:
    remote = A2AClient(url=url)
    with pytest.raises(SSRFBlocked):
        await remote.send(user_message("hi"))
    await remote.aclose()


async def test_loopback_needs_allowed_hosts(reference_url: str) -> None:
    remote = A2AClient(url=reference_url + "/v1")
    with pytest.raises(SSRFBlocked, match="loopback"):
        await remote.connect()
    await remote.aclose()


async def test_card_cannot_point_the_client_at_a_private_host(
    reference_url: str, tmp_path: Path
) -> None:
    card_file = tmp_path / "card.json"
    card_file.write_text(json.dumps(card_v10("http://localhost:9", streaming=True)))
    remote = A2AClient(agent_card_file=card_file, allowed_hosts=LOCAL)
    with pytest.raises(SSRFBlocked, match="localhost resolves to"):
        await remote.connect()
    await remote.aclose()
