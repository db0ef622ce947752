"""Issue "Tools", end to end: one agent with an MCP toolset on each transport (stdio, SSE,
streamable HTTP), every built-in toolset and an approval-gated command, driven over A2A by the
official a2a-sdk client against `hector serve` in a subprocess. The model (the Ollama wire fake)
calls every tool in one round; the gated calls pause the task until the client approves, then
every result reaches the model's next request."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import ClientConfig, ClientFactory
from a2a.types import a2a_pb2 as pb
from google.protobuf import json_format

from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response
from tests.fakes.ollama_server import Fake
from tests.fakes.script import Reply, Script, ScriptedToolCall
from tests.live_server import start_live_server
from tests.tools.mcp_servers.support import LAB_SERVER, free_port, http_server, lab_http

pytestmark = pytest.mark.live

TIMEOUT_S = 60.0


class Page(FakeHTTPServer):
    def handle(self, request: RecordedRequest) -> Response:
        html = b"<html><body><h1>Status</h1><p>All systems nominal.</p></body></html>"
        return Response(stream=[html], content_type="text/html")


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    server = Page()
    server.start()
    yield server
    server.stop()


def config(llm_url: str, sse_port: int, http_port: int) -> str:
    body = {
        "llms": {"default": {"provider": "ollama", "model": "qwen3", "base_url": llm_url}},
        "tools": {
            "lab_stdio": {
                "type": "mcp",
                "command": sys.executable,
                "args": [str(LAB_SERVER)],
                "prefix": "stdio_",
            },
            "lab_sse": {"type": "mcp", "url": f"http://127.0.0.1:{sse_port}/sse", "prefix": "sse_"},
            "lab_http": {
                "type": "mcp",
                "url": f"http://127.0.0.1:{http_port}/mcp",
                "prefix": "http_",
            },
            "files": {"type": "filetool"},
            "web": {"type": "webtool", "allowed_hosts": ["127.0.0.1"]},
            "shell": {"type": "commandtool", "allowed_commands": ["echo"]},
            "memory": {"type": "memorytool"},
            "todo": {"type": "todotool"},
            "ask": {"type": "approvaltool"},
        },
        "agents": {
            "ops": {
                "llm": "default",
                "instruction": "Use every tool.",
                "tools": [
                    "lab_stdio",
                    "lab_sse",
                    "lab_http",
                    "files",
                    "web",
                    "shell",
                    "memory",
                    "todo",
                    "ask",
                ],
            }
        },
    }
    return json.dumps(body)  # JSON is YAML


def calls(page_url: str) -> list[ScriptedToolCall]:
    todo = [{"id": "1", "content": "check status", "status": "in_progress"}]
    return [
        ScriptedToolCall("stdio_echo", {"text": "over stdio"}, "c-stdio"),
        ScriptedToolCall("sse_echo", {"text": "over sse"}, "c-sse"),
        ScriptedToolCall("http_forecast", {"city": "Oslo"}, "c-http"),
        ScriptedToolCall("write_file", {"path": "notes.txt", "content": "hello"}, "c-write"),
        ScriptedToolCall("web_fetch", {"url": page_url}, "c-web"),
        ScriptedToolCall("execute_command", {"command": "echo gated"}, "c-cmd"),
        ScriptedToolCall("remember", {"content": "the user likes tea"}, "c-mem"),
        ScriptedToolCall("todo_write", {"todos": todo}, "c-todo"),
        ScriptedToolCall("request_approval", {"action": "ship it", "reason": "done"}, "c-ask"),
    ]


async def send(client: Any, message: pb.Message) -> pb.Task:
    async with asyncio.timeout(TIMEOUT_S):
        (event,) = [e async for e in client.send_message(pb.SendMessageRequest(message=message))]
    return event.task


def text_message(text: str, task: pb.Task | None = None) -> pb.Message:
    fields = {"task_id": task.id, "context_id": task.context_id} if task else {}
    return pb.Message(
        message_id=uuid.uuid4().hex, role=pb.Role.ROLE_USER, parts=[pb.Part(text=text)], **fields
    )


async def test_every_tool_over_a2a_with_approvals(tmp_path: Path, page: Page) -> None:
    script = Script()
    fake = Fake(script)
    fake.start()
    sse_port, http_port = free_port(), free_port()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with (
        http_server(lab_http("sse", sse_port), sse_port),
        http_server(lab_http("streamable-http", http_port), http_port),
    ):
        (data_dir / "config.yaml").write_text(config(fake.url, sse_port, http_port))
        live = start_live_server(data_dir)
        try:
            script.extend([Reply(tool_calls=calls(f"{page.url}/status")), Reply(text="all done")])
            http = httpx.AsyncClient(timeout=TIMEOUT_S)
            factory = ClientFactory(ClientConfig(streaming=False, httpx_client=http))
            client = await factory.create_from_url(f"{live.url}/agents/ops")
            try:
                paused = await send(client, text_message("do everything"))
                assert paused.status.state == pb.TaskState.TASK_STATE_INPUT_REQUIRED
                requests = [
                    json_format.MessageToDict(part.data)
                    for part in paused.status.message.parts
                    if part.HasField("data")
                ]
                # Writes, commands and explicit requests ask; reads, MCP, memory, todo do not.
                assert sorted(r["tool_name"] for r in requests) == [
                    "execute_command",
                    "request_approval",
                    "write_file",
                ]
                workspace = data_dir / "apps" / "default" / "workspace"
                assert not (workspace / "notes.txt").exists()
                done = await send(client, text_message("approve", paused))
            finally:
                await client.close()
        finally:
            live.stop()
            fake.stop()
    assert done.status.state == pb.TaskState.TASK_STATE_COMPLETED, done.status
    assert (workspace / "notes.txt").read_text() == "hello"
    final_request = fake.requests[-1].json()
    results = {
        m.get("tool_name") or str(i): m["content"]
        for i, m in enumerate(final_request["messages"])
        if m["role"] == "tool"
    }
    flat = json.dumps(results)
    for expected in (
        "over stdio",
        "over sse",
        "Oslo",
        "All systems nominal",
        "gated",
        "check status",
        "ship it",
    ):
        assert expected in flat, (expected, results)
    assert "denied" not in flat
    assert "error" not in flat.lower(), results
