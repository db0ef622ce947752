"""Ollama-specific behaviour, through the real `ollama` SDK against the wire-level fake."""

from __future__ import annotations

import base64
import logging
import socket
from typing import Any

import httpx
import pytest

from agents.content import FilePart, TextPart, ThinkingPart, ToolCallPart, ToolResultPart
from agents.llm.base import (
    LLM,
    AuthenticationError,
    BadRequestError,
    ContextTooLongError,
    Finished,
    LLMEvent,
    LLMRequest,
    MalformedResponseError,
    Message,
    ProviderUnavailableError,
    TextDelta,
    Thinking,
    ToolCall,
    ToolSpec,
)
from agents.llm.config import LLMConfig
from agents.llm.factory import build_llm
from tests.fakes.http import RecordedRequest, Response, ndjson
from tests.fakes.ollama_server import Fake, make_llm, sent_tool_results
from tests.fakes.script import Failure, Reply, Script, ScriptedToolCall, SleepRecorder

PROVIDER = "ollama"

PNG = b"\x89PNG\r\n\x1a\n-not-really-an-image"

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
CLOCK = ToolSpec(
    name="get_time",
    description="Local time in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


def user(*parts: Any) -> Message:
    return Message("user", tuple(parts))


async def collect(llm: LLM, request: LLMRequest) -> list[LLMEvent]:
    return [event async for event in llm.stream(request)]


def body(request: RecordedRequest) -> dict[str, Any]:
    sent = request.json()
    assert isinstance(sent, dict)
    return sent


def chat_requests(fake: Fake) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path == "/api/chat"]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- Request translation -----------------------------------------------------------------------


async def test_images_are_sent_as_base64_on_the_message(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="A cat.")])
    request = LLMRequest(
        messages=(user(TextPart("What is this?"), FilePart("image/png", data=PNG, name="c.png")),)
    )
    await collect(llm, request)
    [message] = body(fake.requests[-1])["messages"]
    assert message == {
        "role": "user",
        "content": "What is this?",
        "images": [base64.b64encode(PNG).decode()],
    }


@pytest.mark.parametrize(
    ("part", "note"),
    [
        (
            FilePart("audio/wav", data=b"RIFF", name="memo.wav"),
            "[attachment memo.wav (audio/wav) not supported by ollama]",
        ),
        (
            FilePart("application/pdf", data=b"%PDF-1.7", name="report.pdf"),
            "[attachment report.pdf (application/pdf) not supported by ollama]",
        ),
        (
            FilePart("image/png", uri="https://example.com/c.png"),
            "[attachment unnamed (image/png) not supported by ollama]",
        ),
    ],
)
async def test_unsupported_attachment_is_replaced_by_a_note(
    llm: LLM,
    fake: Fake,
    script: Script,
    part: FilePart,
    note: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    script.extend([Reply(text="ok")])
    with caplog.at_level(logging.WARNING, logger="agents.llm.ollama"):
        await collect(llm, LLMRequest(messages=(user(TextPart("Summarise"), part),)))
    [message] = body(fake.requests[-1])["messages"]
    assert message == {"role": "user", "content": f"Summarise\n{note}"}
    assert any("not supported" in record.getMessage() for record in caplog.records)


async def test_structured_output_is_sent_as_format(llm: LLM, fake: Fake, script: Script) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
    }
    script.extend([Reply(text='{"answer": "42"}')])
    await collect(llm, LLMRequest(messages=(user(TextPart("Answer")),), output_schema=schema))
    assert body(fake.requests[-1])["format"] == schema


async def test_think_flag_follows_the_request(llm: LLM, fake: Fake, script: Script) -> None:
    script.extend([Reply(text="a"), Reply(text="b")])
    await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),), thinking=Thinking()))
    await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    first, second = (body(r) for r in chat_requests(fake))
    assert first["think"] is True
    # Explicitly off: hybrid models such as qwen3 would otherwise think by default.
    assert second["think"] is False


async def test_temperature_and_max_tokens_are_sent_as_options(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="ok")])
    await collect(
        llm, LLMRequest(messages=(user(TextPart("Hi")),), temperature=0.2, max_tokens=256)
    )
    assert body(fake.requests[-1])["options"] == {"temperature": 0.2, "num_predict": 256}


