"""Runner: sessions, scoped state, failures that keep what was stored, cancellation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from agents.config import HectorConfig
from agents.content import DataPart, FilePart, TextPart, ToolCallPart
from agents.events import ErrorEvent, FinalEvent, RunEvent, TextDeltaEvent, ToolCallEvent
from agents.llm.base import LLM, Message
from agents.llm.config import LLMConfig
from agents.llm_agent import INTERRUPTED_RESULT, status_of
from agents.runner import Runner
from agents.sessions import Event, InMemorySessionService
from agents.workflow import is_progress
from tests.fakes.script import Failure, Malformed, Reply, ScriptedToolCall, Step
from tests.fakes.scripted_llm import ScriptedLLM
from tools import tool
from tools.base import Tool, ToolContext


def make_config(agents: dict[str, Any], tools: dict[str, Any] | None = None) -> HectorConfig:
    return HectorConfig.model_validate(
        {
            "llms": {"default": {"provider": "ollama", "model": "qwen3"}},
            "agents": agents,
            "tools": tools or {},
        },
        context={"env": {}},
    )


def make_runner(
    steps: Sequence[Step],
    agents: dict[str, Any] | None = None,
    *,
    tools: Sequence[Tool] = (),
    tool_config: dict[str, Any] | None = None,
    sessions: InMemorySessionService | None = None,
    **runner_kwargs: Any,
) -> tuple[Runner, ScriptedLLM, InMemorySessionService]:
    llm = ScriptedLLM(steps)
    store = sessions or InMemorySessionService()
    agents = agents or {"assistant": {"instruction": "Be brief."}}
    runner = Runner(
        make_config(agents, tool_config),
        sessions=store,
        tools={t.name: t for t in tools},
        llms={"default": llm},
        **runner_kwargs,
    )
    return runner, llm, store


async def collect(
    runner: Runner, message: Any = "Hi", *, agent: str = "assistant", **kwargs: Any
) -> list[RunEvent]:
    kwargs.setdefault("user_id", "u1")
    return [e async for e in runner.run(agent=agent, message=message, **kwargs)]


def last(events: list[RunEvent]) -> FinalEvent | ErrorEvent:
    end = events[-1]
    assert isinstance(end, FinalEvent | ErrorEvent)
    return end


def statuses(events: Sequence[Event]) -> list[str]:
    return [s["state"] for e in events if (s := status_of(e)) is not None]


# --- sessions -------------------------------------------------------------------------------


async def test_a_run_creates_a_session_and_stores_the_turn() -> None:
    runner, _, store = make_runner([Reply(text="Hello!")])
    events = await collect(runner, user_id="alice")
    answer = last(events)
    assert isinstance(answer, FinalEvent)
    session = await store.get(answer.session_id)
    assert session is not None
    assert (session.user_id, session.agent) == ("alice", "assistant")
    stored = await store.list_events(session.id)
    assert [e.author for e in stored] == ["user", "assistant"]
    assert len({e.invocation_id for e in stored}) == 1


async def test_a_given_session_id_is_created_then_continued() -> None:
    runner, llm, store = make_runner([Reply(text="one"), Reply(text="two")])
    await collect(runner, "first", session_id="s-1", invocation_id="inv-a")
    await collect(runner, "second", session_id="s-1")
    assert texts_of(llm.requests[1].messages) == ["first", "one", "second"]
    stored = await store.list_events("s-1")
    assert [e.sequence for e in stored] == [1, 2, 3, 4]
    assert stored[0].invocation_id == "inv-a"


def texts_of(messages: Sequence[Message]) -> list[str]:
    return [p.text for m in messages for p in m.parts if isinstance(p, TextPart)]


async def test_a_session_of_another_user_is_refused() -> None:
    runner, llm, store = make_runner([Reply(text="mine")])
    await collect(runner, session_id="s-1", user_id="alice")
    events = await collect(runner, "let me in", session_id="s-1", user_id="mallory")
    failure = last(events)
    assert isinstance(failure, ErrorEvent)
    assert (failure.code, failure.message) == ("session_not_found", 'session "s-1" not found')
    assert len(await store.list_events("s-1")) == 2  # nothing written into alice's session
    assert len(llm.requests) == 1


async def test_message_parts_and_state_delta_are_stored_with_the_user_event() -> None:
    runner, llm, store = make_runner([Reply(text="nice picture")])
    image = FilePart("image/png", data=b"\x89PNG")
    message = Message("user", (TextPart("Look:"), image))
    events = await collect(runner, message, state_delta={"mood": "curious"})
    session_id = last(events).session_id or ""
    stored = await store.list_events(session_id)
    assert stored[0].parts == (TextPart("Look:"), image)
    assert stored[0].actions.state_delta == {"mood": "curious"}
    assert llm.requests[0].messages[0].parts == (TextPart("Look:"), image)
    session = await store.get(session_id)
    assert session is not None
    assert session.state == {"mood": "curious"}


# --- state scopes and templating ------------------------------------------------------------


async def test_temp_state_lives_only_for_the_invocation() -> None:
    seen: list[Any] = []

    @tool
    async def peek(context: ToolContext) -> str:
        """Look at temp state and add some."""
        seen.append(context.get_state("temp:topic"))
        context.state_delta["temp:scratch"] = "tool-note"
        context.state_delta["kept"] = "yes"
        return "ok"

    runner, llm, store = make_runner(
        [Reply(tool_calls=[ScriptedToolCall("peek", {}, "c1")]), Reply(text="done"), Reply("x")],
        {
            "assistant": {
                "instruction": "Topic {temp:topic?}; scratch {temp:scratch?}.",
                "tools": ["peek"],
            }
        },
        tools=[peek],
    )
    events = await collect(runner, state_delta={"temp:topic": "cats", "mood": "ok"})
    session_id = last(events).session_id or ""
    assert seen == ["cats"]
    assert [r.system for r in llm.requests] == [
        "Topic cats; scratch .",
        "Topic cats; scratch tool-note.",
    ]
    session = await store.get(session_id)
    assert session is not None
    assert session.state == {"mood": "ok", "kept": "yes"}  # AC 6.c: no temp: key stored
    for event in await store.list_events(session_id):
        assert not any(k.startswith("temp:") for k in event.actions.state_delta)

    await collect(runner, "again", session_id=session_id)
    assert llm.requests[2].system == "Topic ; scratch ."


async def test_ac_6a_user_scope_written_by_a_tool_follows_the_user() -> None:
    @tool
    def set_language(lang: str, context: ToolContext) -> str:
        """Remember the user's language."""
        context.state_delta["user:lang"] = lang
        return f"language set to {lang}"

    runner, llm, _ = make_runner(
        [
            Reply(tool_calls=[ScriptedToolCall("set_language", {"lang": "fr"}, "c1")]),
            Reply(text="D'accord."),
            Reply(text="Bonjour !"),
        ],
        {
            "setter": {"instruction": "Set things.", "tools": ["set_language"]},
            "reader": {"instruction": "Reply in {user:lang}."},
        },
        tools=[set_language],
    )
    assert isinstance(last(await collect(runner, agent="setter", user_id="alice")), FinalEvent)

    answer = last(await collect(runner, agent="reader", user_id="alice"))  # a new session
    assert isinstance(answer, FinalEvent)
    assert llm.requests[-1].system == "Reply in fr."

    other = last(await collect(runner, agent="reader", user_id="bob"))
    assert isinstance(other, ErrorEvent)
    assert other.message == 'instruction references missing state key "user:lang"'
    assert len(llm.requests) == 3  # bob's turn never reached the model


