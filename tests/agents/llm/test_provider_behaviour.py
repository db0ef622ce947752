"""The same behaviour from every provider, through its real SDK, against its wire-level fake.

Each `tests/fakes/<provider>_server.py` provides:
- `Fake(script)`: a FakeHTTPServer speaking the provider's HTTP protocol;
- `make_llm(fake, *, max_retries=3, sleep=...) -> LLM` built through `agents.llm.factory`;
- `sent_tool_names(request)`, `sent_tool_results(request) -> list[tuple[call_id, text]]`,
`sent_thinking(request) -> bool`, `sent_system(request) -> str | None`: what the SDK really sent.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest

from agents.content import TextPart, ToolCallPart, ToolResultPart
from agents.llm.base import (
    AuthenticationError,
    BadRequestError,
    Finished,
    LLMError,
    LLMEvent,
    LLMRequest,
    Message,
    ProviderUnavailableError,
    TextDelta,
    Thinking,
    ThinkingDelta,
    ToolCall,
    ToolSpec,
    Usage,
)
from tests.fakes.script import Failure, Malformed, Reply, Script, ScriptedToolCall, SleepRecorder

PROVIDERS = ["anthropic", "openai", "gemini", "ollama"]

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(f"tests.fakes.{request.param}_server")


def ask(text: str, **kwargs: Any) -> LLMRequest:
    return LLMRequest(messages=(Message("user", (TextPart(text),)),), system="Be brief.", **kwargs)


async def collect(llm: Any, request: LLMRequest) -> list[LLMEvent]:
    return [event async for event in llm.stream(request)]


def text(events: list[LLMEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_plain_answer(llm: Any, fake: Any, script: Script, provider: ModuleType) -> None:
    script.extend([Reply(text="Hello there", input_tokens=12, output_tokens=3)])
    events = await collect(llm, ask("Hi"))
    assert text(events) == "Hello there"
    usage = [e for e in events if isinstance(e, Usage)]
    assert usage
    assert (usage[-1].input_tokens, usage[-1].output_tokens) == (12, 3)
    assert events[-1] == Finished("stop")
    assert provider.sent_system(fake.requests[-1]) == "Be brief."


async def test_streamed_answer_arrives_in_order(llm: Any, script: Script) -> None:
    script.extend([Reply(text=["Hel", "lo", " wor", "ld"])])
    deltas = [e.text for e in await collect(llm, ask("Hi")) if isinstance(e, TextDelta)]
    assert deltas == ["Hel", "lo", " wor", "ld"]


async def test_tool_call_round_trip(
    llm: Any, fake: Any, script: Script, provider: ModuleType
) -> None:
    script.extend(
        [
            Reply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Paris"}, "call_1")]),
            Reply(text="Sunny in Paris."),
        ]
    )
    first = await collect(llm, ask("Weather in Paris?", tools=(WEATHER,)))
    calls = [e for e in first if isinstance(e, ToolCall)]
    assert [(c.name, dict(c.arguments)) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert first[-1] == Finished("tool_calls")
    assert provider.sent_tool_names(fake.requests[0]) == ["get_weather"]

    call = calls[0]
    follow_up = LLMRequest(
        system="Be brief.",
        tools=(WEATHER,),
        messages=(
            Message("user", (TextPart("Weather in Paris?"),)),
            Message(
                "assistant", (ToolCallPart(call.call_id, call.name, call.arguments, call.metadata),)
            ),
            Message("user", (ToolResultPart(call.call_id, call.name, {"sky": "sunny"}),)),
        ),
    )
    second = await collect(llm, follow_up)
    assert text(second) == "Sunny in Paris."
    results = provider.sent_tool_results(fake.requests[1])
    assert len(results) == 1
    assert results[0][0] == call.call_id
    assert "sunny" in results[0][1]


async def test_parallel_tool_calls_keep_their_ids(llm: Any, script: Script) -> None:
    script.extend(
        [
            Reply(
                tool_calls=[
                    ScriptedToolCall("get_weather", {"city": "Paris"}, "call_a"),
                    ScriptedToolCall("get_weather", {"city": "Rome"}, "call_b"),
                ]
            )
        ]
    )
    calls = [
        e
        for e in await collect(llm, ask("Two cities", tools=(WEATHER,)))
        if isinstance(e, ToolCall)
    ]
    assert [c.arguments["city"] for c in calls] == ["Paris", "Rome"]
    assert len({c.call_id for c in calls}) == 2


async def test_thinking_is_streamed_separately(
    llm: Any, fake: Any, script: Script, provider: ModuleType
) -> None:
    script.extend([Reply(thinking=["Let me ", "think."], text="42", thinking_tokens=5)])
    events = await collect(
        llm, ask("Meaning of life?", thinking=Thinking(budget_tokens=1024), max_tokens=4096)
    )
    thinking = "".join(e.text for e in events if isinstance(e, ThinkingDelta))
    assert thinking == "Let me think."
    assert text(events) == "42"
    assert provider.sent_thinking(fake.requests[-1])


async def test_rate_limit_then_success_honours_retry_after(
    llm: Any, fake: Any, script: Script, sleeps: SleepRecorder
) -> None:
    script.extend([Failure(429, "slow down", retry_after="1"), Reply(text="ok")])
    assert text(await collect(llm, ask("Hi"))) == "ok"
    assert sleeps.delays == [1.0]
    assert len(fake.requests) == 2


async def test_server_errors_retry_then_surface(
    llm: Any, fake: Any, script: Script, sleeps: SleepRecorder
) -> None:
    script.extend([Failure(500, "boom")] * 3)
    with pytest.raises(ProviderUnavailableError):
        await collect(llm, ask("Hi"))
    assert len(fake.requests) == 3  # first try + max_retries=2
    assert len(sleeps.delays) == 2


async def test_auth_error_is_typed_and_not_retried(llm: Any, fake: Any, script: Script) -> None:
    script.extend([Failure(401, "invalid api key provided")])
    with pytest.raises(AuthenticationError) as raised:
        await collect(llm, ask("Hi"))
    assert "invalid api key provided" in raised.value.message
    assert "test-key" not in str(raised.value)
    assert len(fake.requests) == 1


async def test_bad_request_fails_at_once(llm: Any, fake: Any, script: Script) -> None:
    script.extend([Failure(400, "model not found: nope")])
    with pytest.raises(BadRequestError) as raised:
        await collect(llm, ask("Hi"))
    assert "model not found" in raised.value.message
    assert len(fake.requests) == 1


async def test_malformed_stream_fails_cleanly(llm: Any, script: Script) -> None:
    script.extend([Malformed(text_before="partial ")])
    seen: list[LLMEvent] = []

    async def consume() -> None:
        async for event in llm.stream(ask("Hi")):
            seen.append(event)

    with pytest.raises(LLMError):
        await consume()
    assert all(isinstance(e, TextDelta | Usage) for e in seen)
