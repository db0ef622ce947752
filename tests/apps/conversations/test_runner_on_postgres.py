"""The runner end to end on Postgres sessions, through a real provider SDK and its wire fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from agents.api import Hector
from agents.config_loader import load_config_data
from agents.content import TextPart, ToolCallPart, ToolResultPart
from agents.events import ErrorEvent, FinalEvent, RunEvent
from agents.runner import Runner
from apps.conversations.stores import PostgresSessionService
from tests.fakes.ollama_server import Fake
from tests.fakes.script import Malformed, Reply, Script, ScriptedToolCall
from tools.base import ToolContext, tool


@tool
def set_language(lang: str, context: ToolContext) -> str:
    """Remember the user's language for all their sessions."""
    context.state_delta["user:lang"] = lang
    return f"language set to {lang}"


@pytest.fixture
def fake() -> Iterator[Fake]:
    server = Fake(Script())
    server.start()
    yield server
    server.stop()


def config(fake: Fake) -> dict[str, Any]:
    return {
        "llms": {"default": {"provider": "ollama", "model": "qwen3", "base_url": fake.url}},
        "agents": {
            "assistant": {
                "llm": "default",
                "instruction": "Answer in {user:lang?}.",
                "tools": ["set_language"],
                "output_key": "answer",
            }
        },
        "tools": {"set_language": {"type": "function", "handler": "set_language"}},
    }


def run_turn(runner: Runner, **kwargs: Any) -> list[RunEvent]:
    async def collect() -> list[RunEvent]:
        return [event async for event in runner.run(**kwargs)]

    return async_to_sync(collect)()


def test_tool_turn_is_persisted_in_order(db: None, fake: Fake) -> None:
    fake.script.extend(
        [
            Reply(tool_calls=[ScriptedToolCall("set_language", {"lang": "fr"}, "c1")]),
            Reply(text=["Bon", "jour"]),
        ]
    )
    store = PostgresSessionService("app_default")
    runner = Runner(
        load_config_data(config(fake)).config, sessions=store, tools={"set_language": set_language}
    )
    events = run_turn(runner, agent="assistant", user_id="ann", message="Hi", session_id="pg-turn")
    assert isinstance(events[-1], FinalEvent)
    assert events[-1].text == "Bonjour"
    stored = async_to_sync(store.list_events)("pg-turn")
    kinds = [[type(p).__name__ for p in e.parts] for e in stored]
    assert kinds == [["TextPart"], ["ToolCallPart"], ["ToolResultPart"], ["TextPart"]]
    assert isinstance(stored[1].parts[0], ToolCallPart)
    assert isinstance(stored[2].parts[0], ToolResultPart)
    assert stored[2].parts[0].call_id == stored[1].parts[0].call_id
    assert [e.sequence for e in stored] == [1, 2, 3, 4]
    session = async_to_sync(store.get)("pg-turn")
    assert session is not None
    assert session.state["answer"] == "Bonjour"
    assert session.state["user:lang"] == "fr"
    # The next turn of the same user, in a new session, sees user:lang in its instruction.
    fake.script.extend([Reply(text="ok")])
    run_turn(runner, agent="assistant", user_id="ann", message="again", session_id="pg-next")
    assert "Answer in fr." in str(fake.requests[-1].body)
    async_to_sync(runner.aclose)()


def test_malformed_stream_keeps_the_events_written_before(db: None, fake: Fake) -> None:
    fake.script.extend([Reply(text="first answer"), Malformed()])
    store = PostgresSessionService("app_default")
    runner = Runner(
        load_config_data(config(fake)).config, sessions=store, tools={"set_language": set_language}
    )
    run_turn(runner, agent="assistant", user_id="bob", message="one", session_id="pg-bad")
    events = run_turn(runner, agent="assistant", user_id="bob", message="two", session_id="pg-bad")
    assert isinstance(events[-1], ErrorEvent)
    assert events[-1].code == "llm_malformed_response"
    stored = async_to_sync(store.list_events)("pg-bad")
    texts = [p.text for e in stored for p in e.parts if isinstance(p, TextPart)]
    assert texts[:3] == ["one", "first answer", "two"]
    async_to_sync(runner.aclose)()


def test_python_api_uses_postgres_sessions_inside_django(db: None, fake: Fake) -> None:
    fake.script.extend([Reply(text="hello from pg")])
    hector = Hector.from_config(config(fake), tools={"set_language": set_language})
    assert isinstance(hector.sessions, PostgresSessionService)
    text = async_to_sync(hector.generate)("Hi", session_id="api-pg", user_id="cy")
    assert text == "hello from pg"
    assert async_to_sync(PostgresSessionService("app_default").get)("api-pg") is not None
    async_to_sync(hector.close)()