async def test_ac_4b_optional_and_required_user_name() -> None:
    runner, llm, store = make_runner(
        [Reply(text="Hello")],
        {
            "optional": {"instruction": "Hi {user:name?}!"},
            "required": {"instruction": "Hi {user:name}!"},
        },
    )
    assert isinstance(last(await collect(runner, agent="optional")), FinalEvent)
    assert llm.requests[0].system == "Hi !"

    failure = last(await collect(runner, agent="required"))
    assert isinstance(failure, ErrorEvent)
    assert failure.code == "instruction_missing_value"
    assert "user:name" in failure.message
    stored = await store.list_events(failure.session_id or "")
    assert stored[0].parts == (TextPart("Hi"),)  # the user's message is kept
    assert statuses(stored) == ["failed"]


async def test_artifacts_render_into_the_instruction() -> None:
    store = InMemorySessionService()
    session = await store.create(user_id="u1", agent="assistant", session_id="s-1")
    await store.save_artifact(session, name="context.md", data="v1", mime_type="text/markdown")
    await store.save_artifact(session, name="context.md", data="v2", mime_type="text/markdown")
    runner, llm, _ = make_runner(
        [Reply(text="ok")],
        {"assistant": {"instruction": "Context: {artifact.context.md}"}},
        sessions=store,
    )
    await collect(runner, session_id="s-1")
    assert llm.requests[0].system == "Context: v2"


