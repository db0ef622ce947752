"""Anthropic Messages API through the official `anthropic` SDK, streamed.

The SDK is built with `max_retries=0`: retries and `Retry-After` belong to `ProviderLLM`, which
only retries before the first event. Everything Anthropic-specific ends here: thinking signatures,
`tool_use` ids, `tool_result` placement, usage fields and error bodies.

Two SDK facts shape the request. The SDK (2.x) sends `anthropic-version: 2026-10-21`, under which
any sampling parameter (`temperature`, `top_p`, `top_k`) is a 400 and which the SDK no longer
accepts as an argument, so `LLMRequest.temperature` is never sent. Structured output is native
(`output_config.format` with a JSON schema), so `output_schema` does not touch the system prompt.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
import anthropic
import httpx2
from anthropic.types import (
    MessageParam,
    OutputConfigParam,
    RawMessageStreamEvent,
    ThinkingConfigParam,
    ToolParam,
)

from agents.content import (
    DataPart,
    FilePart,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from agents.llm.base import (
    MAX_PROVIDER_CONNECTIONS,
    AuthenticationError,
    BadRequestError,
    ContextTooLongError,
    Finished,
    FinishReason,
    LLMError,
    LLMEvent,
    LLMRequest,
    MalformedResponseError,
    Message,
    ProviderLLM,
    ProviderUnavailableError,
    RateLimitError,
    RetryObserver,
    RetryPolicy,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    ToolSpec,
    Usage,
    parse_retry_after,
)
from agents.llm.config import DEFAULT_MAX_TOKENS

log = logging.getLogger(__name__)

PROVIDER = "anthropic"

#: Anthropic rejects a thinking budget below this.
MIN_THINKING_BUDGET = 1024

#: A `redacted_thinking` block has only opaque `data`, no text and no signature. `ThinkingPart`
#: has no room for provider metadata, so the data rides in `signature` behind this marker (real
#: signatures are base64 and never contain it) and is replayed as the block it came from.
REDACTED_THINKING_PREFIX = "anthropic-redacted-thinking:"

_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_MIME_ALIASES = {"image/jpg": "image/jpeg"}

_FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}

#: Anthropic's 400 for an oversized prompt says "prompt is too long: N tokens > M maximum"; the
#: older wording for prompt plus `max_tokens` says they "exceed context limit".
_CONTEXT_TOO_LONG = re.compile(
    r"prompt is too long|too many (input )?tokens|context (window|length|limit)", re.IGNORECASE
)

#: `error` events inside a 200 stream carry only a type; these are the server's own trouble.
_UNAVAILABLE_ERROR_TYPES = frozenset({"overloaded_error", "api_error", "timeout_error"})

#: Tool-use ids must match this; ids recorded from another provider are rewritten to fit.
_INVALID_TOOL_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


class AnthropicLLM(ProviderLLM):
    provider = PROVIDER

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None,
        timeout_s: float,
        retry: RetryPolicy | None = None,
        on_retry: RetryObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(model=model, retry=retry, on_retry=on_retry, sleep=sleep)
        self._api_key = api_key
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=0,
            # aiohttp under the SDK's httpx2 interface (its documented `aiohttp` extra): less CPU
            # per streamed call than the default httpcore2 + AnyIO transport.
            http_client=anthropic.DefaultAioHttpClient(
                limits=httpx2.Limits(
                    max_connections=MAX_PROVIDER_CONNECTIONS, max_keepalive_connections=100
                )
            ),
        )

    async def _open_stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        params = build_params(request)
        try:
            stream = await self._client.messages.create(
                model=self.model,
                max_tokens=params.max_tokens,
                messages=params.messages,
                system=params.system if params.system is not None else anthropic.omit,
                tools=params.tools if params.tools else anthropic.omit,
                thinking=params.thinking if params.thinking is not None else anthropic.omit,
                output_config=(
                    params.output_config if params.output_config is not None else anthropic.omit
                ),
                stream=True,
            )
        except anthropic.AnthropicError as error:
            raise self._scrubbed(translate_error(error)) from error

        translator = StreamTranslator()
        try:
            async for event in stream:
                for translated in translator.feed(event):
                    yield translated
        except anthropic.AnthropicError as error:
            raise self._scrubbed(translate_error(error)) from error
        except (httpx2.TransportError, aiohttp.ClientError) as error:
            raise ProviderUnavailableError(
                f"stream interrupted: {type(error).__name__}: {error}", provider=PROVIDER
            ) from error
        except (httpx2.HTTPError, ValueError) as error:
            # JSON or UTF-8 the SSE decoder could not read.
            raise MalformedResponseError(
                f"unreadable event stream: {type(error).__name__}: {error}", provider=PROVIDER
            ) from error
        finally:
            await stream.close()
        if not translator.finished:
            # A proxy or peer cut the body short: a transport failure, not a bad answer.
            raise ProviderUnavailableError("stream ended before message_stop", provider=PROVIDER)

    def _scrubbed(self, error: LLMError) -> LLMError:
        """Providers do not echo keys today; this keeps it true if one ever does."""
        if self._api_key and self._api_key in error.message:
            error.message = error.message.replace(self._api_key, "[redacted]")
            error.args = (error.message,)
        return error

    async def aclose(self) -> None:
        await self._client.close()


# --- Request -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestParams:
    """The `messages.create` arguments for one `LLMRequest`; None means "not sent"."""

    max_tokens: int
    messages: list[MessageParam]
    system: str | None = None
    tools: list[ToolParam] = field(default_factory=list)
    thinking: ThinkingConfigParam | None = None
    output_config: OutputConfigParam | None = None


def build_params(request: LLMRequest) -> RequestParams:
    max_tokens = request.max_tokens or DEFAULT_MAX_TOKENS
    thinking: ThinkingConfigParam | None = None
    if request.thinking is not None:
        budget = max(request.thinking.budget_tokens, MIN_THINKING_BUDGET)
        # `display: summarized` because the Studio shows thinking and some models default to
        # omitting its text (the signature comes either way).
        thinking = {"type": "enabled", "budget_tokens": budget, "display": "summarized"}
        if max_tokens <= budget:
            # The budget counts toward max_tokens and must leave room for the answer.
            max_tokens = budget + DEFAULT_MAX_TOKENS
    output_config: OutputConfigParam | None = None
    if request.output_schema is not None:
        output_config = {
            "format": {"type": "json_schema", "schema": json_schema(request.output_schema)}
        }
    return RequestParams(
        max_tokens=max_tokens,
        messages=to_messages(request.messages),
        system=request.system or None,
        tools=[to_tool(spec) for spec in request.tools],
        thinking=thinking,
        output_config=output_config,
    )


def json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema in the strict form structured output wants (`additionalProperties: false`,
    unsupported keywords moved into descriptions); a schema the SDK cannot transform is sent as
    written and the API decides.
    """
    try:
        return anthropic.transform_schema(dict(schema))
    except (ValueError, TypeError):
        return dict(schema)


