"""Gemini-only behaviour, through the real `google-genai` SDK against the wire-level fake.

The shared behaviour (text, tools, thinking, retries, typed errors) is in
`test_provider_behaviour.py`; these cover what only Gemini has: inline media, thought signatures
on function calls, calls without ids, `responseJsonSchema`, its finish reasons and `RetryInfo`.
"""

from __future__ import annotations

import base64
import json
import socket
from typing import Any

import pytest

from agents.content import (
    DataPart,
    FilePart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from agents.llm.base import (
    AuthenticationError,
    BadRequestError,
    ContextTooLongError,
    Finished,
    LLMEvent,
    LLMRequest,
    MalformedResponseError,
    Message,
    ProviderUnavailableError,
    RateLimitError,
    RetryPolicy,
    TextDelta,
    Thinking,
    ThinkingDelta,
    ToolCall,
    ToolSpec,
    Usage,
)
from agents.llm.gemini import GeminiLLM
from tests.fakes import gemini_server
from tests.fakes.gemini_server import (
    Fake,
    GeminiFailure,
    RawReply,
    api_key_invalid,
    field,
    make_llm,
    retry_info,
    sent_generation_config,
    sent_parts,
    sent_signature,
    sent_tool_results,
)
from tests.fakes.script import Failure, Malformed, Reply, Script, ScriptedToolCall, SleepRecorder

PROVIDER = "gemini"

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {"city_name": {"type": "string"}},
        "required": ["city_name"],
        "additionalProperties": False,
    },
)


def user(*parts: Any) -> Message:
    return Message("user", tuple(parts))


def assistant(*parts: Any) -> Message:
    return Message("assistant", tuple(parts))


async def collect(llm: Any, request: LLMRequest) -> list[LLMEvent]:
    return [event async for event in llm.stream(request)]


def tool_calls(events: list[LLMEvent]) -> list[ToolCall]:
    return [e for e in events if isinstance(e, ToolCall)]


# --- Request translation -----------------------------------------------------------------------


async def test_media_parts_are_sent_inline_with_their_mime_types(
    llm: Any, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="A cat, a meow, a clip and a report.")])
    media = {
        "image/png": b"\x89PNG\r\n\x1a\n",
        "audio/wav": b"RIFF\x00\x00WAVE",
        "video/mp4": b"\x00\x00\x00\x18ftypmp42",
        "application/pdf": b"%PDF-1.7\n",
    }
    files = [FilePart(mime, data=data) for mime, data in media.items()]
    await collect(llm, LLMRequest(messages=(user(TextPart("Describe these."), *files),)))

    parts = sent_parts(fake.requests[-1])
    assert parts[0] == {"text": "Describe these."}
    inline = [field(part, "inlineData") for part in parts[1:]]
    assert [field(blob, "mimeType") for blob in inline] == list(media)
    assert [base64.urlsafe_b64decode(blob["data"]) for blob in inline] == list(media.values())


async def test_file_uris_go_as_file_data_and_unsupported_media_as_a_note(
    llm: Any, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="ok")])
    uri = "https://generativelanguage.googleapis.com/v1beta/files/abc123"
    request = LLMRequest(
        messages=(
            user(
                FilePart("video/mp4", uri=uri),
                FilePart("application/zip", data=b"PK\x03\x04", name="bundle.zip"),
                DataPart({"order": 42}),
                FilePart("audio/wav; rate=16000", data=b"RIFF"),
                FilePart("text/markdown", data=b"# Notes"),
            ),
        )
    )
    await collect(llm, request)

    parts = sent_parts(fake.requests[-1])
    file_data = field(parts[0], "fileData")
    assert (field(file_data, "fileUri"), field(file_data, "mimeType")) == (uri, "video/mp4")
    assert parts[1] == {"text": "[attachment bundle.zip (application/zip) not supported by gemini]"}
    assert json.loads(parts[2]["text"]) == {"order": 42}
    # Gemini takes the bare media type; plain-text documents are read as text.
    assert [field(field(p, "inlineData"), "mimeType") for p in parts[3:]] == [
        "audio/wav",
        "text/markdown",
    ]


async def test_system_tools_and_sampling_settings_reach_gemini(
    llm: Any, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="ok")])
    request = LLMRequest(
        messages=(user(TextPart("Hi")),),
        system="Answer in French.",
        tools=(WEATHER,),
        temperature=0.2,
        max_tokens=321,
    )
    await collect(llm, request)

    sent = fake.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    assert sent.headers["x-goog-api-key"] == "test-key"
    assert gemini_server.sent_system(sent) == "Answer in French."
    config = sent_generation_config(sent)
    assert (config["temperature"], field(config, "maxOutputTokens")) == (0.2, 321)
    (declaration,) = field(sent.json()["tools"][0], "functionDeclarations")
    # Raw JSON Schema, untouched: property names keep their case, additionalProperties stays.
    assert field(declaration, "parametersJsonSchema") == dict(WEATHER.parameters)
    assert "thinkingConfig" not in config
    assert "thinking_config" not in config


