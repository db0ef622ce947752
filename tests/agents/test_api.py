"""The programmatic Python API (SPEC 16), with no Django, database or real network."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import agents
from agents import Hector, RunFailed, set_default_session_factory
from agents import llms as llm_configs
from agents.errors import ConfigError
from agents.events import EventStored, FinalEvent, RunEvent, ToolCallEvent, ToolResultEvent
from agents.llm.config import LLMConfig
from agents.llm.factory import REFUSE_REMOTE_ENV
from agents.sessions import InMemorySessionService
from tests.fakes import ollama_server
from tests.fakes.script import Failure, Reply, Script, ScriptedToolCall
from tests.fakes.scripted_llm import ScriptedLLM
from tools import tool


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any LLM client built here must point at a local fake."""
    monkeypatch.setenv(REFUSE_REMOTE_ENV, "1")


def test_ac_16a_generate_sync_returns_the_fakes_text() -> None:
    fake = ScriptedLLM([Reply(text="Hello from the fake.")])
    h = Hector.new(llm=fake, instruction="Be brief")
    assert h.generate_sync("Hi") == "Hello from the fake."
    assert fake.requests[0].system == "Be brief"
    assert isinstance(h.sessions, InMemorySessionService)


def test_generate_sync_continues_a_session_and_closes_with_a_context_manager() -> None:
    fake = ScriptedLLM([Reply(text="one"), Reply(text="two")])
    with Hector.new(llm=fake, instruction="x", name="helper") as h:
        assert h.generate_sync("first", session_id="s-1") == "one"
        assert h.generate_sync("second", session_id="s-1", agent="helper") == "two"
    assert len(fake.requests[1].messages) == 3
    assert not fake.closed  # the caller owns an LLM object it passed in


async def test_generate_sync_refuses_to_run_inside_an_event_loop() -> None:
    h = Hector.new(llm=ScriptedLLM([]), instruction="x")
    with pytest.raises(RuntimeError, match="await generate"):
        h.generate_sync("Hi")


async def test_generate_and_stream_from_async_code() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    fake = ScriptedLLM(
        [
            Reply(tool_calls=[ScriptedToolCall("add", {"a": 2, "b": 3}, "c1")]),
            Reply(text=["It is ", "5."]),
        ]
    )

    def shout(text: str) -> str:
        """Shout a text."""
        return text.upper()

    async with Hector.new(llm=fake, instruction="Use tools.", tools=[add, shout]) as h:
        kinds: list[str] = []
        events: list[RunEvent] = []
        async for event in h.stream("2+3?", user_id="alice"):
            kinds.append(event.kind)
            events.append(event)
    assert kinds == [
        "event_stored",
        "tool_call",
        "event_stored",
        "tool_result",
        "event_stored",
        "text_delta",
        "text_delta",
        "event_stored",
        "final",
    ]
    result = next(e for e in events if isinstance(e, ToolResultEvent))
    assert result.result == 5
    assert [t.name for t in fake.requests[0].tools] == ["add", "shout"]
    final = events[-1]
    assert isinstance(final, FinalEvent)
    assert final.text == "It is 5."


async def test_generate_raises_run_failed_with_the_error_code() -> None:
    h = Hector.new(llm=ScriptedLLM([Failure(401, "invalid api key")]), instruction="x")
    with pytest.raises(RunFailed) as caught:
        await h.generate("Hi")
    assert caught.value.code == "llm_authentication"
    assert "invalid api key" in str(caught.value)


def test_agent_kwargs_are_validated_like_config() -> None:
    fake = ScriptedLLM([Reply(text='{"n": 1}')])
    h = Hector.new(
        llm=fake,
        instruction="Count.",
        output_key="count",
        output_schema={"type": "object", "properties": {"n": {"type": "integer"}}},
    )
    assert h.generate_sync("How many?") == '{"n": 1}'
    with pytest.raises(ConfigError) as caught:
        Hector.new(llm=fake, instruction="x", output_keys="typo")
    assert caught.value.errors[0].path == "agents.assistant.output_keys"


def test_from_config_dict_and_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        Hector.from_config({"agents": {"a": {"llm": "missing"}}})
    assert caught.value.errors
    assert any("missing" in issue.message for issue in caught.value.errors)


def test_session_factory_hook_supplies_the_store() -> None:
    store = InMemorySessionService()
    set_default_session_factory(lambda: store)
    try:
        h = Hector.new(llm=ScriptedLLM([Reply(text="ok")]), instruction="x")
    finally:
        set_default_session_factory(None)
    assert h.sessions is store
    assert Hector.new(llm=ScriptedLLM([]), instruction="x").sessions is not store


