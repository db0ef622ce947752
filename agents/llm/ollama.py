"""Ollama through the official `ollama` SDK: `/api/chat`, streamed as NDJSON.

Ollama's wire has no tool-call ids: the model pairs a `tool` message with a call by its
`tool_name` and by order. So ids are invented here, as `call_<turn>_<index>` (the response's
position among the assistant messages sent, and the call's position in that response): unique
within a conversation replayed in full, not only within one response. On the way back, tool
results are ordered like the calls they answer in the preceding assistant message, which is all
the model has to go on.

Known SDK limits (ollama 0.6.x), handled here:
- HTTP errors become `ResponseError(error, status_code)` without the response headers; the httpx
  error it was raised from is still its `__context__`, which is where `Retry-After` is read.
- A connection failure while opening a *stream* surfaces as a raw `httpx.ConnectError` (only the
  non-streaming path turns it into `ConnectionError`).
- Tool parameter schemas are parsed into a model that keeps only `type`, `items`, `description`
  and `enum` per property: nested `properties`, `anyOf`, constraints are dropped before sending.
  We log that once per tool rather than let it go unnoticed.
- Messages are validated into a model without `tool_call_id`, so nothing id-like can be sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import ollama

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

logger = logging.getLogger(__name__)

PROVIDER = "ollama"

# Per-property schema keys the SDK's `Tool.Function.Parameters.Property` keeps, plus annotations
# whose loss changes nothing for the model.
_KEPT_PROPERTY_KEYS = frozenset({"type", "items", "description", "enum", "title", "examples"})

_CONTEXT_TOO_LONG = re.compile(
    r"context (length|window)|exceeds? the (maximum )?context|too many tokens|prompt is too long",
    re.IGNORECASE,
)
_OVERLOADED = re.compile(
    r"overloaded|server busy|too many (concurrent|pending) requests|temporarily unavailable",
    re.IGNORECASE,
)


#: What the SDK's stream can raise: HTTP errors, transport failures, and its line parser's errors
#: (`json.loads(line)`, `part.get(...)`, `ChatResponse(**part)`). Anything else is our bug and
#: propagates as it is.
_SDK_FAILURES = (
    ollama.ResponseError,
    httpx.HTTPError,
    ConnectionError,
    ValueError,
    TypeError,
    AttributeError,
)


class OllamaLLM(ProviderLLM):
    provider = PROVIDER

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        retry: RetryPolicy | None = None,
        on_retry: RetryObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(model=model, retry=retry, on_retry=on_retry, sleep=sleep)
        # Local Ollama needs no key; hosted Ollama-compatible endpoints take a bearer token.
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self._client = ollama.AsyncClient(host=base_url, timeout=timeout_s, headers=headers)
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._url = _without_credentials(base_url) if base_url else "http://localhost:11434"
        self._warned_tools: set[str] = set()

    async def aclose(self) -> None:
        await self._client.close()

    async def _open_stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        messages = to_ollama_messages(request)
        turn = sum(1 for message in messages if message["role"] == "assistant")
        try:
            chunks = await self._client.chat(
                model=self.model,
                messages=messages,
                tools=[self._tool(tool) for tool in request.tools] or None,
                stream=True,
                # Sent either way: hybrid models (qwen3, the default) think unless told not to,
                # and thinking is off unless configured (SPEC 5.1).
                think=request.thinking is not None,
                format=dict(request.output_schema) if request.output_schema else None,
                options=_options(request),
            )
        except ValueError as error:  # pydantic rejected what we built: our request is wrong
            raise BadRequestError(str(error), provider=PROVIDER) from error
        state = _StreamState(turn)
        final: list[LLMEvent] = []
        try:
            while True:
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except _SDK_FAILURES as error:
                    raise self._translate(error) from error
                if state.finished:
                    continue  # Ollama sends nothing after `done`; ignore it if one ever does
                events = list(state.events(chunk))
                if state.finished:
                    # Held back until the body is read to its end: a consumer that stops at
                    # `Finished` would otherwise close a half-read response, and httpx would
                    # drop the keep-alive connection instead of reusing it.
                    final = events
                    continue
                for event in events:
                    yield event
        finally:
            # The SDK's stream is an async generator holding the HTTP response open.
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        if not state.finished:
            raise MalformedResponseError(
                "the stream ended before Ollama sent its final chunk", provider=PROVIDER
            )
        for event in final:
            yield event

    def _tool(self, tool: ToolSpec) -> dict[str, Any]:
        simplified = _properties_the_sdk_simplifies(tool.parameters)
        if simplified and tool.name not in self._warned_tools:
            self._warned_tools.add(tool.name)
            logger.warning(
                "ollama: the SDK drops nested schemas and constraints from tool parameters; "
                "tool=%s properties=%s reach the model simplified",
                tool.name,
                ",".join(simplified),
            )
        return {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": dict(tool.parameters),
            },
        }

    def _translate(self, error: Exception) -> LLMError:
        """An SDK or transport failure as the typed error the retry loop and callers expect."""
        if isinstance(error, ollama.ResponseError):
            return self._response_error(error)
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | ConnectionError):
            return ProviderUnavailableError(
                f"cannot reach Ollama at {self._url}: is it running?", provider=PROVIDER
            )
        if isinstance(error, httpx.TimeoutException):
            return ProviderUnavailableError(
                f"Ollama at {self._url} did not answer within {self._timeout_s:g}s",
                provider=PROVIDER,
            )
        if isinstance(error, httpx.DecodingError):
            return MalformedResponseError(self._redact(str(error)), provider=PROVIDER)
        if isinstance(error, httpx.HTTPError):
            return ProviderUnavailableError(
                f"connection to Ollama at {self._url} failed: {self._redact(str(error))}",
                provider=PROVIDER,
            )
        # ValueError, TypeError, AttributeError: a line that is not JSON (JSONDecodeError), not
        # an object, or not a chat chunk (pydantic's ValidationError), met by the SDK's parser.
        return MalformedResponseError(
            f"unreadable stream line: {self._redact(str(error))[:200]}", provider=PROVIDER
        )

    def _response_error(self, error: ollama.ResponseError) -> LLMError:
        status = error.status_code
        message = self._redact(str(error.error))
        if status == -1:
            # An `{"error": ...}` line inside a 200 stream: Ollama failed while generating.
            if _OVERLOADED.search(message):
                return ProviderUnavailableError(message, provider=PROVIDER)
            return MalformedResponseError(message, provider=PROVIDER)
        if status in (401, 403):
            return AuthenticationError(message, provider=PROVIDER, status=status)
        retry_after_s = _retry_after_s(error)
        if status == 429:
            return RateLimitError(message, provider=PROVIDER, retry_after_s=retry_after_s)
        if status >= 500:
            return ProviderUnavailableError(
                message, provider=PROVIDER, status=status, retry_after_s=retry_after_s
            )
        if _CONTEXT_TOO_LONG.search(message):
            return ContextTooLongError(message, provider=PROVIDER, status=status)
        return BadRequestError(message, provider=PROVIDER, status=status)

    def _redact(self, text: str) -> str:
        """Servers sometimes echo the credential they rejected; it must not reach logs or users."""
        return text.replace(self._api_key, "***") if self._api_key else text


# --- Request translation -----------------------------------------------------------------------


def to_ollama_messages(request: LLMRequest) -> list[dict[str, Any]]:
    """The conversation as `/api/chat` messages: system first, tool results as `tool` messages
    right after the assistant message that asked for them, in the order of its calls."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    calls: list[ToolCallPart] = []
    for message in request.messages:
        if message.role == "assistant":
            messages.append(_assistant_message(message))
            calls = [part for part in message.parts if isinstance(part, ToolCallPart)]
            continue
        results = [part for part in message.parts if isinstance(part, ToolResultPart)]
        messages.extend(_tool_messages(results, calls))
        user = _content_fields(message.parts)
        if user:
            messages.append({"role": "user", **user})
    return messages


