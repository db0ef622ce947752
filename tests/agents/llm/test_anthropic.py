"""Anthropic-only behaviour, through the real SDK against the wire-level fake.

The provider-neutral behaviour lives in `test_provider_behaviour.py`; these cover what only the
Messages API has: thinking signatures, content blocks for files, `is_error` tool results,
native structured output, `error` events inside a 200 stream.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from agents.content import (
    DataPart,
    FilePart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from agents.llm.anthropic import REDACTED_THINKING_PREFIX
from agents.llm.base import (
    LLM,
    BadRequestError,
    ContextTooLongError,
    Finished,
    LLMError,
    LLMEvent,
    LLMRequest,
    MalformedResponseError,
    Message,
    ProviderUnavailableError,
    TextDelta,
    Thinking,
    ThinkingDelta,
    ToolCall,
    ToolSpec,
    Usage,
)
from agents.llm.config import LLMConfig
from agents.llm.factory import build_llm
from tests.fakes.anthropic_server import (
    Fake,
    RawToolCall,
    StreamError,
    sent_blocks,
    sent_system,
    sent_tool_results,
)
from tests.fakes.script import Failure, Reply, Script, ScriptedToolCall, SleepRecorder

PROVIDER = "anthropic"

PNG = b"\x89PNG\r\n\x1a\n fake image"
PDF = b"%PDF-1.7 fake document"

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


def user(*parts: Any) -> Message:
    return Message("user", tuple(parts))


def ask(*messages: Message, **kwargs: Any) -> LLMRequest:
    return LLMRequest(messages=messages, system="Be brief.", **kwargs)


async def collect(llm: LLM, request: LLMRequest) -> list[LLMEvent]:
    return [event async for event in llm.stream(request)]


def text(events: list[LLMEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def body(fake: Fake, index: int = -1) -> dict[str, Any]:
    sent = fake.requests[index].body
    assert isinstance(sent, dict)
    return sent


# --- Thinking ------------------------------------------------------------------------------------


async def test_thinking_signature_arrives_last_and_is_replayed_exactly(
    llm: LLM, fake: Fake, script: Script
) -> None:
    signature = "EqQBCkYIARgCKkBz+/sig==\n"
    script.extend(
        [
            Reply(thinking=["Let me ", "think."], thinking_signature=signature, text="42"),
            Reply(text="Yes."),
        ]
    )
    events = await collect(llm, ask(user(TextPart("Meaning?")), thinking=Thinking(2048)))
    thinking = [e for e in events if isinstance(e, ThinkingDelta)]
    assert [e.signature for e in thinking] == [None, None, signature]
    part = ThinkingPart("".join(e.text for e in thinking), thinking[-1].signature)

    follow_up = ask(
        user(TextPart("Meaning?")),
        Message("assistant", (part, TextPart("42"))),
        user(TextPart("Sure?")),
        thinking=Thinking(2048),
    )
    assert text(await collect(llm, follow_up)) == "Yes."
    assert sent_blocks(fake.requests[1], "assistant") == [
        {"type": "thinking", "thinking": "Let me think.", "signature": signature},
        {"type": "text", "text": "42"},
    ]


async def test_redacted_thinking_round_trips_and_unsigned_thinking_is_dropped(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="ok")])
    history = Message(
        "assistant",
        (
            ThinkingPart("", REDACTED_THINKING_PREFIX + "opaque-data"),
            ThinkingPart("from another provider", None),
            TextPart("earlier answer"),
        ),
    )
    await collect(llm, ask(user(TextPart("a")), history, user(TextPart("b"))))
    assert sent_blocks(fake.requests[0], "assistant") == [
        {"type": "redacted_thinking", "data": "opaque-data"},
        {"type": "text", "text": "earlier answer"},
    ]


async def test_temperature_is_never_sent_and_thinking_budget_fits_max_tokens(
    llm: LLM, fake: Fake, script: Script
) -> None:
    # The SDK's API version (2026-10-21) rejects every sampling parameter.
    script.extend([Reply(text="a"), Reply(thinking="hm", text="b")])
    await collect(llm, ask(user(TextPart("x")), temperature=0.2))
    await collect(llm, ask(user(TextPart("x")), temperature=0.2, thinking=Thinking(8000)))
    plain, thinking = body(fake, 0), body(fake, 1)
    assert "temperature" not in plain
    assert "thinking" not in plain
    assert plain["max_tokens"] == 4096
    assert "temperature" not in thinking
    assert thinking["thinking"] == {
        "type": "enabled",
        "budget_tokens": 8000,
        "display": "summarized",
    }
    assert thinking["max_tokens"] > 8000


async def test_usage_counts_thinking_tokens(llm: LLM, script: Script) -> None:
    script.extend([Reply(thinking="hm", text="b", output_tokens=30, thinking_tokens=12)])
    events = await collect(llm, ask(user(TextPart("x")), thinking=Thinking()))
    assert [e for e in events if isinstance(e, Usage)] == [Usage(11, 30, 12)]


# --- Content blocks ------------------------------------------------------------------------------


async def test_images_and_pdfs_are_sent_as_content_blocks(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="seen")])
    await collect(
        llm,
        ask(
            user(
                TextPart("Look:"),
                FilePart("image/png", data=PNG),
                FilePart("image/jpeg", uri="https://example.com/cat.jpg"),
                FilePart("application/pdf", data=PDF, name="report.pdf"),
                FilePart("application/pdf", uri="https://example.com/paper.pdf"),
                FilePart("audio/wav", data=b"RIFF", name="memo.wav"),
                DataPart({"k": 1}),
            )
        ),
    )
    assert sent_blocks(fake.requests[0]) == [
        {"type": "text", "text": "Look:"},
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/png",
                "data": "iVBORw0KGgogZmFrZSBpbWFnZQ==",
            },
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {
            "type": "document",
            "title": "report.pdf",
            "source": {
                "type": "base64",
                "media_type": "application/pdf",
                "data": "JVBERi0xLjcgZmFrZSBkb2N1bWVudA==",
            },
        },
        {"type": "document", "source": {"type": "url", "url": "https://example.com/paper.pdf"}},
        {"type": "text", "text": "[attachment memo.wav (audio/wav) not supported by anthropic]"},
        {"type": "text", "text": '{"k": 1}'},
    ]


async def test_tool_results_lead_their_user_message_and_carry_is_error(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="Sorry.")])
    await collect(
        llm,
        ask(
            user(TextPart("Weather?")),
            Message("assistant", (ToolCallPart("toolu_1", "get_weather", {"city": "Oz"}),)),
            user(TextPart("Also, hurry.")),
            user(ToolResultPart("toolu_1", "get_weather", "no such city", is_error=True)),
            tools=(WEATHER,),
        ),
    )
    sent = body(fake)
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][2]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": "no such city",
            "is_error": True,
        },
        {"type": "text", "text": "Also, hurry."},
    ]
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]


async def test_foreign_call_ids_are_rewritten_the_same_on_both_sides(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="ok")])
    await collect(
        llm,
        ask(
            user(TextPart("Weather?")),
            Message("assistant", (ToolCallPart("calls/7.a", "get_weather", {"city": "Oz"}),)),
            user(ToolResultPart("calls/7.a", "get_weather", {"sky": "green"})),
        ),
    )
    assert sent_blocks(fake.requests[0], "assistant")[0]["id"] == "calls_7_a"
    assert sent_tool_results(fake.requests[0]) == [("calls_7_a", '{"sky":"green"}')]


async def test_output_schema_uses_native_structured_output(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text='{"city": "Paris"}')])
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    events = await collect(llm, ask(user(TextPart("Where?")), output_schema=schema))
    assert text(events) == '{"city": "Paris"}'
    output_format = body(fake)["output_config"]["format"]
    assert output_format["type"] == "json_schema"
    assert output_format["schema"]["properties"]["city"]["type"] == "string"
    assert output_format["schema"]["required"] == ["city"]
    assert output_format["schema"]["additionalProperties"] is False
    assert sent_system(fake.requests[-1]) == "Be brief."


# --- Stop reasons and stream shape ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("finish", "reason"),
    [("length", "length"), ("content_filter", "content_filter"), ("pause_turn", "other")],
)
async def test_stop_reasons_are_normalised(
    llm: LLM, script: Script, finish: str, reason: str
) -> None:
    script.extend([Reply(text="cut", finish=finish)])
    events = await collect(llm, ask(user(TextPart("x"))))
    assert events[-1] == Finished(reason)  # type: ignore[arg-type]


async def test_tool_input_split_across_deltas_is_reassembled(llm: LLM, script: Script) -> None:
    arguments = {"city": "São Paulo", "days": [1, 2, 3], "units": {"temp": "C"}}
    script.extend([Reply(tool_calls=[ScriptedToolCall("get_weather", arguments, "toolu_9")])])
    calls = [e for e in await collect(llm, ask(user(TextPart("x")))) if isinstance(e, ToolCall)]
    assert calls == [ToolCall("toolu_9", "get_weather", arguments)]


async def test_tool_call_with_invalid_json_is_malformed(llm: LLM, script: Script) -> None:
    script.extend([Reply(tool_calls=[RawToolCall("get_weather", {}, "toolu_1", '{"city": ')])])
    with pytest.raises(MalformedResponseError, match="get_weather"):
        await collect(llm, ask(user(TextPart("x"))))


# --- Errors --------------------------------------------------------------------------------------


async def test_prompt_too_long_is_context_too_long_and_not_retried(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Failure(400, "prompt is too long: 210412 tokens > 200000 maximum")])
    with pytest.raises(ContextTooLongError) as raised:
        await collect(llm, ask(user(TextPart("x"))))
    assert raised.value.message == "prompt is too long: 210412 tokens > 200000 maximum"
    assert raised.value.status == 400
    assert len(fake.requests) == 1


async def test_other_bad_requests_stay_bad_requests(llm: LLM, script: Script) -> None:
    script.extend([Failure(404, "model: claude-nope")])
    with pytest.raises(BadRequestError) as raised:
        await collect(llm, ask(user(TextPart("x"))))
    assert not isinstance(raised.value, ContextTooLongError)
    assert raised.value.status == 404


async def test_overloaded_529_is_retried_honouring_retry_after(
    llm: LLM, fake: Fake, script: Script, sleeps: SleepRecorder
) -> None:
    script.extend([Failure(529, "Overloaded", retry_after="2"), Reply(text="ok")])
    assert text(await collect(llm, ask(user(TextPart("x"))))) == "ok"
    assert sleeps.delays == [2.0]


async def test_real_retry_after_of_one_second_is_waited_out(fake: Fake, script: Script) -> None:
    """AC 5.a: 429 with `Retry-After: 1`, then 200: success after at least a second, one retry."""
    script.extend([Failure(429, "rate limited", retry_after="1"), Reply(text="ok")])
    retries: list[tuple[str, float]] = []
    config = LLMConfig(provider="anthropic", api_key="test-key", base_url=fake.url, max_retries=1)
    client = build_llm(config, on_retry=lambda p, _m, _e, delay: retries.append((p, delay)))
    try:
        started = time.monotonic()
        events = await collect(client, ask(user(TextPart("x"))))
        elapsed = time.monotonic() - started
    finally:
        await client.aclose()
    assert text(events) == "ok"
    assert elapsed >= 1.0
    assert retries == [("anthropic", 1.0)]
    assert len(fake.requests) == 2


async def test_error_event_mid_stream_fails_after_the_text_already_seen(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([StreamError(text_before="partial ", message="Overloaded")])
    seen: list[LLMEvent] = []

    async def consume() -> None:
        async for event in llm.stream(ask(user(TextPart("x")))):
            seen.append(event)

    with pytest.raises(ProviderUnavailableError, match="Overloaded"):
        await consume()
    assert seen == [TextDelta("partial ")]
    assert len(fake.requests) == 1  # tokens were shown: no retry


async def test_error_event_before_any_content_is_retried(
    llm: LLM, fake: Fake, script: Script, sleeps: SleepRecorder
) -> None:
    script.extend([StreamError(text_before=""), Reply(text="ok")])
    assert text(await collect(llm, ask(user(TextPart("x"))))) == "ok"
    assert len(sleeps.delays) == 1
    assert len(fake.requests) == 2


async def test_non_transient_error_event_is_malformed(llm: LLM, script: Script) -> None:
    script.extend([StreamError(text_before="", error_type="invalid_request_error", message="bad")])
    with pytest.raises(MalformedResponseError, match="invalid_request_error: bad"):
        await collect(llm, ask(user(TextPart("x"))))


async def test_errors_never_carry_the_key(llm: LLM, script: Script) -> None:
    script.extend([Failure(401, "invalid x-api-key: test-key")])
    with pytest.raises(LLMError) as raised:
        await collect(llm, ask(user(TextPart("x"))))
    assert "test-key" not in str(raised.value)
    assert "test-key" not in raised.value.message


# --- The fake itself -----------------------------------------------------------------------------


def test_fake_answers_non_streaming_requests_with_a_message(fake: Fake, script: Script) -> None:
    script.extend(
        [Reply(text="hi", tool_calls=[ScriptedToolCall("get_weather", {"city": "Rome"}, "t1")])]
    )
    response = httpx.post(
        f"{fake.url}/v1/messages",
        headers={"x-api-key": "test-key"},
        json={"model": "claude-haiku-4-5", "max_tokens": 10, "messages": []},
    )
    message = response.json()
    assert response.status_code == 200
    assert message["stop_reason"] == "tool_use"
    assert message["content"] == [
        {"type": "text", "text": "hi"},
        {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Rome"}},
    ]