async def test_instruction_file_wins_and_drops_its_front_matter(tmp_path: Path) -> None:
    skill = tmp_path / "SKILL.md"
    skill.write_text("---\nname: pirate\ndescription: Talks like a pirate\n---\nSay arr, {who?}.\n")
    runner, llm, _ = make_runner(
        [Reply(text="Arr")],
        {"assistant": {"instruction": "ignored", "instruction_file": "SKILL.md"}},
        base_dir=tmp_path,
    )
    await collect(runner, state_delta={"who": "matey"})
    assert llm.requests[0].system == "Say arr, matey."


# --- configuration of agents and tools --------------------------------------------------------


async def test_workflow_agents_run_through_the_runner() -> None:
    runner, _, store = make_runner(
        [Reply(text="from a")],
        {"a": {"instruction": "x"}, "pipeline": {"type": "sequential", "sub_agents": ["a"]}},
    )
    answer = last(await collect(runner, agent="pipeline"))
    assert isinstance(answer, FinalEvent)
    assert (answer.agent, answer.text) == ("pipeline", "from a")
    stored = await store.list_events(answer.session_id)
    assert [e.author for e in stored if not is_progress(e)] == ["user", "a"]


async def test_an_agent_cycle_built_in_code_is_an_error_not_a_recursion() -> None:
    runner, _, store = make_runner(
        [],
        {
            "a": {"type": "sequential", "sub_agents": ["b"]},
            "b": {"type": "sequential", "sub_agents": ["a"]},
        },
    )
    failure = last(await collect(runner, agent="a"))
    assert isinstance(failure, ErrorEvent)
    assert (failure.code, failure.message) == ("agent_cycle", "agent cycle: a -> b -> a")
    assert failure.session_id is None
    assert await store.list_sessions() == []


async def test_unknown_agent_is_an_error() -> None:
    runner, _, _ = make_runner([])
    failure = last(await collect(runner, agent="ghost"))
    assert isinstance(failure, ErrorEvent)
    assert (failure.code, failure.message) == (
        "agent_not_found",
        'agent "ghost" not found (configured: assistant)',
    )


async def test_function_tools_from_config_use_their_handler_and_settings() -> None:
    @tool(timeout_s=30)
    def find_customer(customer_id: int) -> dict[str, Any]:
        """Find a customer."""
        return {"id": customer_id, "name": "Ada"}

    runner, llm, _ = make_runner(
        [Reply(tool_calls=[ScriptedToolCall("lookup", {"customer_id": 1}, "c1")]), Reply("ok")],
        {"assistant": {"instruction": "x", "tools": ["lookup"]}},
        tools=[find_customer],
        tool_config={
            "lookup": {"type": "function", "handler": "find_customer", "description": "Lookup."}
        },
    )
    events = await collect(runner)
    assert isinstance(last(events), FinalEvent)
    spec = llm.requests[0].tools[0]
    assert (spec.name, spec.description) == ("lookup", "Lookup.")
    assert spec.parameters == find_customer.parameters
    agent = await runner._agent("assistant")
    assert agent.tools["lookup"].timeout_s == 30.0


async def test_a_missing_tool_is_a_clear_error() -> None:
    runner, _, _ = make_runner(
        [],
        {"assistant": {"instruction": "x", "tools": ["fs"]}},
        tool_config={"fs": {"type": "searchtool"}},
    )
    failure = last(await collect(runner))
    assert isinstance(failure, ErrorEvent)
    assert failure.code == "tool_unavailable"
    assert failure.message == (
        'agent "assistant": tool "fs" of type "searchtool" is not available in this runtime'
    )


def recording_factory(built: list[ScriptedLLM]) -> Callable[[LLMConfig], LLM]:
    """An LLM factory that answers "hi" and keeps every client it builds in `built`."""

    def factory(config: LLMConfig) -> LLM:
        client = ScriptedLLM([], model=config.model or "")
        client.script.default = Reply(text="hi")
        built.append(client)
        return client

    return factory