async def test_structured_output_asks_for_json_matching_the_schema(
    llm: Any, fake: Fake, script: Script
) -> None:
    schema = {
        "type": "object",
        "properties": {"verdict": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["verdict"],
    }
    script.extend([Reply(text='{"verdict": "yes"}')])
    events = await collect(
        llm, LLMRequest(messages=(user(TextPart("Is it?")),), output_schema=schema)
    )

    assert json.loads("".join(e.text for e in events if isinstance(e, TextDelta))) == {
        "verdict": "yes"
    }
    config = sent_generation_config(fake.requests[-1])
    assert field(config, "responseMimeType") == "application/json"
    assert field(config, "responseJsonSchema") == schema


async def test_thinking_config_and_usage_with_thought_tokens(
    llm: Any, fake: Fake, script: Script
) -> None:
    script.extend([Reply(thinking="Hmm.", text="42", thinking_tokens=9, output_tokens=2)])
    events = await collect(
        llm,
        LLMRequest(messages=(user(TextPart("?")),), thinking=Thinking(budget_tokens=2048)),
    )

    thinking = field(sent_generation_config(fake.requests[-1]), "thinkingConfig")
    assert field(thinking, "includeThoughts") is True
    assert field(thinking, "thinkingBudget") == 2048
    assert [e for e in events if isinstance(e, Usage)] == [Usage(11, 2, 9)]
    assert events[-1] == Finished("stop")


async def test_tool_results_are_wrapped_as_gemini_wants_them(
    llm: Any, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="done")])
    request = LLMRequest(
        tools=(WEATHER,),
        messages=(
            user(TextPart("Weather in three cities?")),
            assistant(
                ToolCallPart("c1", "get_weather", {"city_name": "Paris"}),
                ToolCallPart("c2", "get_weather", {"city_name": "Rome"}),
                ToolCallPart("c3", "get_weather", {"city_name": "Oslo"}),
            ),
            user(
                ToolResultPart("c1", "get_weather", {"sky": "sunny"}),
                ToolResultPart("c2", "get_weather", "rain, 12C"),
            ),
            user(ToolResultPart("c3", "get_weather", "city not found", is_error=True)),
        ),
    )
    await collect(llm, request)

    contents = gemini_server.sent_contents(fake.requests[-1])
    # Both user messages with results form the single user turn answering the model's calls.
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    responses = [field(part, "functionResponse") for part in contents[2]["parts"]]
    assert [(r["id"], r["name"], r["response"]) for r in responses] == [
        ("c1", "get_weather", {"sky": "sunny"}),
        ("c2", "get_weather", {"result": "rain, 12C"}),
        ("c3", "get_weather", {"error": "city not found"}),
    ]


# --- Thought signatures and call ids -----------------------------------------------------------


async def test_function_call_thought_signature_is_replayed_on_the_next_turn(
    llm: Any, fake: Fake, script: Script
) -> None:
    script.extend(
        [
            Reply(
                thinking_signature="opaque-reasoning-state",
                tool_calls=[
                    ScriptedToolCall("get_weather", {"city_name": "Paris"}, "call_p"),
                    ScriptedToolCall("get_weather", {"city_name": "Rome"}, "call_r"),
                ],
            ),
            Reply(text="Sunny and rainy."),
        ]
    )
    first = await collect(llm, LLMRequest(messages=(user(TextPart("Two?")),), tools=(WEATHER,)))
    paris, rome = tool_calls(first)
    # Gemini signs the first call of a turn only; the signature is base64 text with us.
    assert base64.b64decode(paris.metadata["thought_signature"]) == b"opaque-reasoning-state"
    assert "thought_signature" not in rome.metadata

    follow_up = LLMRequest(
        tools=(WEATHER,),
        messages=(
            user(TextPart("Two?")),
            assistant(
                *(ToolCallPart(c.call_id, c.name, c.arguments, c.metadata) for c in (paris, rome))
            ),
            user(*(ToolResultPart(c.call_id, c.name, {"ok": True}) for c in (paris, rome))),
        ),
    )
    await collect(llm, follow_up)

    model_turn = gemini_server.sent_contents(fake.requests[-1])[1]
    assert model_turn["role"] == "model"
    sent_calls = [field(part, "functionCall")["id"] for part in model_turn["parts"]]
    assert sent_calls == ["call_p", "call_r"]
    assert [sent_signature(part) for part in model_turn["parts"]] == [
        b"opaque-reasoning-state",
        None,
    ]