def to_tool(spec: ToolSpec) -> ToolParam:
    schema = dict(spec.parameters) or {"type": "object", "properties": {}}
    if "type" not in schema:
        schema = {"type": "object", **schema}
    return {"name": spec.name, "description": spec.description, "input_schema": schema}


def to_messages(messages: Sequence[Message]) -> list[MessageParam]:
    """Anthropic wants alternating roles and each `tool_result` first in its user message, so
    consecutive same-role messages merge and tool results move to the front (stable otherwise).
    """
    merged: list[dict[str, Any]] = []
    for message in messages:
        blocks = [block for part in message.parts for block in to_blocks(part, message.role)]
        if not blocks:
            continue
        if merged and merged[-1]["role"] == message.role:
            merged[-1]["content"].extend(blocks)
        else:
            merged.append({"role": message.role, "content": blocks})
    for message_param in merged:
        if message_param["role"] == "user":
            message_param["content"].sort(key=lambda block: block["type"] != "tool_result")
    return cast("list[MessageParam]", merged)


def to_blocks(part: Part, role: str) -> list[dict[str, Any]]:
    match part:
        case TextPart(text=text):
            # Empty text blocks are a 400.
            return [{"type": "text", "text": text}] if text else []
        case ThinkingPart():
            return thinking_blocks(part)
        case ToolCallPart(call_id=call_id, name=name, arguments=arguments):
            return [
                {
                    "type": "tool_use",
                    "id": tool_use_id(call_id),
                    "name": name,
                    "input": dict(arguments),
                }
            ]
        case ToolResultPart(call_id=call_id):
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id(call_id)}
            text = part.content_text()
            if text:
                block["content"] = text
            if part.is_error:
                block["is_error"] = True
            return [block]
        case FilePart():
            return [file_block(part) if role == "user" else unsupported_file(part)]
        case DataPart(data=data):
            text = json.dumps(dict(data), ensure_ascii=False, default=str)
            return [{"type": "text", "text": text}]
    raise TypeError(f"not a content part: {part!r}")


