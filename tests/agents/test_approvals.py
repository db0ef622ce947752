"""Human-in-the-loop approvals in the runtime (SPEC 8): a gated call pauses the turn with an
`approval_request`; the next message decides; approved calls run exactly once, denied ones answer
the model with the denial; built-in and MCP-style tools are gated through the same path."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agents.config import HectorConfig
from agents.content import DataPart, TextPart, ToolResultPart
from agents.events import ErrorEvent, FinalEvent, InterruptedEvent, RunEvent, ToolResultEvent
from agents.runner import Runner
from agents.sessions import InMemorySessionService
from tests.fakes.deploy import DEPLOYED as CALLS
from tests.fakes.deploy import deploy
from tests.fakes.script import Reply, ScriptedToolCall
from tests.fakes.scripted_llm import ScriptedLLM
from tools.approvals import InMemoryApprovalStore
from tools.builtin import BuiltinEnvironment, InMemoryMemoryStore


def make(
    replies: list[Reply],
    tools: dict[str, Any],
    *,
    server: dict[str, Any] | None = None,
    workspace: Path | None = None,
) -> tuple[Runner, ScriptedLLM, InMemoryApprovalStore, InMemorySessionService]:
    CALLS.clear()
    config = HectorConfig.model_validate(
        {
            "llms": {"default": {"provider": "ollama", "model": "qwen3"}},
            "agents": {"ops": {"instruction": "Operate.", "tools": list(tools)}},
            "tools": tools,
            "server": server or {},
        },
        context={"env": {}},
    )
    llm = ScriptedLLM(replies)
    approvals = InMemoryApprovalStore()
    sessions = InMemorySessionService()
    environment = (
        BuiltinEnvironment(app="t", workspace=workspace, memory=InMemoryMemoryStore())
        if workspace is not None
        else None
    )
    runner = Runner(
        config,
        sessions=sessions,
        tools={"deploy": deploy},
        llms={"default": llm},
        approvals=approvals,
        tool_environment=environment,
    )
    return runner, llm, approvals, sessions


GATED = {"deploy": {"type": "function", "handler": "deploy", "require_approval": True}}


def call(target: str = "prod", call_id: str = "c1") -> Reply:
    return Reply(tool_calls=[ScriptedToolCall("deploy", {"target": target}, call_id)])


async def turn(runner: Runner, message: Any, session: str = "s1") -> list[RunEvent]:
    return [
        e
        async for e in runner.run(
            agent="ops", user_id="alice", message=message, session_id=session, task_id="t1"
        )
    ]


async def test_a_gated_call_pauses_with_an_approval_request() -> None:
    runner, llm, approvals, _ = make([call(), Reply(text="done")], GATED)
    events = await turn(runner, "deploy it")
    paused = events[-1]
    assert isinstance(paused, InterruptedEvent)
    assert paused.state == "input-required"
    (request,) = paused.data
    assert request["hector_type"] == "approval_request"
    assert (request["tool_name"], request["arguments"]) == ("deploy", {"target": "prod"})
    assert request["prompt"] == 'Allow the agent to call "deploy"?'
    stored = await approvals.get(request["approval_id"])
    assert stored is not None
    assert (stored.state, stored.task_id) == ("pending", "t1")
    assert CALLS == []
    assert len(llm.requests) == 1  # no LLM call while waiting


@pytest.mark.parametrize(
    "answer",
    ["approve", "yes", [DataPart({"decision": "approve"})]],
)
async def test_approve_runs_the_call_once_and_the_model_continues(answer: Any) -> None:
    runner, llm, approvals, sessions = make([call(), Reply(text="all done")], GATED)
    await turn(runner, "deploy it")
    events = await turn(runner, answer)
    final = events[-1]
    assert isinstance(final, FinalEvent)
    assert final.text == "all done"
    assert CALLS == ["prod"]
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert [r.result for r in results] == ["deployed to prod"]
    # The decision message is not a conversation turn: the model sees call, result, answer.
    last_request = llm.requests[-1]
    assert [m.role for m in last_request.messages] == ["user", "assistant", "user"]
    assert "approve" not in str(last_request.messages)
    (approval,) = [a for a in approvals._rows.values()]
    assert (approval.state, approval.decided_by) == ("approved", "alice")
    # Asking again later never runs it again.
    again = await turn(runner, "thanks")
    assert isinstance(again[-1], FinalEvent | ErrorEvent)
    assert CALLS == ["prod"]
    events_text = str([e.parts for e in await sessions.list_events("s1")])
    assert events_text.count("deployed to prod") == 1


async def test_deny_tells_the_model_and_never_runs_the_tool() -> None:
    runner, llm, _, _ = make([call(), Reply(text="ok, not deploying")], GATED)
    paused = (await turn(runner, "deploy it"))[-1]
    assert isinstance(paused, InterruptedEvent)
    approval_id = paused.data[0]["approval_id"]
    answer = [DataPart({"approval_id": approval_id, "decision": "deny", "reason": "freeze"})]
    events = await turn(runner, answer)
    assert isinstance(events[-1], FinalEvent)
    assert CALLS == []
    tool_results = [
        p for m in llm.requests[-1].messages for p in m.parts if isinstance(p, ToolResultPart)
    ]
    assert [r.content for r in tool_results] == ["denied by user: freeze"]
    assert tool_results[0].is_error


@pytest.mark.parametrize(
    ("answer", "note"),
    [
        ("what would that do?", "that was not a decision"),
        (
            [DataPart({"approval_id": "ghost", "decision": "approve"})],
            'no pending approval "ghost"',
        ),
    ],
)
async def test_anything_but_a_decision_asks_again(answer: Any, note: str) -> None:
    runner, llm, _, _ = make([call(), Reply(text="done")], GATED)
    await turn(runner, "deploy it")
    events = await turn(runner, answer)
    (again,) = events
    assert isinstance(again, InterruptedEvent)
    assert note in again.message
    assert again.data[0]["tool_name"] == "deploy"
    assert CALLS == []
    assert len(llm.requests) == 1
    # The pending request can still be approved.
    final = (await turn(runner, "approve"))[-1]
    assert isinstance(final, FinalEvent)
    assert CALLS == ["prod"]


async def test_a_decision_made_elsewhere_resumes_on_any_message() -> None:
    runner, _, approvals, _ = make([call(), Reply(text="done")], GATED)
    paused = (await turn(runner, "deploy it"))[-1]
    assert isinstance(paused, InterruptedEvent)
    await approvals.decide(paused.data[0]["approval_id"], approved=True, decided_by="admin")
    final = (await turn(runner, [DataPart({"hector_type": "approval_decision"})]))[-1]
    assert isinstance(final, FinalEvent)
    assert CALLS == ["prod"]


async def test_an_expired_request_is_a_denial() -> None:
    runner, llm, approvals, _ = make(
        [call(), Reply(text="gave up")], GATED, server={"approval": {"timeout": "1ms"}}
    )
    await turn(runner, "deploy it")
    await asyncio.sleep(0.01)
    final = (await turn(runner, "approve"))[-1]
    assert isinstance(final, FinalEvent)
    assert CALLS == []
    (approval,) = approvals._rows.values()
    assert approval.state == "expired"
    results = [
        p for m in llm.requests[-1].messages for p in m.parts if isinstance(p, ToolResultPart)
    ]
    assert results[0].content == "denied by user: the approval request expired"


async def test_ungated_calls_of_the_same_round_wait_with_it() -> None:
    tools = {**GATED, "peek": {"type": "function", "handler": "deploy"}}
    reply = Reply(
        tool_calls=[
            ScriptedToolCall("peek", {"target": "staging"}, "c0"),
            ScriptedToolCall("deploy", {"target": "prod"}, "c1"),
        ]
    )
    runner, _, _, _ = make([reply, Reply(text="both done")], tools)
    paused = (await turn(runner, "go"))[-1]
    assert isinstance(paused, InterruptedEvent)
    assert len(paused.data) == 1
    assert CALLS == []  # nothing of the round ran
    final = (await turn(runner, "yes"))[-1]
    assert isinstance(final, FinalEvent)
    assert sorted(CALLS) == ["prod", "staging"]


async def test_builtin_write_asks_but_read_does_not(tmp_path: Path) -> None:
    tools = {"files": {"type": "filetool"}}
    write = ScriptedToolCall("write_file", {"path": "a.txt", "content": "hi"}, "w1")
    read = ScriptedToolCall("read_file", {"path": "a.txt"}, "r1")
    runner, _, _, _ = make(
        [Reply(tool_calls=[write]), Reply(tool_calls=[read]), Reply(text="read it")],
        tools,
        workspace=tmp_path,
    )
    paused = (await turn(runner, "write then read"))[-1]
    assert isinstance(paused, InterruptedEvent)
    assert paused.data[0]["tool_name"] == "write_file"
    assert not (tmp_path / "a.txt").exists()
    events = await turn(runner, "approve")
    assert isinstance(events[-1], FinalEvent)
    assert (tmp_path / "a.txt").read_text() == "hi"
    reads = [e for e in events if isinstance(e, ToolResultEvent) and e.name == "read_file"]
    assert len(reads) == 1
    assert "hi" in str(reads[0].result)


async def test_the_webhook_decides_before_anyone_is_asked() -> None:
    from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response

    class Hook(FakeHTTPServer):
        def handle(self, request: RecordedRequest) -> Response:
            return Response(body={"approved": True})

    hook = Hook()
    hook.start()
    try:
        runner, _, approvals, _ = make(
            [call(), Reply(text="done")], GATED, server={"approval": {"webhook_url": hook.url}}
        )
        events = await turn(runner, "deploy it")
    finally:
        hook.stop()
    assert isinstance(events[-1], FinalEvent)
    assert CALLS == ["prod"]
    (approval,) = approvals._rows.values()
    assert (approval.state, approval.decided_by) == ("approved", "webhook")


async def test_text_of_a_normal_turn_is_not_taken_for_a_decision() -> None:
    runner, _, _, sessions = make([Reply(text="hello"), Reply(text="bye")], GATED)
    await turn(runner, "hi")
    events = await turn(runner, "no")  # nothing waits: an ordinary message
    assert isinstance(events[-1], FinalEvent)
    assert events[-1].text == "bye"
    texts = [
        p.text for e in await sessions.list_events("s1") for p in e.parts if isinstance(p, TextPart)
    ]
    assert texts == ["hi", "hello", "no", "bye"]