async def test_function_calls_without_ids_get_generated_ids_that_map_back(
    llm: Any, fake: Fake, script: Script
) -> None:
    call = ScriptedToolCall("get_weather", {"city_name": "Paris"})  # Gemini sent no id
    other = ScriptedToolCall("get_weather", {"city_name": "Rome"})
    script.extend([Reply(tool_calls=[call, other]), Reply(tool_calls=[call]), Reply(text="ok")])
    request = LLMRequest(messages=(user(TextPart("Weather?")),), tools=(WEATHER,))

    first = tool_calls(await collect(llm, request))
    second = tool_calls(await collect(llm, request))

    ids = [c.call_id for c in first + second]
    assert all(call_id.startswith("call_") for call_id in ids)
    assert len(set(ids)) == 3  # distinct within a turn and across turns
    assert all(c.metadata.get("id_generated") is True for c in first + second)

    follow_up = LLMRequest(
        tools=(WEATHER,),
        messages=(
            user(TextPart("Weather?")),
            assistant(*(ToolCallPart(c.call_id, c.name, c.arguments, c.metadata) for c in first)),
            user(
                ToolResultPart(first[0].call_id, "get_weather", {"sky": "sunny"}),
                ToolResultPart(first[1].call_id, "get_weather", {"sky": "rain"}),
            ),
        ),
    )
    await collect(llm, follow_up)

    # The invented ids never reach Gemini: calls and results pair by name and order, as the
    # model produced them.
    parts = sent_parts(fake.requests[-1])
    calls = [field(p, "functionCall") for p in parts if field(p, "functionCall")]
    assert calls == [
        {"args": {"city_name": "Paris"}, "name": "get_weather"},
        {"args": {"city_name": "Rome"}, "name": "get_weather"},
    ]
    assert sent_tool_results(fake.requests[-1]) == [
        ("get_weather", '{"sky": "sunny"}'),
        ("get_weather", '{"sky": "rain"}'),
    ]


async def test_answer_signature_closes_the_thinking_and_is_replayed_as_a_thought(
    llm: Any, fake: Fake, script: Script
) -> None:
    script.extend([Reply(thinking=["Let me ", "see."], text="Yes.", thinking_signature="s1")])
    events = await collect(
        llm, LLMRequest(messages=(user(TextPart("?")),), thinking=Thinking(budget_tokens=512))
    )

    thinking = [e for e in events if isinstance(e, ThinkingDelta)]
    assert "".join(e.text for e in thinking) == "Let me see."
    signature = thinking[-1].signature
    assert signature is not None
    assert signature.startswith("gemini:")
    assert base64.b64decode(signature.removeprefix("gemini:")) == b"s1"
    assert events.index(thinking[-1]) < events.index(TextDelta("Yes."))

    script.extend([Reply(text="Again yes.")])
    anthropic_signature = base64.b64encode(b"someone else's").decode()
    replay = LLMRequest(
        messages=(
            user(TextPart("?")),
            assistant(
                ThinkingPart("Old thoughts without a signature."),
                ThinkingPart("Another provider's thoughts.", signature=anthropic_signature),
                ThinkingPart("Let me see.", signature=signature),
                TextPart("Yes."),
            ),
            user(TextPart("Sure?")),
        ),
    )
    await collect(llm, replay)

    model_turn = gemini_server.sent_contents(fake.requests[-1])[1]
    assert [(part.get("text"), part.get("thought")) for part in model_turn["parts"]] == [
        ("Let me see.", True),
        ("Yes.", None),
    ]
    assert sent_signature(model_turn["parts"][0]) == b"s1"


# --- Finish reasons ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gemini_reason", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "other"),
    ],
)
async def test_finish_reasons_are_normalised(
    llm: Any, script: Script, gemini_reason: str, expected: str
) -> None:
    script.extend([Reply(text="Once upon", finish=gemini_reason)])
    events = await collect(llm, LLMRequest(messages=(user(TextPart("Story?")),)))
    assert events[-1] == Finished(expected)  # type: ignore[arg-type]


async def test_a_blocked_prompt_finishes_as_content_filter(llm: Any, script: Script) -> None:
    blocked = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
        "modelVersion": "gemini-2.5-pro",
        "responseId": "blocked-1",
    }
    script.extend([RawReply(frames=[blocked])])
    events = await collect(llm, LLMRequest(messages=(user(TextPart("...")),)))
    assert events == [Usage(8, 0, 0), Finished("content_filter")]


async def test_a_stream_cut_before_its_finish_reason_fails_the_turn(
    llm: Any, script: Script
) -> None:
    chunk = {
        "candidates": [{"content": {"parts": [{"text": "Half an ans"}], "role": "model"}}],
        "responseId": "cut-1",
    }
    script.extend([RawReply(frames=[chunk])])
    seen: list[LLMEvent] = []

    async def consume() -> None:
        async for event in llm.stream(LLMRequest(messages=(user(TextPart("?")),))):
            seen.append(event)

    with pytest.raises(ProviderUnavailableError):
        await consume()
    assert seen == [TextDelta("Half an ans")]