async def test_llm_clients_are_built_once_per_name_and_closed() -> None:
    built: list[ScriptedLLM] = []
    factory = recording_factory(built)

    runner = Runner(
        make_config({"a": {"instruction": "x"}, "b": {"instruction": "y"}}),
        sessions=InMemorySessionService(),
        llm_factory=factory,
    )
    await collect(runner, agent="a")
    await collect(runner, agent="b")
    await collect(runner, agent="a")
    assert len(built) == 1
    assert len(built[0].requests) == 3
    await runner.aclose()
    assert built[0].closed


def test_release_loop_closes_only_the_clients_of_the_running_loop() -> None:
    """A worker runs each task on a loop of its own: the clients that loop built are closed
    before it ends, and the next loop builds its own."""
    built: list[ScriptedLLM] = []
    factory = recording_factory(built)

    runner = Runner(
        make_config({"a": {"instruction": "x"}}),
        sessions=InMemorySessionService(),
        llm_factory=factory,
    )

    async def run_then_release() -> None:
        await collect(runner, agent="a")
        await runner.release_loop()

    async def run_only() -> None:
        await collect(runner, agent="a")

    asyncio.run(run_only())
    asyncio.run(run_then_release())
    assert len(built) == 2
    assert not built[0].closed  # another loop's client: left alone
    assert built[1].closed
    asyncio.run(run_then_release())
    assert len(built) == 3
    assert built[2].closed


async def test_given_llm_clients_are_not_closed() -> None:
    runner, llm, _ = make_runner([Reply(text="hi")])
    await collect(runner)
    await runner.aclose()
    assert not llm.closed


# --- failures keep what was stored ----------------------------------------------------------


async def test_provider_auth_error_ends_the_run_and_keeps_earlier_events() -> None:
    runner, _, store = make_runner([Reply(text="first answer"), Failure(401, "invalid x-api-key")])
    session_id = last(await collect(runner, "one")).session_id
    events = await collect(runner, "two", session_id=session_id)
    failure = last(events)
    assert isinstance(failure, ErrorEvent)
    assert failure.code == "llm_authentication"
    assert failure.message == "scripted 401: invalid x-api-key"
    assert failure.session_id == session_id
    stored = await store.list_events(session_id or "")
    assert [e.parts[0] for e in stored[:3]] == [
        TextPart("one"),
        TextPart("first answer"),
        TextPart("two"),
    ]
    assert statuses(stored) == ["failed"]


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (Failure(429, "slow down"), "llm_rate_limited"),
        (Failure(400, "bad tool schema"), "llm_bad_request"),
        (Failure(503, "overloaded"), "llm_unavailable"),
    ],
)
async def test_typed_llm_errors_have_stable_codes(failure: Failure, code: str) -> None:
    runner, _, _ = make_runner([failure])
    error = last(await collect(runner))
    assert isinstance(error, ErrorEvent)
    assert error.code == code
    assert failure.message in error.message


async def test_malformed_stream_keeps_the_events_written_before() -> None:
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    runner, _, store = make_runner(
        [Reply(tool_calls=[ScriptedToolCall("ping", {}, "c1")]), Malformed("partial ")],
        {"assistant": {"instruction": "x", "tools": ["ping"]}},
        tools=[ping],
    )
    events = await collect(runner)
    failure = last(events)
    assert isinstance(failure, ErrorEvent)
    assert failure.code == "llm_malformed_response"
    assert [e.text for e in events if isinstance(e, TextDeltaEvent)] == ["partial "]
    stored = await store.list_events(failure.session_id or "")
    assert [e.parts[0].kind for e in stored] == ["text", "tool_call", "tool_result", "data"]
    assert statuses(stored) == ["failed"]


# --- cancellation ---------------------------------------------------------------------------


async def consume_until(
    runner: Runner, seen: asyncio.Event, predicate: Any, **kwargs: Any
) -> asyncio.Task[list[RunEvent]]:
    async def consume() -> list[RunEvent]:
        events: list[RunEvent] = []
        async for event in runner.run(agent="assistant", user_id="u1", message="Hi", **kwargs):
            events.append(event)
            if predicate(event):
                seen.set()
        return events

    task = asyncio.create_task(consume())
    async with asyncio.timeout(5):
        await seen.wait()
    return task


