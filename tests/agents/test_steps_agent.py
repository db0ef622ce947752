"""The `runner` agent type: tools in a fixed order, no LLM (SPEC 4.2)."""

from __future__ import annotations

from typing import Any

from agents.config import HectorConfig
from agents.content import TextPart, ToolCallPart, ToolResultPart
from agents.events import ErrorEvent, FinalEvent, RunEvent, ToolCallEvent, ToolResultEvent
from agents.runner import Runner
from agents.sessions import InMemorySessionService
from tests.fakes.scripted_llm import ScriptedLLM
from tools import tool
from tools.base import Tool, ToolContext


@tool
def fetch(url: str) -> dict[str, Any]:
    """Fetch a document."""
    return {"url": url, "body": "hello world"}


@tool
def shout(input: Any) -> str:
    """Upper-case the input."""
    text = input["body"] if isinstance(input, dict) else str(input)
    return text.upper()


@tool
def count(input: str, context: ToolContext) -> int:
    """Count words; remembers the last count."""
    context.state_delta["words"] = len(input.split())
    return len(input.split())


@tool
def explode(input: Any) -> str:
    """Always fails."""
    raise RuntimeError("disk on fire")


TOOLS: list[Tool] = [fetch, shout, count, explode]


def make(agent: dict[str, Any]) -> tuple[Runner, ScriptedLLM, InMemorySessionService]:
    llm = ScriptedLLM([])
    config = HectorConfig.model_validate(
        {
            "llms": {"default": {"provider": "ollama", "model": "qwen3"}},
            "agents": {"pipe": {"type": "runner", **agent}},
        },
        context={"env": {}},
    )
    store = InMemorySessionService()
    runner = Runner(config, sessions=store, tools={t.name: t for t in TOOLS}, llms={"default": llm})
    return runner, llm, store


async def run(runner: Runner, text: str = "go", **kwargs: Any) -> list[RunEvent]:
    return [e async for e in runner.run(agent="pipe", user_id="u1", message=text, **kwargs)]


async def test_tools_in_order_each_get_the_previous_output_as_input() -> None:
    runner, llm, store = make({"tools": ["shout", "count"], "output_key": "n"})
    events = await run(runner, "three little words")

    answer = events[-1]
    assert isinstance(answer, FinalEvent)
    assert (answer.agent, answer.text) == ("pipe", "3")
    calls = [(e.name, dict(e.arguments)) for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [
        ("shout", {"input": "three little words"}),
        ("count", {"input": "THREE LITTLE WORDS"}),
    ]
    assert llm.requests == []
    session = await store.get(answer.session_id)
    assert session is not None
    assert session.state == {"words": 3, "n": 3}
    stored = await store.list_events(answer.session_id)
    assert [type(e.parts[0]).__name__ for e in stored] == [
        "TextPart",
        "ToolCallPart",
        "ToolResultPart",
        "ToolCallPart",
        "ToolResultPart",
        "TextPart",
    ]
    assert {e.author for e in stored[1:]} == {"pipe"}


async def test_steps_take_templated_args_and_store_output_keys() -> None:
    runner, _, store = make(
        {
            "steps": [
                {
                    "tool": "fetch",
                    "args": {"url": "https://example.test/{page}"},
                    "output_key": "doc",
                },
                {"tool": "shout", "args": {"input": "{doc}"}, "output_key": "loud"},
            ]
        }
    )
    events = await run(runner, state_delta={"page": "home"})

    answer = events[-1]
    assert isinstance(answer, FinalEvent)
    assert answer.text == "HELLO WORLD"
    calls = [dict(e.arguments) for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [
        {"url": "https://example.test/home"},
        {"input": {"url": "https://example.test/home", "body": "hello world"}},
    ]
    session = await store.get(answer.session_id)
    assert session is not None
    assert session.state["loud"] == "HELLO WORLD"


async def test_a_step_tool_with_an_input_parameter_gets_the_previous_output() -> None:
    runner, _, _ = make({"steps": [{"tool": "fetch", "args": {"url": "u"}}, {"tool": "shout"}]})
    events = await run(runner)
    answer = events[-1]
    assert isinstance(answer, FinalEvent)
    assert answer.text == "HELLO WORLD"


async def test_a_failing_step_fails_the_run_and_keeps_what_ran() -> None:
    runner, _, store = make({"tools": ["shout", "explode", "count"]})
    events = await run(runner, "abc")

    failure = events[-1]
    assert isinstance(failure, ErrorEvent)
    assert failure.code == "runner_step_failed"
    assert failure.message == (
        'runner agent "pipe": step 2 (explode) failed: RuntimeError: disk on fire'
    )
    assert [e.name for e in events if isinstance(e, ToolResultEvent)] == ["shout", "explode"]
    assert failure.session_id is not None
    stored = await store.list_events(failure.session_id)
    parts = [p for e in stored for p in e.parts]
    assert isinstance(parts[1], ToolCallPart)
    assert isinstance(parts[4], ToolResultPart)
    assert parts[4].is_error
    assert parts[0] == TextPart("abc")


async def test_a_missing_state_key_in_args_fails_the_step() -> None:
    runner, _, _ = make({"steps": [{"tool": "fetch", "args": {"url": "{nowhere}"}}]})
    failure = (await run(runner))[-1]
    assert isinstance(failure, ErrorEvent)
    assert 'missing state key "nowhere"' in failure.message
