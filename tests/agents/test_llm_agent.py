"""The `llm` agent loop, driven through the runner with an in-process ScriptedLLM."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import pytest

from agents import llm_agent
from agents.config import ContextConfig, HectorConfig
from agents.content import DataPart, TextPart, ThinkingPart, ToolCallPart, ToolResultPart
from agents.events import (
    ErrorEvent,
    EventStored,
    FinalEvent,
    RunEvent,
    StatusEvent,
    TextDeltaEvent,
    ThinkingEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from agents.llm.base import Message, Thinking
from agents.llm_agent import INTERRUPTED_RESULT, RUNTIME_AUTHOR, build_history, status_event
from agents.runner import Runner
from agents.sessions import Event, InMemorySessionService
from tests.fakes.script import Reply, ScriptedToolCall, Step
from tests.fakes.scripted_llm import ScriptedLLM
from tools import tool
from tools.base import Tool, ToolContext

# --- helpers --------------------------------------------------------------------------------


def make_config(llm: dict[str, Any] | None = None, **agent: Any) -> HectorConfig:
    return HectorConfig.model_validate(
        {
            "llms": {"default": {"provider": "ollama", "model": "qwen3", **(llm or {})}},
            "agents": {"assistant": {"instruction": "Be brief.", **agent}},
        },
        context={"env": {}},
    )


class Harness:
    def __init__(
        self,
        steps: Sequence[Step],
        *,
        tools: Sequence[Tool] = (),
        llm: dict[str, Any] | None = None,
        **agent: Any,
    ) -> None:
        self.llm = ScriptedLLM(steps)
        self.sessions = InMemorySessionService()
        config = make_config(llm, tools=[t.name for t in tools], **agent)
        self.runner = Runner(
            config,
            sessions=self.sessions,
            tools={t.name: t for t in tools},
            llms={"default": self.llm},
        )

    async def run(self, message: str = "Hi", **kwargs: Any) -> list[RunEvent]:
        kwargs.setdefault("user_id", "u1")
        return [e async for e in self.runner.run(agent="assistant", message=message, **kwargs)]

    async def events(self, session_id: str) -> list[Event]:
        return await self.sessions.list_events(session_id)


def final(events: list[RunEvent]) -> FinalEvent:
    last = events[-1]
    assert isinstance(last, FinalEvent), last
    return last


def error(events: list[RunEvent]) -> ErrorEvent:
    last = events[-1]
    assert isinstance(last, ErrorEvent), last
    return last


def call(name: str, call_id: str, **arguments: Any) -> ScriptedToolCall:
    return ScriptedToolCall(name, arguments, call_id)


# --- answers and streaming ------------------------------------------------------------------


async def test_plain_answer_streams_then_stores_then_finishes() -> None:
    harness = Harness([Reply(text=["Hel", "lo", "!"])])
    events = await harness.run()
    kinds = [e.kind for e in events]
    assert kinds == [
        "event_stored",
        "text_delta",
        "text_delta",
        "text_delta",
        "event_stored",
        "final",
    ]
    assert [e.text for e in events if isinstance(e, TextDeltaEvent)] == ["Hel", "lo", "!"]
    answer = final(events)
    assert (answer.agent, answer.text, answer.output) == ("assistant", "Hello!", None)
    stored = await harness.events(answer.session_id)
    assert [(e.author, e.role, e.parts) for e in stored] == [
        ("user", "user", (TextPart("Hi"),)),
        ("assistant", "agent", (TextPart("Hello!"),)),
    ]
    assert stored[1].usage == {"input_tokens": 11, "output_tokens": 7, "thinking_tokens": 0}


async def test_request_carries_instruction_history_and_llm_settings() -> None:
    harness = Harness(
        [Reply(text="ok")],
        llm={"temperature": 0.2, "max_tokens": 512},
        global_instruction="You work for ACME.",
    )
    await harness.run("Hello")
    request = harness.llm.requests[0]
    assert request.system == "You work for ACME.\n\nBe brief."
    assert request.messages == (Message("user", (TextPart("Hello"),)),)
    assert (request.temperature, request.max_tokens, request.thinking) == (0.2, 512, None)
    assert request.tools == ()
    assert request.output_schema is None


async def test_instruction_is_rendered_again_every_llm_call() -> None:
    @tool
    async def set_mood(mood: str, context: ToolContext) -> str:
        """Set the mood."""
        context.state_delta["mood"] = mood
        return "ok"

    harness = Harness(
        [Reply(tool_calls=[call("set_mood", "c1", mood="happy")]), Reply(text="done")],
        tools=[set_mood],
        instruction="Mood: {mood?}",
    )
    await harness.run()
    assert [r.system for r in harness.llm.requests] == ["Mood: ", "Mood: happy"]


# --- tools ----------------------------------------------------------------------------------


def sleeper(name: str, *, sync: bool = False) -> Tool:
    if sync:

        def blocking(seconds: float) -> str:
            """Sleep in a thread."""
            time.sleep(seconds)
            return f"{name} slept"

        return tool(name=name)(blocking)

    async def sleeping(seconds: float) -> str:
        """Sleep."""
        await asyncio.sleep(seconds)
        return f"{name} slept"

    return tool(name=name)(sleeping)


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
async def test_parallel_tool_calls_run_concurrently(sync: bool) -> None:
    a, b = sleeper("nap_a", sync=sync), sleeper("nap_b", sync=sync)
    harness = Harness(
        [
            Reply(tool_calls=[call("nap_a", "c1", seconds=0.2), call("nap_b", "c2", seconds=0.2)]),
            Reply(text="Both done."),
        ],
        tools=[a, b],
    )
    started = time.perf_counter()
    events = await harness.run()
    assert time.perf_counter() - started < 0.35
    assert final(events).text == "Both done."
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert sorted(r.call_id for r in results) == ["c1", "c2"]
    assert all(150 <= r.duration_ms < 350 for r in results)

    # The second request replays the calls and their results, in call order.
    messages = harness.llm.requests[1].messages
    assert [m.role for m in messages] == ["user", "assistant", "user"]
    assert [p.call_id for p in messages[1].parts if isinstance(p, ToolCallPart)] == ["c1", "c2"]
    assert messages[2].parts == (
        ToolResultPart("c1", "nap_a", "nap_a slept"),
        ToolResultPart("c2", "nap_b", "nap_b slept"),
    )
    assert [s.name for s in harness.llm.requests[0].tools] == ["nap_a", "nap_b"]


async def test_events_of_a_tool_round_come_in_order() -> None:
    harness = Harness(
        [
            Reply(text="Let me check.", tool_calls=[call("nap_a", "c1", seconds=0)]),
            Reply(text="ok"),
        ],
        tools=[sleeper("nap_a")],
    )
    events = await harness.run()
    assert [e.kind for e in events] == [
        "event_stored",  # user
        "text_delta",
        "tool_call",
        "event_stored",  # model turn: text + call
        "tool_result",
        "event_stored",  # results
        "text_delta",
        "event_stored",  # answer
        "final",
    ]
    call_event = next(e for e in events if isinstance(e, ToolCallEvent))
    assert (call_event.name, dict(call_event.arguments)) == ("nap_a", {"seconds": 0})
    model_turn = events[3]
    assert isinstance(model_turn, EventStored)
    assert model_turn.event.parts == (
        TextPart("Let me check."),
        ToolCallPart("c1", "nap_a", {"seconds": 0}),
    )


async def test_tool_error_goes_back_to_the_model_and_the_run_continues() -> None:
    @tool
    def lookup(customer_id: int) -> str:
        """Look a customer up."""
        raise LookupError(f"no customer {customer_id}")

    harness = Harness(
        [Reply(tool_calls=[call("lookup", "c1", customer_id=7)]), Reply(text="Not found, sorry.")],
        tools=[lookup],
    )
    events = await harness.run()
    assert final(events).text == "Not found, sorry."
    result = next(e for e in events if isinstance(e, ToolResultEvent))
    assert (result.is_error, result.result) == (True, "LookupError: no customer 7")
    sent = harness.llm.requests[1].messages[-1].parts
    assert sent == (ToolResultPart("c1", "lookup", "LookupError: no customer 7", is_error=True),)


async def test_unknown_tool_and_bad_arguments_are_error_results() -> None:
    harness = Harness(
        [
            Reply(tool_calls=[call("nope", "c1"), call("nap_a", "c2", seconds="soon")]),
            Reply(text="ok"),
        ],
        tools=[sleeper("nap_a")],
    )
    events = await harness.run()
    results = {e.call_id: e for e in events if isinstance(e, ToolResultEvent)}
    assert results["c1"].result == 'unknown tool "nope" (available: nap_a)'
    assert results["c2"].is_error
    assert "seconds: Input should be a valid number" in results["c2"].result
    assert final(events).text == "ok"


async def test_tool_timeout_is_an_error_result() -> None:
    harness = Harness(
        [Reply(tool_calls=[call("nap", "c1", seconds=5)]), Reply(text="gave up")],
        tools=[tool(name="nap", timeout_s=0.05)(sleeper("x").fn)],  # type: ignore[attr-defined]
    )
    started = time.perf_counter()
    events = await harness.run()
    assert time.perf_counter() - started < 1
    result = next(e for e in events if isinstance(e, ToolResultEvent))
    assert result.result == 'tool "nap" timed out after 0.05s'


async def test_long_tool_results_are_truncated() -> None:
    @tool
    def dump() -> str:
        """Lots of output."""
        return "0123456789" * 10

    harness = Harness(
        [Reply(tool_calls=[call("dump", "c1")]), Reply(text="ok")],
        tools=[dump],
        llm={"max_tool_output_length": 12},
    )
    events = await harness.run()
    result = next(e for e in events if isinstance(e, ToolResultEvent))
    assert result.result == "012345678901...[truncated]"
    assert harness.llm.requests[1].messages[-1].parts[0] == ToolResultPart(
        "c1", "dump", "012345678901...[truncated]"
    )


async def test_max_iterations_stops_a_tool_loop() -> None:
    harness = Harness([], tools=[sleeper("nap_a")], reasoning={"max_iterations": 2})
    harness.llm.script.default = Reply(tool_calls=[ScriptedToolCall("nap_a", {"seconds": 0})])
    events = await harness.run()
    failure = error(events)
    assert failure.code == "max_iterations_exceeded"
    assert failure.message == (
        'agent "assistant" reached reasoning.max_iterations (2) without a final answer'
    )
    assert len(harness.llm.requests) == 2
    stored = await harness.events(failure.session_id or "")
    # user, (calls, results) x 2, failed status: nothing lost.
    assert len(stored) == 6
    assert stored[-1].parts[0] == DataPart(
        {"hector_type": "status", "state": "failed", "message": failure.message}
    )


# --- output_key / output_schema -------------------------------------------------------------


async def test_output_key_writes_the_final_text_to_state() -> None:
    harness = Harness([Reply(text="A first draft.")], output_key="draft")
    events = await harness.run()
    session = await harness.sessions.get(final(events).session_id)
    assert session is not None
    assert session.state["draft"] == "A first draft."
    stored = await harness.events(session.id)
    assert stored[-1].actions.state_delta == {"draft": "A first draft."}


SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}, "why": {"type": "string"}},
    "required": ["answer"],
}


async def test_output_schema_valid_answer() -> None:
    harness = Harness([Reply(text='{"answer": 42}')], output_schema=SCHEMA, output_key="result")
    events = await harness.run()
    answer = final(events)
    assert (answer.text, answer.output) == ('{"answer": 42}', {"answer": 42})
    assert harness.llm.requests[0].output_schema == SCHEMA
    stored = await harness.events(answer.session_id)
    assert stored[-1].parts == (TextPart('{"answer": 42}'), DataPart({"answer": 42}))
    # The parsed value goes to output_key, so templates and routers can read its fields.
    assert stored[-1].actions.state_delta == {"result": {"answer": 42}}


async def test_output_schema_tolerates_code_fences() -> None:
    harness = Harness([Reply(text='```json\n{"answer": 1}\n```')], output_schema=SCHEMA)
    assert final(await harness.run()).output == {"answer": 1}


async def test_output_schema_gets_one_repair_turn() -> None:
    harness = Harness(
        [Reply(text='{"answer": "forty-two"}'), Reply(text='{"answer": 42}')],
        output_schema=SCHEMA,
    )
    events = await harness.run()
    assert final(events).output == {"answer": 42}
    status = next(e for e in events if isinstance(e, StatusEvent))
    assert "$.answer: 'forty-two' is not of type 'integer'" in status.message
    repair = harness.llm.requests[1].messages
    assert [m.role for m in repair] == ["user", "assistant", "user"]
    assert repair[1].parts == (TextPart('{"answer": "forty-two"}'),)
    text = repair[2].parts[0]
    assert isinstance(text, TextPart)
    assert text.text.startswith("Your answer does not match the required output schema: $.answer")
    stored = await harness.events(final(events).session_id)
    assert [e.author for e in stored] == ["user", "assistant", RUNTIME_AUTHOR, "assistant"]


async def test_output_schema_fails_after_the_repair_turn() -> None:
    harness = Harness([Reply(text="forty-two"), Reply(text='{"why": "no"}')], output_schema=SCHEMA)
    events = await harness.run()
    failure = error(events)
    assert failure.code == "output_schema_invalid"
    assert failure.message == (
        "output does not match output_schema after one repair attempt: "
        "$: 'answer' is a required property"
    )
    stored = await harness.events(failure.session_id or "")
    texts = [e.parts[0] for e in stored]
    assert texts[1] == TextPart("forty-two")
    assert texts[3] == TextPart('{"why": "no"}')  # the invalid answers are kept


async def test_invalid_json_names_the_parse_error() -> None:
    harness = Harness([Reply(text="{nope"), Reply(text="{still nope")], output_schema=SCHEMA)
    failure = error(await harness.run())
    assert "the answer is not valid JSON (Expecting property name" in failure.message


# --- thinking -------------------------------------------------------------------------------


async def test_thinking_is_streamed_stored_with_signature_and_replayed() -> None:
    harness = Harness(
        [
            Reply(thinking=["Let me ", "think."], text="42", thinking_signature="sig-1"),
            Reply(text="Still 42."),
        ],
        llm={"thinking": {"budget_tokens": 2048}},
    )
    events = await harness.run("Meaning of life?")
    thinking = [e for e in events if isinstance(e, ThinkingEvent)]
    assert [(t.text, t.signature) for t in thinking] == [("Let me ", None), ("think.", "sig-1")]
    answer = final(events)
    assert answer.text == "42"  # never mixed into the answer
    assert "".join(e.text for e in events if isinstance(e, TextDeltaEvent)) == "42"
    stored = await harness.events(answer.session_id)
    assert stored[-1].parts == (ThinkingPart("Let me think.", "sig-1"), TextPart("42"))

    await harness.run("Sure?", session_id=answer.session_id)
    request = harness.llm.requests[1]
    assert request.thinking == Thinking(budget_tokens=2048)
    assert request.messages[1] == Message(
        "assistant", (ThinkingPart("Let me think.", "sig-1"), TextPart("42"))
    )


# --- history --------------------------------------------------------------------------------


def user(text: str) -> Event:
    return Event(author="user", role="user", parts=(TextPart(text),))


def said(text: str, author: str = "assistant") -> Event:
    return Event(author=author, role="agent", parts=(TextPart(text),))


def calls(*ids: str) -> Event:
    return Event(
        author="assistant", role="agent", parts=tuple(ToolCallPart(i, "t", {}) for i in ids)
    )


def results(*ids: str) -> Event:
    return Event(
        author="assistant", role="agent", parts=tuple(ToolResultPart(i, "t", "r") for i in ids)
    )


def conversation(turns: int) -> list[Event]:
    events: list[Event] = []
    for n in range(1, turns + 1):
        events += [user(f"q{n}"), calls(f"c{n}"), results(f"c{n}"), said(f"a{n}" * 10)]
    return events


def texts(messages: Sequence[Message]) -> list[str]:
    return [p.text for m in messages for p in m.parts if isinstance(p, TextPart)]


def test_strategy_none_keeps_everything() -> None:
    history = build_history(conversation(3), agent="assistant", context=ContextConfig())
    assert texts(history) == ["q1", "a1" * 10, "q2", "a2" * 10, "q3", "a3" * 10]
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant"] * 3


def test_buffer_window_keeps_the_last_turns_whole() -> None:
    context = ContextConfig(strategy="buffer_window", window_size=2)
    history = build_history(conversation(3), agent="assistant", context=context)
    assert texts(history) == ["q2", "a2" * 10, "q3", "a3" * 10]
    assert history[0] == Message("user", (TextPart("q2"),))
    assert history[1].parts == (ToolCallPart("c2", "t", {}),)


def test_token_window_keeps_recent_turns_within_budget() -> None:
    # Each turn: question, call and result ~1 token each, a 20-character answer ~6: 9 a turn.
    small = ContextConfig(strategy="token_window", budget=15, preserve_recent=1)
    assert texts(build_history(conversation(4), agent="assistant", context=small)) == [
        "q4",
        "a4" * 10,
    ]
    medium = ContextConfig(strategy="token_window", budget=20, preserve_recent=1)
    assert texts(build_history(conversation(4), agent="assistant", context=medium))[0] == "q3"
    large = ContextConfig(strategy="token_window", budget=8000, preserve_recent=1)
    assert len(build_history(conversation(4), agent="assistant", context=large)) == 16


def test_token_window_preserves_recent_messages_even_over_budget() -> None:
    context = ContextConfig(strategy="token_window", budget=1, preserve_recent=5)
    history = build_history(conversation(3), agent="assistant", context=context)
    # The last 5 messages reach into turn 2, which is kept whole from its start.
    assert texts(history) == ["q2", "a2" * 10, "q3", "a3" * 10]


def test_summary_buffer_falls_back_to_token_window_with_a_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm_agent, "_summary_warned", set())
    context = ContextConfig(strategy="summary_buffer", budget=15)
    with caplog.at_level(logging.WARNING, logger="agents.llm_agent"):
        history = build_history(conversation(4), agent="assistant", context=context)
    assert texts(history)[0] == "q3"  # the default preserve_recent (5) reaches into turn 3
    assert "summary_buffer is not implemented yet" in caplog.text


def test_history_repairs_what_providers_would_reject() -> None:
    events = [
        user("q1"),
        calls("c1", "c2"),  # canceled before any result was stored
        status_event(agent="assistant", invocation_id="i", state="canceled", message="canceled"),
        user("q2"),
        results("c9"),  # a result without its call
        said("a2"),
    ]
    history = build_history(events, agent="assistant", context=ContextConfig())
    assert history == (
        Message("user", (TextPart("q1"),)),
        Message("assistant", (ToolCallPart("c1", "t", {}), ToolCallPart("c2", "t", {}))),
        Message(
            "user",
            (
                ToolResultPart("c1", "t", INTERRUPTED_RESULT, is_error=True),
                ToolResultPart("c2", "t", INTERRUPTED_RESULT, is_error=True),
                TextPart("q2"),
            ),
        ),
        Message("assistant", (TextPart("a2"),)),
    )


def test_other_agents_turns_are_context_not_own_turns() -> None:
    events = [
        user("q1"),
        Event(
            author="researcher",
            role="agent",
            parts=(
                ThinkingPart("hidden"),
                TextPart("found it"),
                ToolCallPart("c1", "search", {"q": "x"}),
            ),
        ),
        Event(author="user", role="user", parts=(DataPart({"k": 1}),)),
    ]
    history = build_history(events, agent="assistant", context=ContextConfig())
    assert history == (
        Message(
            "user",
            (
                TextPart("q1"),
                TextPart("For context: [researcher] said: found it"),
                TextPart(
                    'For context: [researcher] called tool `search` with parameters: {"q": "x"}'
                ),
                TextPart('{"k": 1}'),
            ),
        ),
    )


async def test_buffer_window_applies_to_the_request() -> None:
    harness = Harness(
        [Reply(text="a1"), Reply(text="a2"), Reply(text="a3")],
        context={"strategy": "buffer_window", "window_size": 1},
    )
    session_id = final(await harness.run("q1")).session_id
    await harness.run("q2", session_id=session_id)
    await harness.run("q3", session_id=session_id)
    assert texts(harness.llm.requests[2].messages) == ["q3"]
    assert len(await harness.events(session_id)) == 6  # the store keeps everything
