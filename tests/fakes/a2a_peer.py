"""A reference A2A peer built from the a2a-sdk's own server parts, run in its own process.

`python -m tests.fakes.a2a_peer` serves, on a free port of 127.0.0.1, one echo agent over v1.0
JSON-RPC at `/v1` and over v0.3 at `/v03` (each with its card under
`<path>/.well-known/agent-card.json`) and prints `PORT <n>` when it listens. `start_peer()` does
that from a test and stops it afterwards.

What the agent does with the user's text: `ask` -> input-required ("Which account?"); an answer
to that question -> completed with `got: <answer>`; `wait` -> works for 30 s (a slow peer);
`fail` -> failed ("peer could not do it"); anything else -> `echo: <text>` streamed as two
artifact chunks.

`BadPeer` is the opposite: an in-process peer with a valid card that answers every call with
whatever the test wants (malformed JSON, a JSON-RPC error, an HTTP error).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _app() -> Any:
    import uvicorn  # noqa: F401  (imported here: the parent test process never needs it)
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

    class PeerExecutor(AgentExecutor):
        async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
            assert context.task_id
            assert context.context_id
            assert context.message
            answering = context.current_task is not None
            if not answering:
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
            if answering:
                await updater.add_artifact(
                    [new_text_part(f"got: {text}")], artifact_id="response", name="response"
                )
                await updater.complete()
                return
            if text == "ask":
                question = updater.new_agent_message([new_text_part("Which account?")])
                await updater.requires_input(question)
                return
            if text == "fail":
                await updater.failed(
                    updater.new_agent_message([new_text_part("peer could not do it")])
                )
                return
            if text == "wait":
                await asyncio.sleep(30)
            await updater.update_status(
                TaskState.TASK_STATE_WORKING,
                updater.new_agent_message([new_text_part("thinking about it")]),
            )
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

    handler = DefaultRequestHandler(
        agent_executor=PeerExecutor(),
        task_store=InMemoryTaskStore(),
        agent_card=AgentCard(
            name="peer",
            description="Echoes, asks, fails.",
            version="1.0.0",
            capabilities=AgentCapabilities(streaming=True),
        ),
    )

    def card(base: str, path: str) -> dict[str, Any]:
        common = {
            "name": "peer",
            "description": "Echoes, asks, fails.",
            "version": "1.0.0",
            "capabilities": {"streaming": True},
            "defaultInputModes": ["text/plain"],
            "defaultOutputModes": ["text/plain"],
            "skills": [],
        }
        if path == "/v1":
            interface = {"url": base + path, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
            return {**common, "supportedInterfaces": [interface]}
        return {
            **common,
            "protocolVersion": "0.3.0",
            "url": base + path,
            "preferredTransport": "JSONRPC",
        }

    def card_route(path: str) -> Route:
        async def serve(request: Request) -> JSONResponse:
            return JSONResponse(card(str(request.base_url).rstrip("/"), path))

        return Route(f"{path}/.well-known/agent-card.json", serve)

    return Starlette(
        routes=[
            *create_jsonrpc_routes(handler, "/v1"),
            *create_jsonrpc_routes(handler, "/v03", enable_v0_3_compat=True),
            card_route("/v1"),
            card_route("/v03"),
        ]
    )


def main() -> None:
    import uvicorn

    config = uvicorn.Config(
        _app(), host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)

    def announce() -> None:
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    server.run()


@dataclass
class Peer:
    process: subprocess.Popen[str]
    port: int
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_peer(timeout_s: float = 20.0) -> Peer:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.a2a_peer"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("PORT "):
            peer = Peer(process, int(line.split()[1]), lines)
            threading.Thread(target=_drain, args=(process, lines), daemon=True).start()
            return peer
    process.kill()
    raise RuntimeError("A2A peer did not start:\n" + "".join(lines))


def _drain(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)


class BadPeer(FakeHTTPServer):
    """Serves a v1.0 card pointing at itself; answers every call with `reply`."""

    def __init__(self, reply: Response) -> None:
        super().__init__()
        self.reply = reply

    def handle(self, request: RecordedRequest) -> Response:
        if request.method == "GET":
            interface = {"url": self.url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
            card = {
                "name": "bad",
                "description": "Misbehaves.",
                "version": "1",
                "supportedInterfaces": [interface],
                "capabilities": {"streaming": False},
                "defaultInputModes": ["text/plain"],
                "defaultOutputModes": ["text/plain"],
                "skills": [],
            }
            return Response(200, card)
        return self.reply


if __name__ == "__main__":
    main()
