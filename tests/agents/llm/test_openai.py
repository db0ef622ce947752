"""OpenAI specifics: Chat Completions passes the shared behaviour set too; request shapes for both
APIs; OpenAI's error codes, `retry-after-ms` and failures inside a 200 stream."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import httpx
import pytest

from agents.content import (
    FilePart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
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
    ThinkingDelta,
    ToolCall,
    Usage,
)
from agents.llm.config import LLMConfig
from agents.llm.factory import build_llm
from tests.agents.llm import test_provider_behaviour as shared
from tests.agents.llm.test_provider_behaviour import WEATHER, ask, collect, text
from tests.fakes import openai_server
from tests.fakes.http import RecordedRequest
from tests.fakes.openai_server import Fake, OpenAIFailure, RawToolCall, SummaryReply, make_llm
from tests.fakes.script import Failure, Reply, Script, ScriptedToolCall, SleepRecorder

PROVIDER = "openai"

Api = Literal["responses", "chat"]
APIS: list[Api] = ["responses", "chat"]

#: Every shared behaviour test, in file order: a new one there runs here against `api="chat"` too.
SHARED_BEHAVIOURS: list[Callable[..., Any]] = [
    value
    for name, value in vars(shared).items()
    if name.startswith("test_") and inspect.iscoroutinefunction(value)
]

PNG = b"\x89PNG\r\n\x1a\nfake-image"
PDF = b"%PDF-1.7 fake"


@pytest.fixture(params=APIS)
def api(request: pytest.FixtureRequest) -> Api:
    api: Api = request.param
    return api


@pytest.fixture
async def llm(fake: Fake, sleeps: SleepRecorder, api: Api) -> AsyncIterator[LLM]:
    client = make_llm(fake, max_retries=2, sleep=sleeps, api=api)
    yield client
    await client.aclose()


def body(request: RecordedRequest) -> dict[str, Any]:
    assert isinstance(request.body, dict)
    return request.body


async def events_until_failure(llm: LLM, request: LLMRequest) -> tuple[list[LLMEvent], Exception]:
    seen: list[LLMEvent] = []
    try:
        async for event in llm.stream(request):
            seen.append(event)
    except Exception as error:
        return seen, error
    raise AssertionError(f"the stream did not fail: {seen}")


# --- The shared set, over Chat Completions -----------------------------------------------------


@pytest.mark.parametrize("behaviour", SHARED_BEHAVIOURS, ids=lambda test: test.__name__)
async def test_chat_api_passes_the_shared_behaviour(
    behaviour: Callable[..., Any], fake: Fake, script: Script, sleeps: SleepRecorder
) -> None:
    client = make_llm(fake, max_retries=2, sleep=sleeps, api="chat")
    available = {
        "llm": client,
        "fake": fake,
        "script": script,
        "sleeps": sleeps,
        "provider": openai_server,
    }
    try:
        await behaviour(
            **{name: available[name] for name in inspect.signature(behaviour).parameters}
        )
    finally:
        await client.aclose()
    assert all(request.path == openai_server.CHAT_PATH for request in fake.requests)


# --- Request shapes ----------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["responses"])
async def test_responses_request_carries_instructions_tools_and_limits(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="ok")])
    await collect(llm, ask("Hi", tools=(WEATHER,), temperature=0.3, max_tokens=256))
    sent = body(fake.requests[-1])
    assert fake.requests[-1].path == "/v1/responses"
    assert fake.requests[-1].headers["authorization"] == "Bearer test-key"
    assert sent["model"] == "gpt-4o"
    assert sent["stream"] is True
    assert sent["instructions"] == "Be brief."
    assert sent["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
    ]
    assert sent["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": dict(WEATHER.parameters),
            "strict": False,
        }
    ]
    assert (sent["max_output_tokens"], sent["temperature"]) == (256, 0.3)
    assert "reasoning" not in sent
    assert "text" not in sent


@pytest.mark.parametrize("api", ["chat"])
async def test_chat_request_carries_system_tools_and_limits(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="ok")])
    await collect(llm, ask("Hi", tools=(WEATHER,), temperature=0.3, max_tokens=256))
    sent = body(fake.requests[-1])
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city.",
                "parameters": dict(WEATHER.parameters),
            },
        }
    ]
    assert sent["stream_options"] == {"include_usage": True}
    assert (sent["max_tokens"], sent["temperature"]) == (256, 0.3)
    assert "reasoning_effort" not in sent
    assert "response_format" not in sent


SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


@pytest.mark.parametrize("api", ["responses"])
async def test_responses_structured_output_is_a_text_format_json_schema(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text='{"answer": "yes"}')])
    events = await collect(llm, ask("Yes?", output_schema=SCHEMA))
    assert text(events) == '{"answer": "yes"}'
    assert body(fake.requests[-1])["text"] == {
        "format": {"type": "json_schema", "name": "output", "schema": SCHEMA, "strict": False}
    }


@pytest.mark.parametrize("api", ["chat"])
async def test_chat_structured_output_is_a_json_schema_response_format(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text='{"answer": "yes"}')])
    await collect(llm, ask("Yes?", output_schema=SCHEMA))
    assert body(fake.requests[-1])["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SCHEMA, "strict": False},
    }


def with_attachments() -> LLMRequest:
    return LLMRequest(
        messages=(
            Message(
                "user",
                (
                    TextPart("What is in these?"),
                    FilePart("image/png", data=PNG, name="cat.png"),
                    FilePart("image/jpeg", uri="https://example.com/dog.jpg"),
                    FilePart("application/pdf", data=PDF, name="report.pdf"),
                    FilePart("audio/wav", data=b"RIFF", name="hello.wav"),
                ),
            ),
        )
    )


@pytest.mark.parametrize("api", ["responses"])
async def test_responses_images_and_pdfs_are_input_parts(
    llm: LLM, fake: Fake, script: Script
) -> None:
    script.extend([Reply(text="A cat and a dog.")])
    await collect(llm, with_attachments())
    [message] = body(fake.requests[-1])["input"]
    assert message["content"] == [
        {"type": "input_text", "text": "What is in these?"},
        {
            "type": "input_image",
            "image_url": "data:image/png;base64,iVBORw0KGgpmYWtlLWltYWdl",
            "detail": "auto",
        },
        {"type": "input_image", "image_url": "https://example.com/dog.jpg", "detail": "auto"},
        {
            "type": "input_file",
            "filename": "report.pdf",
            "file_data": "data:application/pdf;base64,JVBERi0xLjcgZmFrZQ==",
        },
        {
            "type": "input_text",
            "text": "[attachment hello.wav (audio/wav) not supported by openai]",
        },
    ]


@pytest.mark.parametrize("api", ["chat"])
async def test_chat_images_are_image_url_parts(llm: LLM, fake: Fake, script: Script) -> None:
    script.extend([Reply(text="A cat and a dog.")])
    await collect(llm, with_attachments())
    [message] = body(fake.requests[-1])["messages"]
    assert message["role"] == "user"
    assert message["content"] == [
        {"type": "text", "text": "What is in these?"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64,iVBORw0KGgpmYWtlLWltYWdl"},
        },
        {"type": "image_url", "image_url": {"url": "https://example.com/dog.jpg"}},
        {
            "type": "file",
            "file": {
                "filename": "report.pdf",
                "file_data": "data:application/pdf;base64,JVBERi0xLjcgZmFrZQ==",
            },
        },
        {"type": "text", "text": "[attachment hello.wav (audio/wav) not supported by openai]"},
    ]


async def test_reasoning_effort_is_sent_without_temperature(
    llm: LLM, fake: Fake, script: Script, api: Api
) -> None:
    script.extend([Reply(text="42"), Reply(text="42")])
    await collect(llm, ask("Why?", thinking=Thinking(effort="high"), temperature=0.7))
    await collect(llm, ask("Why?", thinking=Thinking(budget_tokens=2048), temperature=0.7))
    high, default = body(fake.requests[0]), body(fake.requests[1])
    if api == "chat":
        assert (high["reasoning_effort"], default["reasoning_effort"]) == ("high", "medium")
    else:
        assert high["reasoning"] == {"effort": "high", "summary": "auto"}
        assert default["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert "temperature" not in high
    assert "temperature" not in default


async def test_usage_counts_reasoning_tokens(llm: LLM, script: Script) -> None:
    script.extend(
        [Reply(thinking="Hmm.", text="42", input_tokens=30, output_tokens=20, thinking_tokens=12)]
    )
    events = await collect(llm, ask("Why?", thinking=Thinking(effort="low")))
    assert [e for e in events if isinstance(e, Usage)] == [Usage(30, 20, 12)]
    assert [e.text for e in events if isinstance(e, ThinkingDelta)] == ["Hmm."]
    assert events[-1] == Finished("stop")


@pytest.mark.parametrize("api", ["responses"])
async def test_reasoning_summary_parts_stay_paragraphs(llm: LLM, script: Script) -> None:
    script.extend([SummaryReply(summary_parts=[["**Plan**", " first."], ["**Check**"]], text="ok")])
    events = await collect(llm, ask("Why?", thinking=Thinking()))
    thinking = "".join(e.text for e in events if isinstance(e, ThinkingDelta))
    assert thinking == "**Plan** first.\n\n**Check**"


async def test_history_replays_text_calls_and_results(
    llm: LLM, fake: Fake, script: Script, api: Api
) -> None:
    script.extend([Reply(text="Take an umbrella.")])
    request = LLMRequest(
        system="Be brief.",
        tools=(WEATHER,),
        messages=(
            Message("user", (TextPart("Weather in Paris?"),)),
            Message(
                "assistant",
                (
                    ThinkingPart("They want the weather.", signature="opaque"),
                    TextPart("Let me check."),
                    ToolCallPart("call_7", "get_weather", {"city": "Paris"}),
                ),
            ),
            Message(
                "user",
                (
                    ToolResultPart("call_7", "get_weather", "service down", is_error=True),
                    TextPart("Any luck?"),
                ),
            ),
        ),
    )
    await collect(llm, request)
    sent = body(fake.requests[-1])
    if api == "chat":
        assert sent["messages"][1:] == [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": "Let me check.",
                "tool_calls": [
                    {
                        "id": "call_7",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_7", "content": "Error: service down"},
            {"role": "user", "content": "Any luck?"},
        ]
        return
    user = [{"type": "input_text", "text": "Weather in Paris?"}]
    assert sent["input"] == [
        {"type": "message", "role": "user", "content": user},
        {"type": "message", "role": "assistant", "content": "Let me check."},
        {
            "type": "function_call",
            "call_id": "call_7",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {"type": "function_call_output", "call_id": "call_7", "output": "Error: service down"},
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Any luck?"}],
        },
    ]


# --- Answers -----------------------------------------------------------------------------------


async def test_truncated_answer_finishes_with_length(llm: LLM, script: Script) -> None:
    script.extend([Reply(text="Once upon a", finish="length")])
    events = await collect(llm, ask("A story", max_tokens=3))
    assert text(events) == "Once upon a"
    assert events[-1] == Finished("length")


async def test_tool_call_keeps_its_call_id(llm: LLM, script: Script) -> None:
    script.extend([Reply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Oslo"}, "call_9")])])
    events = await collect(llm, ask("Oslo?", tools=(WEATHER,)))
    assert [e for e in events if isinstance(e, ToolCall)] == [
        ToolCall("call_9", "get_weather", {"city": "Oslo"})
    ]


async def test_tool_call_with_broken_arguments_is_malformed(llm: LLM, script: Script) -> None:
    broken = RawToolCall("get_weather", {}, "call_1", raw_arguments='{"city": "Par')
    script.extend([Reply(tool_calls=[broken])])
    with pytest.raises(MalformedResponseError, match="get_weather"):
        await collect(llm, ask("Paris?", tools=(WEATHER,)))


# --- Errors ------------------------------------------------------------------------------------


async def test_context_length_exceeded_is_context_too_long(
    llm: LLM, fake: Fake, script: Script
) -> None:
    message = "This model's maximum context length is 128000 tokens. Your messages: 130000."
    script.extend([OpenAIFailure(400, message, code="context_length_exceeded")])
    with pytest.raises(ContextTooLongError) as raised:
        await collect(llm, ask("Hi"))
    assert raised.value.message == message
    assert raised.value.status == 400
    assert len(fake.requests) == 1


@pytest.mark.parametrize("api", ["chat"])
async def test_vllm_context_overflow_without_a_code_is_context_too_long(
    llm: LLM, script: Script
) -> None:
    script.extend([Failure(400, "This model's maximum context length is 4096 tokens.")])
    with pytest.raises(ContextTooLongError):
        await collect(llm, ask("Hi"))


async def test_retry_after_ms_wins_over_backoff(
    llm: LLM, fake: Fake, script: Script, sleeps: SleepRecorder
) -> None:
    script.extend([OpenAIFailure(429, "slow down", retry_after_ms="1500"), Reply(text="ok")])
    assert text(await collect(llm, ask("Hi"))) == "ok"
    assert sleeps.delays == [1.5]
    assert len(fake.requests) == 2


async def test_unavailable_honours_retry_after(
    llm: LLM, script: Script, sleeps: SleepRecorder
) -> None:
    script.extend([Failure(503, "overloaded", retry_after="2"), Reply(text="ok")])
    assert text(await collect(llm, ask("Hi"))) == "ok"
    assert sleeps.delays == [2.0]


async def test_insufficient_quota_is_not_retried(llm: LLM, fake: Fake, script: Script) -> None:
    script.extend(
        [OpenAIFailure(429, "You exceeded your current quota", code="insufficient_quota")]
    )
    with pytest.raises(BadRequestError) as raised:
        await collect(llm, ask("Hi"))
    assert raised.value.status == 429
    assert len(fake.requests) == 1


async def test_error_message_never_carries_the_key(llm: LLM, script: Script) -> None:
    script.extend([Failure(401, "Incorrect API key provided: test-key.")])
    with pytest.raises(AuthenticationError) as raised:
        await collect(llm, ask("Hi"))
    assert "test-key" not in str(raised.value)
    assert raised.value.message == "Incorrect API key provided: [redacted]."


async def test_connection_refused_is_unavailable_and_retried(
    fake: Fake, sleeps: SleepRecorder, api: Api
) -> None:
    client = make_llm(fake, max_retries=1, sleep=sleeps, api=api)
    fake.stop()
    try:
        with pytest.raises(ProviderUnavailableError, match="Connection error"):
            await collect(client, ask("Hi"))
    finally:
        await client.aclose()
    assert len(sleeps.delays) == 1


@pytest.mark.parametrize("api", ["responses"])
async def test_response_failed_mid_stream_fails_the_turn(
    llm: LLM, fake: Fake, script: Script, sleeps: SleepRecorder
) -> None:
    script.extend(
        [OpenAIFailure(500, "The model crashed", in_stream="response.failed", text_before="Hel")]
    )
    seen, error = await events_until_failure(llm, ask("Hi"))
    assert seen == [TextDelta("Hel")]
    assert isinstance(error, ProviderUnavailableError)
    assert error.message == "The model crashed"
    assert len(fake.requests) == 1  # tokens were out: no retry
    assert sleeps.delays == []


@pytest.mark.parametrize("api", ["chat"])
async def test_error_chunk_mid_stream_fails_the_turn(llm: LLM, fake: Fake, script: Script) -> None:
    script.extend([OpenAIFailure(500, "engine died", in_stream="error", text_before="Hel")])
    seen, error = await events_until_failure(llm, ask("Hi"))
    assert seen == [TextDelta("Hel")]
    assert isinstance(error, ProviderUnavailableError)
    assert error.message == "engine died"
    assert len(fake.requests) == 1


async def test_stream_failure_before_any_token_is_retried(
    llm: LLM, fake: Fake, script: Script, sleeps: SleepRecorder, api: Api
) -> None:
    failure = OpenAIFailure(500, "overloaded", in_stream="response.failed")
    if api == "chat":
        failure = OpenAIFailure(500, "overloaded", in_stream="error")
    script.extend([failure, Reply(text="ok")])
    assert text(await collect(llm, ask("Hi"))) == "ok"
    assert len(fake.requests) == 2
    assert len(sleeps.delays) == 1


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("context_length_exceeded", ContextTooLongError),
        ("invalid_prompt", BadRequestError),
        ("server_error", ProviderUnavailableError),
    ],
)
@pytest.mark.parametrize("api", ["responses"])
async def test_error_event_is_typed_by_its_code(
    llm: LLM, script: Script, code: str, expected: type[Exception]
) -> None:
    script.extend([OpenAIFailure(400, "no", code=code, in_stream="error", text_before="x")])
    _, error = await events_until_failure(llm, ask("Hi"))
    assert type(error) is expected


async def test_keyless_compatible_server_needs_no_key(fake: Fake, script: Script) -> None:
    """vLLM and llama.cpp run without keys; the SDK insists on one, so a placeholder goes."""
    script.extend([Reply(text="ok")])
    config = LLMConfig.model_validate(
        {"provider": "openai", "base_url": fake.url + "/v1", "api": "chat"},
        context={"env": {}},
    )
    assert config.api_key is None
    client = build_llm(config)
    try:
        assert text(await collect(client, ask("Hi"))) == "ok"
    finally:
        await client.aclose()
    assert fake.requests[-1].headers["authorization"] == "Bearer no-key"


# --- The fake itself ---------------------------------------------------------------------------


def test_fake_answers_without_stream_with_the_whole_object(fake: Fake, script: Script) -> None:
    call = ScriptedToolCall("get_weather", {"city": "Paris"}, "call_1")
    script.extend([Reply(text="Hi", thinking="Hmm"), Reply(text="Hi", tool_calls=[call])])
    with httpx.Client(base_url=fake.url) as client:
        response = client.post("/v1/responses", json={"model": "gpt-4o", "input": "Hi"}).json()
        chat = client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": []}).json()
    assert response["object"] == "response"
    assert response["status"] == "completed"
    assert [item["type"] for item in response["output"]] == ["reasoning", "message"]
    assert response["output"][1]["content"][0]["text"] == "Hi"
    assert chat["object"] == "chat.completion"
    assert chat["choices"][0]["finish_reason"] == "tool_calls"
    assert chat["choices"][0]["message"]["tool_calls"][0]["id"] == "call_1"