def _assistant_message(message: Message) -> dict[str, Any]:
    body: dict[str, Any] = {"role": "assistant", **_content_fields(message.parts)}
    thinking = "".join(part.text for part in message.parts if isinstance(part, ThinkingPart))
    if thinking:
        body["thinking"] = thinking
    tool_calls = [
        {"function": {"name": part.name, "arguments": dict(part.arguments)}}
        for part in message.parts
        if isinstance(part, ToolCallPart)
    ]
    if tool_calls:
        body["tool_calls"] = tool_calls
    return body


def _tool_messages(
    results: Sequence[ToolResultPart], calls: Sequence[ToolCallPart]
) -> Iterator[dict[str, Any]]:
    """Ollama pairs results with calls by name and order only, so order them like the calls;
    results answering no known call keep their place at the end."""
    position = {call.call_id: index for index, call in enumerate(calls)}
    ordered = sorted(results, key=lambda result: position.get(result.call_id, len(calls)))
    for result in ordered:
        text = result.content_text()
        yield {
            "role": "tool",
            "tool_name": result.name,
            "content": f"Error: {text}" if result.is_error else text,
        }


def _content_fields(parts: Sequence[Part]) -> dict[str, Any]:
    """`content` and `images` of a message; media Ollama cannot take become a text note."""
    texts: list[str] = []
    images: list[bytes] = []
    for part in parts:
        match part:
            case TextPart(text=text):
                texts.append(text)
            case DataPart(data=data):
                texts.append(json.dumps(dict(data), ensure_ascii=False, default=str))
            case FilePart() if _is_sendable_image(part):
                assert part.data is not None
                images.append(part.data)
            case FilePart(mime_type=mime_type, name=name):
                logger.warning(
                    "ollama: attachment not supported, sent as a note name=%s mime=%s",
                    name,
                    mime_type,
                )
                texts.append(
                    f"[attachment {name or 'unnamed'} ({mime_type}) not supported by {PROVIDER}]"
                )
            case _:
                pass  # thinking and tool parts are placed by the callers
    fields: dict[str, Any] = {}
    if texts:
        fields["content"] = "\n".join(texts)
    if images:
        fields["images"] = images  # raw bytes: the SDK base64-encodes them
    return fields