async def test_tool_messages_carry_tool_name_in_the_order_of_the_calls(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend(
        [
            Reply(
                thinking="Two lookups.",
                tool_calls=[
                    ScriptedToolCall("get_weather", {"city": "Paris"}),
                    ScriptedToolCall("get_time", {"city": "Paris"}),
                ],
            ),
            Reply(text="Sunny, noon."),
        ]
    )
    ask = user(TextPart("Weather and time in Paris?"))
    first = await collect(
        llm, LLMRequest(messages=(ask,), tools=(WEATHER, CLOCK), thinking=Thinking())
    )
    weather, clock = (e for e in first if isinstance(e, ToolCall))
    assert (weather.call_id, clock.call_id) == ("call_0_0", "call_0_1")
    assert first[-1] == Finished("tool_calls")

    follow_up = LLMRequest(
        tools=(WEATHER, CLOCK),
        messages=(
            ask,
            Message(
                "assistant",
                (
                    ThinkingPart("Two lookups."),
                    ToolCallPart(weather.call_id, weather.name, weather.arguments),
                    ToolCallPart(clock.call_id, clock.name, clock.arguments),
                ),
            ),
            # Results arrive in completion order, not call order.
            user(
                ToolResultPart(clock.call_id, "get_time", "12:00"),
                ToolResultPart(weather.call_id, "get_weather", {"sky": "sunny"}),
            ),
        ),
    )
    await collect(llm, follow_up)
    messages = body(fake.requests[-1])["messages"]
    assert messages[1] == {
        "role": "assistant",
        "thinking": "Two lookups.",
        "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
            {"function": {"name": "get_time", "arguments": {"city": "Paris"}}},
        ],
    }
    assert messages[2:] == [
        {"role": "tool", "tool_name": "get_weather", "content": '{"sky":"sunny"}'},
        {"role": "tool", "tool_name": "get_time", "content": "12:00"},
    ]
    assert sent_tool_results(fake.requests[-1]) == [
        ("call_0_0", '{"sky":"sunny"}'),
        ("call_0_1", "12:00"),
    ]


async def test_tool_call_ids_differ_between_turns(llm: LLM, script: Script) -> None:
    script.extend(
        [
            Reply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Paris"})]),
            Reply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Rome"})]),
        ]
    )
    ask = user(TextPart("Paris, then Rome"))
    [first] = [e for e in await collect(llm, LLMRequest((ask,))) if isinstance(e, ToolCall)]
    history = (
        ask,
        Message("assistant", (ToolCallPart(first.call_id, first.name, first.arguments),)),
        user(ToolResultPart(first.call_id, first.name, "rain")),
    )
    [second] = [e for e in await collect(llm, LLMRequest(history)) if isinstance(e, ToolCall)]
    assert first.call_id != second.call_id


async def test_failed_tool_result_is_marked_as_an_error(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="Sorry.")])
    history = (
        user(TextPart("Weather?")),
        Message("assistant", (ToolCallPart("call_0_0", "get_weather", {"city": "X"}),)),
        user(ToolResultPart("call_0_0", "get_weather", "unknown city", is_error=True)),
    )
    await collect(llm, LLMRequest(history, tools=(WEATHER,)))
    assert body(fake.requests[-1])["messages"][-1] == {
        "role": "tool",
        "tool_name": "get_weather",
        "content": "Error: unknown city",
    }


async def test_api_key_is_sent_as_bearer_token(llm: LLM, fake: Fake, script: Script) -> None:
    script.extend([Reply(text="ok")])
    await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    assert fake.requests[-1].headers["authorization"] == "Bearer test-key"


async def test_nested_tool_schemas_are_reported_as_simplified(
    llm: LLM, script: Script, caplog: pytest.LogCaptureFixture
) -> None:
    nested = ToolSpec(
        name="book",
        description="Book a trip.",
        parameters={
            "type": "object",
            "properties": {
                "when": {"type": "object", "properties": {"day": {"type": "string"}}},
                "who": {"type": "string"},
            },
        },
    )
    script.extend([Reply(text="ok")])
    with caplog.at_level(logging.WARNING, logger="agents.llm.ollama"):
        await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),), tools=(nested,)))
    assert any("tool=book properties=when" in record.getMessage() for record in caplog.records)


# --- Responses -------------------------------------------------------------------------------