def test_llm_builders_return_validated_configs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-env")
    claude = llm_configs.anthropic(thinking=2048, max_tokens=8192, timeout="30s")
    assert isinstance(claude, LLMConfig)
    assert (claude.provider, claude.model, claude.api_key) == (
        "anthropic",
        "claude-haiku-4-5",
        "sk-from-env",
    )
    assert claude.thinking is not None
    assert claude.thinking.budget_tokens == 2048
    assert float(claude.timeout) == 30.0
    gpt = llm_configs.openai(api_key="k", model="gpt-4o-mini", api="chat", timeout=12.5)
    assert (gpt.provider, gpt.model, gpt.api, float(gpt.timeout)) == (
        "openai",
        "gpt-4o-mini",
        "chat",
        12.5,
    )
    assert llm_configs.gemini(api_key="k").model == "gemini-2.5-pro"
    local = llm_configs.ollama(thinking=True)
    assert (local.base_url, local.thinking is not None) == ("http://localhost:11434", True)
    with pytest.raises(ConfigError) as caught:
        llm_configs.ollama(temperature=5)
    assert caught.value.errors[0].path == "temperature"


def test_from_config_file_resolves_instruction_files(tmp_path: Path) -> None:
    (tmp_path / "PROMPT.md").write_text("Answer like a pirate.")
    (tmp_path / "hector.yaml").write_text(
        "llms:\n  default:\n    provider: ollama\n    base_url: http://127.0.0.1:9\n"
        "agents:\n  pirate:\n    instruction_file: PROMPT.md\n"
    )
    h = Hector.from_config(tmp_path / "hector.yaml")
    assert h.config.default_agent_name() == "pirate"
    agent = asyncio.run(h.runner._agent("pirate"))
    assert agent.instruction == "Answer like a pirate."
    asyncio.run(h.close())


def test_agents_package_exports_are_lazy() -> None:
    assert agents.Hector is Hector
    with pytest.raises(AttributeError):
        _ = agents.Nope  # type: ignore[attr-defined]


# --- end to end through a real provider SDK -------------------------------------------------


@pytest.fixture
def ollama() -> Iterator[tuple[ollama_server.Fake, Script]]:
    script = Script()
    fake = ollama_server.Fake(script)
    fake.start()
    yield fake, script
    fake.stop()


def test_end_to_end_through_the_ollama_sdk(ollama: tuple[ollama_server.Fake, Script]) -> None:
    """Config dict -> Runner -> agents.llm.ollama -> `ollama` SDK -> HTTP -> wire fake, with a
    tool round trip; the only fake is the server."""
    fake, script = ollama
    script.extend(
        [
            Reply(tool_calls=[ScriptedToolCall("weather", {"city": "Paris"})]),
            Reply(text=["Sunny ", "in Paris."]),
        ]
    )
    called_in: list[str] = []

    @tool
    def get_weather(city: str) -> dict[str, Any]:
        """Current weather for a city.

        Args:
            city: The city name.
        """
        called_in.append(threading.current_thread().name)
        return {"city": city, "sky": "sunny"}

    config = {
        "llms": {"local": {"provider": "ollama", "model": "qwen3", "base_url": fake.url}},
        "tools": {"weather": {"type": "function", "handler": "get_weather"}},
        "agents": {
            "assistant": {
                "llm": "local",
                "instruction": "Be brief, {user:name?}.",
                "tools": ["weather"],
            }
        },
    }
    with Hector.from_config(config, tools=[get_weather]) as h:
        answer = h.generate_sync("Weather in Paris?", user_id="alice", session_id="s-1")
        events = asyncio.run(h.sessions.list_events("s-1"))  # in-memory store: any loop will do

    assert answer == "Sunny in Paris."
    assert len(called_in) == 1
    assert len(fake.requests) == 2
    first, second = fake.requests
    assert ollama_server.sent_system(first) == "Be brief, ."
    assert ollama_server.sent_tool_names(first) == ["weather"]
    results = ollama_server.sent_tool_results(second)
    assert len(results) == 1
    assert "sunny" in results[0][1]
    assert [e.author for e in events] == ["user", "assistant", "assistant", "assistant"]


def test_end_to_end_stream_events_through_the_sdk(
    ollama: tuple[ollama_server.Fake, Script],
) -> None:
    fake, script = ollama
    script.extend([Reply(text=["Hel", "lo"])])
    h = Hector.new(llm=llm_configs.ollama(base_url=fake.url), instruction="Be brief")

    async def run() -> list[RunEvent]:
        async with h:
            return [e async for e in h.stream("Hi")]

    events = asyncio.run(run())
    assert [e.kind for e in events if not isinstance(e, EventStored)] == [
        "text_delta",
        "text_delta",
        "final",
    ]
    assert not any(isinstance(e, ToolCallEvent) for e in events)
    final = events[-1]
    assert isinstance(final, FinalEvent)
    assert final.text == "Hello"