async def test_cancel_mid_stream_stops_the_llm_and_records_canceled() -> None:
    runner, llm, store = make_runner(
        [Reply(text=["a", "b", "c", "d"], chunk_delay_s=2.0), Reply(text="after")]
    )
    seen = asyncio.Event()
    task = await consume_until(
        runner, seen, lambda e: isinstance(e, TextDeltaEvent), session_id="s-1"
    )
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - started < 0.5
    assert llm.streams_closed_early == 1
    stored = await store.list_events("s-1")
    assert [e.author for e in stored] == ["user", "assistant"]
    assert statuses(stored) == ["canceled"]

    # The session stays usable.
    assert isinstance(last(await collect(runner, "again", session_id="s-1")), FinalEvent)


async def test_cancel_mid_tool_cancels_the_running_calls() -> None:
    started_tools = asyncio.Event()
    cancelled: list[str] = []

    @tool
    async def slow(n: int) -> str:
        """Takes a long time."""
        started_tools.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(f"slow{n}")
            raise
        return "done"

    runner, llm, store = make_runner(
        [
            Reply(
                tool_calls=[
                    ScriptedToolCall("slow", {"n": 1}, "c1"),
                    ScriptedToolCall("slow", {"n": 2}, "c2"),
                ]
            ),
            Reply(text="recovered"),
        ],
        {"assistant": {"instruction": "x", "tools": ["slow"]}},
        tools=[slow],
    )
    seen = asyncio.Event()
    task = await consume_until(
        runner, seen, lambda e: isinstance(e, ToolCallEvent), session_id="s-1"
    )
    await started_tools.wait()
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - started < 0.5
    assert sorted(cancelled) == ["slow1", "slow2"]
    stored = await store.list_events("s-1")
    assert isinstance(stored[1].parts[0], ToolCallPart)
    assert statuses(stored) == ["canceled"]

    # The next turn replays the interrupted calls with error results, as providers require.
    assert isinstance(last(await collect(runner, "again", session_id="s-1")), FinalEvent)
    results = llm.requests[1].messages[2].parts
    assert [getattr(p, "content", None) for p in results[:2]] == [INTERRUPTED_RESULT] * 2


async def test_closing_the_stream_early_also_records_canceled() -> None:
    runner, _, store = make_runner([Reply(text=["a", "b"], chunk_delay_s=1.0)])
    events = runner.run(agent="assistant", user_id="u1", message="Hi", session_id="s-1")
    async for event in events:
        if isinstance(event, TextDeltaEvent):
            break
    await events.aclose()  # type: ignore[attr-defined]
    assert statuses(await store.list_events("s-1")) == ["canceled"]


async def test_stopping_after_final_is_not_a_cancel() -> None:
    runner, _, store = make_runner([Reply(text="done")])
    events = runner.run(agent="assistant", user_id="u1", message="Hi", session_id="s-1")
    async for event in events:
        if isinstance(event, FinalEvent):
            break
    await events.aclose()  # type: ignore[attr-defined]
    assert statuses(await store.list_events("s-1")) == []
    stored = await store.list_events("s-1")
    assert not any(isinstance(p, DataPart) for e in stored for p in e.parts)


async def test_closing_the_stream_mid_tool_cancels_the_calls() -> None:
    cancelled = asyncio.Event()

    @tool
    async def slow() -> str:
        """Takes a long time."""
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "done"

    @tool
    def quick() -> str:
        """Returns at once."""
        return "quick"

    runner, _, store = make_runner(
        [
            Reply(
                tool_calls=[ScriptedToolCall("slow", {}, "c1"), ScriptedToolCall("quick", {}, "c2")]
            )
        ],
        {"assistant": {"instruction": "x", "tools": ["slow", "quick"]}},
        tools=[slow, quick],
    )
    events = runner.run(agent="assistant", user_id="u1", message="Hi", session_id="s-1")
    async for event in events:
        if event.kind == "tool_result":  # quick finished; slow is still running
            break
    started = time.perf_counter()
    await events.aclose()  # type: ignore[attr-defined]
    assert time.perf_counter() - started < 0.5
    assert cancelled.is_set()
    assert statuses(await store.list_events("s-1")) == ["canceled"]