async def test_length_limit_is_reported(llm: LLM, script: Script) -> None:
    script.extend([Reply(text="Once upon", finish="length")])
    events = await collect(llm, LLMRequest(messages=(user(TextPart("A story")),)))
    assert events[-1] == Finished("length")


# --- Errors --------------------------------------------------------------------------------------


async def test_unreachable_ollama_is_unavailable_after_retries(sleeps: SleepRecorder) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    llm = build_llm(LLMConfig(provider="ollama", base_url=url, max_retries=2), sleep=sleeps)
    try:
        with pytest.raises(ProviderUnavailableError) as raised:
            await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    finally:
        await llm.aclose()
    assert raised.value.message == f"cannot reach Ollama at {url}: is it running?"
    assert len(sleeps.delays) == 2


async def test_model_not_found_is_a_bad_request_not_retried(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Failure(404, 'model "nope" not found, try pulling it first')])
    with pytest.raises(BadRequestError) as raised:
        await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    assert raised.value.status == 404
    assert 'model "nope" not found' in raised.value.message
    assert len(chat_requests(fake)) == 1


async def test_context_overflow_is_typed(llm: LLM, script: Script) -> None:
    script.extend([Failure(400, "the input length exceeds the context length")])
    with pytest.raises(ContextTooLongError):
        await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))


async def test_service_unavailable_honours_retry_after(
    llm: LLM, script: Script, sleeps: SleepRecorder
) -> None:
    script.extend([Failure(503, "server busy, please try again", retry_after="3"), Reply("ok")])
    events = await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["ok"]
    assert sleeps.delays == [3.0]


async def test_echoed_api_key_is_redacted(llm: LLM, script: Script) -> None:
    script.extend([Failure(401, "invalid key test-key")])
    with pytest.raises(AuthenticationError) as raised:
        await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    assert "test-key" not in str(raised.value)


class ScriptedLines(Fake):
    """Serves raw NDJSON lines, for stream shapes the provider-neutral script cannot express."""

    def __init__(self, *responses: list[bytes]) -> None:
        super().__init__(Script())
        self.responses = list(responses)

    def handle(self, request: RecordedRequest) -> Response:
        return Response(stream=self.responses.pop(0), content_type="application/x-ndjson")


def text_chunk(text: str) -> bytes:
    return ndjson({"model": "qwen3", "message": {"role": "assistant", "content": text}})


async def collect_from(fake: Fake, sleeps: SleepRecorder) -> list[LLMEvent]:
    with fake:
        llm = make_llm(fake, max_retries=1, sleep=sleeps)
        try:
            return await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
        finally:
            await llm.aclose()


async def test_error_line_in_the_stream_is_malformed(sleeps: SleepRecorder) -> None:
    fake = ScriptedLines([ndjson({"error": "an error was encountered while running the model"})])
    with pytest.raises(MalformedResponseError, match="running the model"):
        await collect_from(fake, sleeps)
    assert sleeps.delays == []


async def test_overloaded_error_line_is_retried(sleeps: SleepRecorder) -> None:
    fake = ScriptedLines(
        [ndjson({"error": "server overloaded, please retry"})],
        [
            text_chunk("ok"),
            ndjson({"model": "qwen3", "message": {"role": "assistant"}, "done": True}),
        ],
    )
    events = await collect_from(fake, sleeps)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["ok"]
    assert len(sleeps.delays) == 1


async def test_stream_cut_before_done_is_malformed(sleeps: SleepRecorder) -> None:
    fake = ScriptedLines([text_chunk("partial")])
    with pytest.raises(MalformedResponseError, match="final chunk"):
        await collect_from(fake, sleeps)


# --- The fake itself ---------------------------------------------------------------------------


def test_fake_answers_without_streaming_and_lists_models(fake: Fake, script: Script) -> None:
    script.extend([Reply(text=["Hel", "lo"], tool_calls=[ScriptedToolCall("f", {"a": 1})])])
    with httpx.Client(base_url=fake.url) as client:
        chat = client.post("/api/chat", json={"model": "qwen3", "messages": [], "stream": False})
        tags = client.get("/api/tags")
        version = client.get("/api/version")
    answer = chat.json()
    assert answer["done"] is True
    assert answer["message"]["content"] == "Hello"
    assert answer["message"]["tool_calls"] == [{"function": {"name": "f", "arguments": {"a": 1}}}]
    assert tags.json()["models"][0]["name"] == "qwen3:latest"
    assert "version" in version.json()