def thinking_blocks(part: ThinkingPart) -> list[dict[str, Any]]:
    """Replayed verbatim: Anthropic verifies the signature against the text. Thinking without a
    signature (from another provider) cannot be verified and would fail the request, so it is
    dropped.
    """
    signature = part.signature
    if not signature:
        return []
    if signature.startswith(REDACTED_THINKING_PREFIX):
        return [{"type": "redacted_thinking", "data": signature[len(REDACTED_THINKING_PREFIX) :]}]
    return [{"type": "thinking", "thinking": part.text, "signature": signature}]


def tool_use_id(call_id: str) -> str:
    """Same rewrite on both sides, so a call and its result still pair up."""
    return _INVALID_TOOL_ID_CHARS.sub("_", call_id) or "call"


def file_block(part: FilePart) -> dict[str, Any]:
    essence = part.mime_type.split(";")[0].strip().lower()
    mime = _MIME_ALIASES.get(essence, essence)
    url = part.uri if part.uri and part.uri.startswith(("https://", "http://")) else None
    if mime in _IMAGE_TYPES:
        if part.data is not None:
            return {"type": "image", "source": base64_source(mime, part.data)}
        if url:
            return {"type": "image", "source": {"type": "url", "url": url}}
    elif mime == "application/pdf":
        if part.data is not None:
            return document(part, base64_source(mime, part.data))
        if url:
            return document(part, {"type": "url", "url": url})
    elif mime.startswith("text/") and part.data is not None:
        text = part.data.decode("utf-8", errors="replace")
        return document(part, {"type": "text", "media_type": "text/plain", "data": text})
    return unsupported_file(part)


def base64_source(mime: str, data: bytes) -> dict[str, Any]:
    return {"type": "base64", "media_type": mime, "data": base64.b64encode(data).decode("ascii")}