def _is_sendable_image(part: FilePart) -> bool:
    """Ollama takes inline raster images only: no URLs (it fetches nothing), no SVG."""
    mime = part.mime_type.lower()
    return part.data is not None and mime.startswith("image/") and mime != "image/svg+xml"


def _options(request: LLMRequest) -> dict[str, Any] | None:
    options: dict[str, Any] = {}
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.max_tokens is not None:
        # Counts thinking tokens too; Ollama has no separate thinking budget.
        options["num_predict"] = request.max_tokens
    return options or None


def _properties_the_sdk_simplifies(parameters: Mapping[str, Any]) -> list[str]:
    properties = parameters.get("properties")
    if not isinstance(properties, Mapping):
        return []
    return sorted(
        name
        for name, schema in properties.items()
        if isinstance(schema, Mapping) and set(schema) - _KEPT_PROPERTY_KEYS
    )


# --- Response translation ----------------------------------------------------------------------


class _StreamState:
    """What one response has streamed so far: tool calls are numbered across chunks."""

    def __init__(self, turn: int) -> None:
        self.turn = turn
        self.tool_calls = 0
        self.finished = False

    def events(self, chunk: ollama.ChatResponse) -> Iterator[LLMEvent]:
        message = chunk.message
        if message.thinking:
            yield ThinkingDelta(message.thinking)
        if message.content:
            yield TextDelta(message.content)
        for call in message.tool_calls or ():
            yield ToolCall(
                call_id=f"call_{self.turn}_{self.tool_calls}",
                name=call.function.name,
                arguments=dict(call.function.arguments or {}),
            )
            self.tool_calls += 1
        if chunk.done:
            self.finished = True
            yield Usage(
                input_tokens=chunk.prompt_eval_count or 0,
                # Includes thinking tokens: Ollama does not count them apart.
                output_tokens=chunk.eval_count or 0,
            )
            yield Finished(self._reason(chunk.done_reason))

    def _reason(self, done_reason: str | None) -> FinishReason:
        if done_reason in (None, "", "stop"):
            # Ollama says "stop" after tool calls too.
            return "tool_calls" if self.tool_calls else "stop"
        if done_reason == "length":
            return "length"
        return "other"


def _retry_after_s(error: ollama.ResponseError) -> float | None:
    """The SDK raises `ResponseError` inside its `except httpx.HTTPStatusError` block (`from None`
    only hides the chain when printed), so the response headers survive as `__context__`."""
    cause = error.__context__
    if isinstance(cause, httpx.HTTPStatusError):
        return parse_retry_after(cause.response.headers.get("retry-after"))
    return None


def _without_credentials(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