async def test_garbage_mid_stream_is_a_malformed_response(llm: Any, script: Script) -> None:
    script.extend([Malformed(text_before="Hal")])
    seen: list[LLMEvent] = []

    async def consume() -> None:
        async for event in llm.stream(LLMRequest(messages=(user(TextPart("?")),))):
            seen.append(event)

    with pytest.raises(MalformedResponseError):
        await consume()
    assert seen == [TextDelta("Hal")]


async def test_an_error_event_mid_stream_is_typed(llm: Any, script: Script) -> None:
    chunk = {
        "candidates": [{"content": {"parts": [{"text": "Start"}], "role": "model"}}],
        "responseId": "err-1",
    }
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    script.extend([RawReply(frames=[chunk, error])])
    with pytest.raises(ProviderUnavailableError) as raised:
        await collect(llm, LLMRequest(messages=(user(TextPart("?")),)))
    assert raised.value.message == "The model is overloaded."


# --- Errors ------------------------------------------------------------------------------------


async def test_retry_info_delay_is_honoured(
    llm: Any, fake: Fake, script: Script, sleeps: SleepRecorder
) -> None:
    quota = GeminiFailure(
        429,
        "You exceeded your current quota.",
        details=(
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
            retry_info("7s"),
        ),
    )
    script.extend([quota, Reply(text="ok")])
    events = await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    assert TextDelta("ok") in events
    assert sleeps.delays == [7.0]
    assert len(fake.requests) == 2


async def test_rate_limit_carries_retry_delay_when_retries_run_out(
    fake: Fake, script: Script
) -> None:
    script.extend([GeminiFailure(429, "Quota exceeded.", details=(retry_info("2.5s"),))])
    llm = make_llm(fake, max_retries=0)
    try:
        with pytest.raises(RateLimitError) as raised:
            await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    finally:
        await llm.aclose()
    assert raised.value.retry_after_s == 2.5
    assert raised.value.message == "Quota exceeded."


async def test_invalid_key_400_is_an_authentication_error(
    llm: Any, fake: Fake, script: Script
) -> None:
    script.extend([api_key_invalid()])
    with pytest.raises(AuthenticationError) as raised:
        await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    assert "API key not valid" in raised.value.message
    assert len(fake.requests) == 1


async def test_token_limit_400_is_context_too_long(llm: Any, script: Script) -> None:
    script.extend(
        [
            Failure(
                400,
                "The input token count (1200000) exceeds the maximum number of tokens "
                "allowed (1048576).",
            )
        ]
    )
    with pytest.raises(ContextTooLongError):
        await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))


async def test_provider_message_is_kept_but_the_key_is_not(llm: Any, script: Script) -> None:
    script.extend([Failure(400, "Bad request from key test-key: field x is unknown")])
    with pytest.raises(BadRequestError) as raised:
        await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    assert "field x is unknown" in raised.value.message
    assert "test-key" not in str(raised.value)


async def test_the_sdk_does_not_retry_behind_our_back(fake: Fake, script: Script) -> None:
    script.extend([Failure(503, "busy"), Failure(503, "busy")])
    llm = make_llm(fake, max_retries=0)
    try:
        with pytest.raises(ProviderUnavailableError) as raised:
            await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    finally:
        await llm.aclose()
    assert raised.value.status == 503
    assert len(fake.requests) == 1


async def test_connection_refused_is_unavailable_and_retried(sleeps: SleepRecorder) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = GeminiLLM(
        model="gemini-2.5-flash",
        api_key="test-key",
        base_url=f"http://127.0.0.1:{port}",
        timeout_s=5,
        retry=RetryPolicy(max_retries=1),
        sleep=sleeps,
    )
    try:
        with pytest.raises(ProviderUnavailableError):
            await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    finally:
        await llm.aclose()
    assert len(sleeps.delays) == 1


async def test_a_slow_answer_times_out_as_unavailable(fake: Fake, script: Script) -> None:
    script.extend([Reply(text="late", delay_s=1.0)])
    llm = GeminiLLM(
        model="gemini-2.5-flash",
        api_key="test-key",
        base_url=fake.url,
        timeout_s=0.2,
        retry=RetryPolicy(max_retries=0),
    )
    try:
        with pytest.raises(ProviderUnavailableError) as raised:
            await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    finally:
        await llm.aclose()
    assert "timed out" in raised.value.message


async def test_without_a_key_the_call_fails_as_authentication() -> None:
    llm = GeminiLLM(model="gemini-2.5-flash", api_key=None)
    with pytest.raises(AuthenticationError):
        await collect(llm, LLMRequest(messages=(user(TextPart("Hi")),)))
    await llm.aclose()
