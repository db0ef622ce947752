"""The input-required round trip of an approval (SPEC 8, AC 8.c) over a real socket, with the
official a2a-sdk clients: a gated command pauses the task with an `approval_request` data part;
the answer on the same task approves (the command runs once) or denies (it never runs); a server
restart while the task waits keeps it resumable."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import ClientConfig, ClientFactory
from a2a.client.base_client import BaseClient
from a2a.client.card_resolver import parse_agent_card
from a2a.types import a2a_pb2 as pb
from google.protobuf import json_format, struct_pb2

from tests.fakes.ollama_server import Fake
from tests.fakes.script import Reply, Script, ScriptedToolCall
from tests.live_server import LiveServer, start_live_server

pytestmark = pytest.mark.live

TIMEOUT_S = 30.0


@dataclass
class Server:
    live: LiveServer
    fake: Fake
    script: Script
    data_dir: Path

    @property
    def agent_url(self) -> str:
        return f"{self.live.url}/agents/ops"

    def restart(self) -> None:
        self.live.stop()
        self.live = start_live_server(self.data_dir)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    script = Script.of(default=Reply(text="(no script)"))
    fake = Fake(script)
    fake.start()
    data_dir: Path = tmp_path_factory.mktemp("a2a-approvals") / "data"
    data_dir.mkdir(parents=True)
    (data_dir / "config.yaml").write_text(
        "llms:\n"
        f"  default: {{provider: ollama, model: qwen3, base_url: '{fake.url}'}}\n"
        "tools:\n"
        "  shell:\n"
        "    type: commandtool\n"
        "    allowed_commands: [touch]\n"
        "    approval_prompt: Run this command?\n"
        "agents:\n"
        "  ops: {llm: default, instruction: Operate., tools: [shell]}\n"
    )
    live = start_live_server(data_dir)
    server = Server(live, fake, script, data_dir)
    try:
        yield server
    finally:
        server.live.stop()
        fake.stop()


def workspace(server: Server) -> Path:
    return server.data_dir / "apps" / "default" / "workspace"


def touch(name: str) -> Reply:
    command = ScriptedToolCall("execute_command", {"command": f"touch {name}"}, f"call-{name}")
    return Reply(tool_calls=[command])


def message(*parts: pb.Part, task: pb.Task | None = None) -> pb.Message:
    fields: dict[str, Any] = {"task_id": task.id, "context_id": task.context_id} if task else {}
    return pb.Message(message_id=uuid.uuid4().hex, role=pb.Role.ROLE_USER, parts=parts, **fields)


def text(value: str) -> pb.Part:
    return pb.Part(text=value)


def data(value: dict[str, Any]) -> pb.Part:
    return pb.Part(data=json_format.ParseDict(value, struct_pb2.Value()))


async def client_for(server: Server, version: str) -> BaseClient:
    http = httpx.AsyncClient(timeout=TIMEOUT_S)
    if version == "1.0":
        factory = ClientFactory(ClientConfig(streaming=False, httpx_client=http))
        return await factory.create_from_url(server.agent_url)  # type: ignore[return-value]
    card = parse_agent_card((await http.get(server.agent_url)).json())  # the v0.3 card
    return ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)  # type: ignore[return-value]


async def send(client: BaseClient, msg: pb.Message) -> pb.Task:
    async with asyncio.timeout(TIMEOUT_S):
        (event,) = [e async for e in client.send_message(pb.SendMessageRequest(message=msg))]
    return event.task


def approval_request(task: pb.Task) -> dict[str, Any]:
    (request,) = [
        json_format.MessageToDict(part.data)
        for part in task.status.message.parts
        if part.HasField("data")
    ]
    return request


def answer_text(task: pb.Task) -> str:
    return "".join(part.text for artifact in task.artifacts for part in artifact.parts)


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_approve_with_a_data_part_runs_the_command_once(server: Server, version: str) -> None:
    name = f"approved-{version}"
    server.script.extend([touch(name), Reply(text="created it")])
    client = await client_for(server, version)
    try:
        paused = await send(client, message(text(f"create {name}")))
        assert paused.status.state == pb.TaskState.TASK_STATE_INPUT_REQUIRED
        request = approval_request(paused)
        assert request["hector_type"] == "approval_request"
        assert request["tool_name"] == "execute_command"
        assert request["arguments"] == {"command": f"touch {name}"}
        assert request["prompt"] == "Run this command?"
        assert not (workspace(server) / name).exists()

        decision = {"approval_id": request["approval_id"], "decision": "approve"}
        done = await send(client, message(data(decision), task=paused))
    finally:
        await client.close()
    assert done.id == paused.id
    assert done.status.state == pb.TaskState.TASK_STATE_COMPLETED
    assert answer_text(done) == "created it"
    assert (workspace(server) / name).exists()


async def test_deny_in_text_never_runs_it(server: Server) -> None:
    server.script.extend([touch("denied"), Reply(text="fine, I will not")])
    client = await client_for(server, "1.0")
    try:
        paused = await send(client, message(text("create denied")))
        assert paused.status.state == pb.TaskState.TASK_STATE_INPUT_REQUIRED
        done = await send(client, message(text("no, not today"), task=paused))
    finally:
        await client.close()
    assert done.status.state == pb.TaskState.TASK_STATE_COMPLETED
    assert answer_text(done) == "fine, I will not"
    assert not (workspace(server) / "denied").exists()
    # What the model was told: the denial, with the reason.
    last_request = server.fake.requests[-1].json()
    tool_messages = [m for m in last_request["messages"] if m["role"] == "tool"]
    assert tool_messages[-1]["content"].endswith("denied by user: not today")


async def test_a_pending_approval_survives_a_server_restart(server: Server) -> None:
    server.script.extend([touch("after-restart"), Reply(text="done after restart")])
    client = await client_for(server, "1.0")
    try:
        paused = await send(client, message(text("create after-restart")))
        assert paused.status.state == pb.TaskState.TASK_STATE_INPUT_REQUIRED
    finally:
        await client.close()
    server.restart()
    client = await client_for(server, "1.0")
    try:
        done = await send(client, message(text("approve"), task=paused))
    finally:
        await client.close()
    assert done.status.state == pb.TaskState.TASK_STATE_COMPLETED
    assert answer_text(done) == "done after restart"
    assert (workspace(server) / "after-restart").exists()
