"""Builders for tests of agent trees: one scripted LLM per llm agent, so a test knows exactly
who was asked what (parallel branches included)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agents.config import HectorConfig
from agents.content import TextPart
from agents.events import ErrorEvent, FinalEvent, RunEvent
from agents.llm_agent import status_of
from agents.runner import Runner
from agents.sessions import Event, InMemorySessionService
from tests.fakes.script import Step
from tests.fakes.scripted_llm import ScriptedLLM


def build(
    agents: Mapping[str, Any], scripts: Mapping[str, Sequence[Step]]
) -> tuple[Runner, dict[str, ScriptedLLM], InMemorySessionService]:
    """One LLM per name in `scripts`; an llm agent uses the LLM named like itself."""
    llms = {name: ScriptedLLM(steps) for name, steps in scripts.items()}
    agents = {
        name: ({"llm": name, **agent} if agent.get("type", "llm") == "llm" else dict(agent))
        for name, agent in agents.items()
    }
    config = HectorConfig.model_validate(
        {
            "llms": {name: {"provider": "ollama", "model": "qwen3"} for name in llms},
            "agents": agents,
        },
        context={"env": {}},
    )
    store = InMemorySessionService()
    return Runner(config, sessions=store, llms=llms), llms, store


async def run(runner: Runner, agent: str, text: str = "Go", **kwargs: Any) -> list[RunEvent]:
    kwargs.setdefault("user_id", "u1")
    return [e async for e in runner.run(agent=agent, message=text, **kwargs)]


def final(events: list[RunEvent]) -> FinalEvent:
    end = events[-1]
    assert isinstance(end, FinalEvent), end
    return end


def failure(events: list[RunEvent]) -> ErrorEvent:
    end = events[-1]
    assert isinstance(end, ErrorEvent), end
    return end


def finals(events: list[RunEvent]) -> list[FinalEvent]:
    return [e for e in events if isinstance(e, FinalEvent)]


def texts(llm: ScriptedLLM) -> list[str]:
    """The text of the messages of the LLM's latest request."""
    request = llm.requests[-1]
    return [p.text for m in request.messages for p in m.parts if isinstance(p, TextPart)]


def state_of(event: Event) -> str | None:
    status = status_of(event)
    return None if status is None else str(status["state"])