def document(part: FilePart, source: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.name:
        block["title"] = part.name
    return block


def unsupported_file(part: FilePart) -> dict[str, Any]:
    """SPEC 5.2: the model learns an attachment was there rather than the request failing."""
    name = part.name or "file"
    log.warning(
        "attachment %s (%s) not supported by anthropic; sent as a note", name, part.mime_type
    )
    return {
        "type": "text",
        "text": f"[attachment {name} ({part.mime_type}) not supported by anthropic]",
    }


# --- Stream --------------------------------------------------------------------------------------


@dataclass
class _Block:
    type: str
    call_id: str = ""
    name: str = ""
    json_parts: list[str] = field(default_factory=list)
    start_input: Any = None
    signature: str = ""


@dataclass
class StreamTranslator:
    """Raw Messages stream events in, normalised events out.

    Usage is reported once, at `message_delta`, so that an `error` event arriving before any
    content still fails before the first event and can be retried.
    """

    finished: bool = False
    _blocks: dict[int, _Block] = field(default_factory=dict)
    _input_tokens: int = 0
    _stop_reason: str | None = None

    def feed(self, event: RawMessageStreamEvent) -> list[LLMEvent]:
        try:
            return self._feed(event)
        except AttributeError as error:
            # The SDK builds events without validation: a well-formed JSON event missing a field
            # shows up here.
            raise MalformedResponseError(
                f"unexpected {getattr(event, 'type', 'event')} event: {error}", provider=PROVIDER
            ) from error

    def _feed(self, event: RawMessageStreamEvent) -> list[LLMEvent]:
        match getattr(event, "type", None):
            case "message_start":
                self._input_tokens = total_input_tokens(event.message.usage)  # type: ignore[union-attr]
            case "content_block_start":
                return self._start(event.index, event.content_block)  # type: ignore[union-attr]
            case "content_block_delta":
                return self._delta(event.index, event.delta)  # type: ignore[union-attr]
            case "content_block_stop":
                return self._stop(event.index)  # type: ignore[union-attr]
            case "message_delta":
                return self._message_delta(event)
            case "message_stop":
                self.finished = True
                return [Finished(_FINISH_REASONS.get(self._stop_reason or "", "other"))]
        # Unknown event types are ignored, as Anthropic's versioning policy asks of clients.
        return []

    def _start(self, index: int, content: Any) -> list[LLMEvent]:
        block = _Block(type=content.type)
        self._blocks[index] = block
        if block.type == "text" and content.text:
            return [TextDelta(content.text)]
        if block.type == "thinking":
            block.signature = content.signature or ""
            return [ThinkingDelta(content.thinking)] if content.thinking else []
        if block.type == "redacted_thinking":
            block.signature = REDACTED_THINKING_PREFIX + content.data
        elif block.type == "tool_use":
            block.call_id, block.name, block.start_input = content.id, content.name, content.input
        return []

    def _delta(self, index: int, delta: Any) -> list[LLMEvent]:
        block = self._block(index)
        match delta.type:
            case "text_delta":
                return [TextDelta(delta.text)] if delta.text else []
            case "thinking_delta":
                return [ThinkingDelta(delta.thinking)] if delta.thinking else []
            case "signature_delta":
                block.signature = delta.signature
            case "input_json_delta":
                block.json_parts.append(delta.partial_json)
        return []

    def _stop(self, index: int) -> list[LLMEvent]:
        block = self._block(index)
        if block.type in ("thinking", "redacted_thinking"):
            # The signature closes the block: the runner stores one ThinkingPart per signature.
            return [ThinkingDelta("", signature=block.signature)] if block.signature else []
        if block.type == "tool_use":
            return [ToolCall(block.call_id, block.name, tool_arguments(block))]
        return []

    def _message_delta(self, event: Any) -> list[LLMEvent]:
        self._stop_reason = event.delta.stop_reason
        usage = event.usage
        if usage.input_tokens is not None:
            # message_delta counts are cumulative and win over message_start's when present.
            self._input_tokens = total_input_tokens(usage)
        details = usage.output_tokens_details
        return [
            Usage(
                input_tokens=self._input_tokens,
                output_tokens=usage.output_tokens or 0,
                thinking_tokens=(details.thinking_tokens or 0) if details is not None else 0,
            )
        ]

    def _block(self, index: int) -> _Block:
        block = self._blocks.get(index)
        if block is None:
            raise MalformedResponseError(
                f"event for content block {index} before its start", provider=PROVIDER
            )
        return block


def total_input_tokens(usage: Any) -> int:
    """Cache reads and writes are prompt tokens too; the context window counts all three."""
    return (
        (usage.input_tokens or 0)
        + (getattr(usage, "cache_creation_input_tokens", None) or 0)
        + (getattr(usage, "cache_read_input_tokens", None) or 0)
    )


def tool_arguments(block: _Block) -> Mapping[str, Any]:
    raw = "".join(block.json_parts)
    if not raw.strip():
        return dict(block.start_input or {})
    try:
        arguments = json.loads(raw)
    except ValueError as error:
        raise MalformedResponseError(
            f"tool call {block.name} has invalid JSON arguments: {error}", provider=PROVIDER
        ) from error
    if not isinstance(arguments, dict):
        raise MalformedResponseError(
            f"tool call {block.name} arguments are not an object", provider=PROVIDER
        )
    return arguments


# --- Errors --------------------------------------------------------------------------------------


def translate_error(error: anthropic.AnthropicError) -> LLMError:
    if isinstance(error, anthropic.APIStatusError):
        return status_error(error)
    if isinstance(error, anthropic.APITimeoutError):
        return ProviderUnavailableError("request timed out", provider=PROVIDER)
    if isinstance(error, anthropic.APIConnectionError):
        cause = error.__cause__
        detail = f": {type(cause).__name__}: {cause}" if cause is not None else ""
        return ProviderUnavailableError(f"connection error{detail}", provider=PROVIDER)
    return MalformedResponseError(
        f"{type(error).__name__}: {getattr(error, 'message', error)}", provider=PROVIDER
    )


def status_error(error: anthropic.APIStatusError) -> LLMError:
    status = error.status_code
    message = provider_message(error)
    retry_after_s = retry_after(error.response.headers)
    if status < 400:
        return stream_error(error, message)
    if status in (401, 403):
        return AuthenticationError(message, provider=PROVIDER, status=status)
    if status == 429:
        return RateLimitError(
            message, provider=PROVIDER, status=status, retry_after_s=retry_after_s
        )
    if status >= 500:
        return ProviderUnavailableError(
            message, provider=PROVIDER, status=status, retry_after_s=retry_after_s
        )
    if _CONTEXT_TOO_LONG.search(message):
        return ContextTooLongError(message, provider=PROVIDER, status=status)
    return BadRequestError(message, provider=PROVIDER, status=status)


def stream_error(error: anthropic.APIStatusError, message: str) -> LLMError:
    """An `error` event inside a 200 stream: only its type says whether waiting would help."""
    error_type = error.type or "error"
    text = f"{error_type}: {message}"
    if error_type in _UNAVAILABLE_ERROR_TYPES:
        return ProviderUnavailableError(text, provider=PROVIDER)
    if error_type == "rate_limit_error":
        return RateLimitError(text, provider=PROVIDER, status=None)
    return MalformedResponseError(text, provider=PROVIDER)


def provider_message(error: anthropic.APIStatusError) -> str:
    """Anthropic's own `error.message`; the SDK's `str()` wraps the whole body around it."""
    if error.api_message:
        return error.api_message
    if isinstance(error.body, str) and error.body.strip():
        return error.body.strip()[:500]
    return f"HTTP {error.status_code}"


def retry_after(headers: Mapping[str, str]) -> float | None:
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))
