"""OpenAI adapter: the Responses API by default, Chat Completions for OpenAI-compatible servers.

The Responses API is what OpenAI's reasoning models and structured output are built around; vLLM,
llama.cpp and most other "OpenAI-compatible" servers implement only Chat Completions, so
`api="chat"` speaks that instead. Both share the client, the error mapping and the attachment
rules; each has its own request builder and stream translator.

The SDK's own retries are off (`max_retries=0`): `ProviderLLM` retries, once for every provider,
and only before the first event. The SDK sends the request (auth, base URL, timeouts, status errors
as `openai.APIStatusError`), but the streamed body is read here (`SSEReader`): its `AsyncStream`
builds a pydantic model for every chunk, which was ~40% of the CPU of a whole server request. The
translators take the chunks as the plain JSON dicts they are, and read every field with a default:
compatible servers leave some out, or send null where OpenAI sends an object.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

import aiohttp
import anyio
import httpx2
import openai

from agents.content import (
    DataPart,
    FilePart,
    Part,
    TextPart,
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

Api = Literal["responses", "chat"]

PROVIDER = "openai"

#: Sent as the bearer token to a keyless compatible server (vLLM, llama.cpp): the SDK refuses to
#: build a client without a key, and such servers ignore the header.
KEYLESS_API_KEY = "no-key"

#: The SDK's own request header for "return the response with its body unread" (what its
#: `with_streaming_response` wrappers send).
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"

DEFAULT_EFFORT = "medium"
OUTPUT_SCHEMA_NAME = "output"

#: What the SDK's own stream reader reports as `APIConnectionError` when reading the body fails
#: (its private `_httpx2.request_exceptions()`): httpx2's errors, and the TLS failures AnyIO raises
#: unmapped. `httpx2.TimeoutException`, one of them, becomes `APITimeoutError`.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx2.RequestError,
    ssl.SSLError,
    anyio.EndOfStream,
    aiohttp.ClientError,  # what the aiohttp transport leaves unmapped
)

#: After `data: [DONE]`, how long to wait for the end of the body (the SDK waits as long).
DRAIN_TIMEOUT_S = 0.1


class OpenAILLM(ProviderLLM):
    provider = PROVIDER

    def __init__(
        self,
        *,
        model: str,
        api: Api = "responses",
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        retry: RetryPolicy | None = None,
        on_retry: RetryObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(model=model, retry=retry, on_retry=on_retry, sleep=sleep)
        if api not in ("responses", "chat"):
            raise ValueError(f"openai: unknown api {api!r}; use 'responses' or 'chat'")
        self.api: Api = api
        self._api_key = api_key
        try:
            self._client = openai.AsyncOpenAI(
                api_key=api_key or (KEYLESS_API_KEY if base_url else None),
                base_url=base_url,
                timeout=timeout_s,
                max_retries=0,
                # aiohttp under the SDK's httpx2 interface (its documented `aiohttp` extra): the
                # default httpcore2 + AnyIO transport cost a fifth more CPU per streamed call.
                http_client=openai.DefaultAioHttpClient(
                    limits=httpx2.Limits(
                        max_connections=MAX_PROVIDER_CONNECTIONS, max_keepalive_connections=100
                    )
                ),
            )
        except openai.OpenAIError as error:  # no key anywhere: say so now, not on the first turn
            raise AuthenticationError(str(error), provider=PROVIDER) from None

    async def _open_stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        """The SDK sends the request (auth, base URL, timeouts) and raises status errors, as
        `create()` would; the body comes back unread and `SSEReader` makes it dicts."""
        translator: Translator
        if self.api == "chat":
            opening = self._post_stream("/chat/completions", chat_params(self.model, request))
            translator = ChatTranslator()
        else:
            opening = self._post_stream("/responses", responses_params(self.model, request))
            translator = ResponsesTranslator()
        try:
            # Both closed however the stream ends: the body's iterator, then the response.
            async with (
                opening as http,
                contextlib.aclosing(http.aiter_bytes()) as chunks,
            ):
                reader = SSEReader()
                try:
                    async for chunk in chunks:
                        for payload in reader.feed(chunk):
                            if payload.get("error"):
                                raise stream_error(payload["error"], http.request)
                            for event in translator.feed(payload):
                                yield event
                        if reader.done:
                            if http.http_version == "HTTP/1.1":
                                await drain(chunks)
                            break
                # What the SDK's stream reader raises for these; `_error` maps them as before.
                except httpx2.TimeoutException as error:
                    raise openai.APITimeoutError(request=http.request) from error
                except TRANSPORT_ERRORS as error:
                    raise openai.APIConnectionError(request=http.request) from error
                for event in translator.finish():
                    yield event
        except openai.OpenAIError as error:
            raise self._error(error) from None

    @contextlib.asynccontextmanager
    async def _post_stream(
        self, path: str, params: dict[str, Any]
    ) -> AsyncIterator[httpx2.Response]:
        """The SDK's documented raw `post` (the one for endpoints it has no method for), asked
        not to read the body. `create()` would first run our plain JSON params through its
        TypedDict transformer, which returns them unchanged at a fifth of the call's CPU."""
        response = await self._client.post(
            path,
            cast_to=httpx2.Response,
            body=params,
            options={"headers": {RAW_RESPONSE_HEADER: "stream"}},
        )
        try:
            yield response
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._client.close()

    # --- Errors --------------------------------------------------------------------------------

    def _error(self, error: openai.OpenAIError) -> LLMError:
        """The SDK's exception as ours. Chaining is cut (`from None`) by the callers: the SDK
        error holds the request, Authorization header included."""
        if isinstance(error, openai.APIStatusError):
            return self._status_error(error)
        if isinstance(error, openai.APIConnectionError):  # APITimeoutError included
            cause = f" ({error.__cause__})" if error.__cause__ else ""
            message = "Connection error." if _refused(error) else error.message
            return ProviderUnavailableError(self._redact(message + cause), provider=PROVIDER)
        if isinstance(error, openai.APIResponseValidationError):
            return MalformedResponseError(self._redact(error.message), provider=PROVIDER)
        if isinstance(error, openai.APIError):  # an error object sent inside a 200 stream
            return coded_error(error.code, self._message(error), error_type=error.type)
        return LLMError(self._redact(str(error)), provider=PROVIDER)

    def _status_error(self, error: openai.APIStatusError) -> LLMError:
        status = error.status_code
        message = self._message(error)
        retry_after_s = retry_after_of(error.response.headers)
        if status in (401, 403):
            return AuthenticationError(message, provider=PROVIDER, status=status)
        if status == 429:
            if error.code == "insufficient_quota":
                # Out of credit, not too fast: another try in a few seconds cannot succeed.
                return BadRequestError(message, provider=PROVIDER, status=status)
            return RateLimitError(
                message, provider=PROVIDER, status=status, retry_after_s=retry_after_s
            )
        if status >= 500:
            return ProviderUnavailableError(
                message, provider=PROVIDER, status=status, retry_after_s=retry_after_s
            )
        if is_context_overflow(error.code, error.type, message):
            return ContextTooLongError(message, provider=PROVIDER, status=status)
        return BadRequestError(message, provider=PROVIDER, status=status)

    def _message(self, error: openai.APIError) -> str:
        """The provider's own words: `error.message` of the body, not the SDK's "Error code: N -"
        wrapper. OpenAI echoes part of a wrong key in its 401 text; ours never leaves."""
        body = error.body
        message = body.get("message") if isinstance(body, Mapping) else None
        return self._redact(message if isinstance(message, str) and message else error.message)

    def _redact(self, message: str) -> str:
        return message.replace(self._api_key, "[redacted]") if self._api_key else message


def _refused(error: BaseException) -> bool:
    """The connection itself failed. The aiohttp transport reports a refused connection as an
    httpx2 `ConnectTimeout`, which the SDK words "Request timed out"."""
    cause = error.__cause__
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError):
            return True
        cause = cause.__cause__
    return False


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """OpenAI sends `retry-after-ms` (more precise) beside the standard `retry-after`."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))


def is_context_overflow(code: str | None, error_type: str | None, message: str) -> bool:
    """OpenAI says `context_length_exceeded`; llama.cpp `exceed_context_size_error`; vLLM only
    says it in words ("This model's maximum context length is ...")."""
    if code == "context_length_exceeded" or error_type == "exceed_context_size_error":
        return True
    lowered = message.lower()
    return "maximum context length" in lowered or "context window" in lowered


def coded_error(code: str | None, message: str, *, error_type: str | None = None) -> LLMError:
    """An error that arrived inside a stream (`response.failed`, an `error` event or chunk): only
    a code to go by, no HTTP status. vLLM puts the HTTP status in `code`."""
    if code and code.isdigit():
        status = int(code)
        if status == 429:
            return RateLimitError(message, provider=PROVIDER, status=status)
        if status >= 500:
            return ProviderUnavailableError(message, provider=PROVIDER, status=status)
        if is_context_overflow(None, error_type, message):
            return ContextTooLongError(message, provider=PROVIDER, status=status)
        return BadRequestError(message, provider=PROVIDER, status=status)
    if is_context_overflow(code, error_type, message):
        return ContextTooLongError(message, provider=PROVIDER)
    if code == "rate_limit_exceeded":
        return RateLimitError(message, provider=PROVIDER, status=None)
    if code in (None, "", "server_error", "vector_store_timeout"):
        return ProviderUnavailableError(message, provider=PROVIDER)
    return BadRequestError(message, provider=PROVIDER)


def stream_error(error: Any, request: httpx2.Request) -> openai.APIError:
    """An `{"error": ...}` payload inside a 200 stream, as the SDK's `AsyncStream` raises it (any
    payload with a truthy `error`, whatever its `event:` line says), so `_error` maps it as it
    always has: code and type from the error object, its message, or the SDK's fallback text."""
    message = error.get("message") if isinstance(error, Mapping) else None
    if not message or not isinstance(message, str):
        message = "An error occurred during streaming"
    return openai.APIError(message, request, body=error)


async def drain(chunks: AsyncIterator[bytes]) -> None:
    """Read the rest of the body after `data: [DONE]` (on HTTP/1.1, the chunked encoding's end):
    a response closed unread takes its connection down with it, and the next request would
    connect anew. Bounded, as in the SDK, for a server that keeps the stream open after `[DONE]`;
    the answer is complete, so a failure here is none."""
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT_S):
            async for _ in chunks:
                pass
    except (TimeoutError, *TRANSPORT_ERRORS):
        pass


class SSEReader:
    """Server-sent events, fed as the body's bytes arrive, out as the JSON object of each event.

    Lines end at LF, CRLF or CR (the SSE spec), split on bytes: httpx's `aiter_lines` would decode
    with `errors="replace"` (non-UTF-8 bytes would pass unnoticed; the SDK's reader refuses them)
    and also split at Unicode line separators (a raw U+2028 in a JSON string would cut the line).
    An event is its `data:` lines, joined by newlines, dispatched at the blank line that ends it;
    an event never ended, or without data, is dropped, as the spec says. `event:` names are not
    needed (each payload carries its own `type`, and the SDK treats an `error` payload the same
    under any name); comments, `id:` and `retry:` are ignored. `data: [DONE]` sets `done` and
    ends the reading. A payload that is not JSON, or a line that is not UTF-8, raises
    `MalformedResponseError`; a payload that is JSON but not an object carries nothing either API
    reads, and is dropped.
    """

    def __init__(self) -> None:
        self.done = False
        self._pieces: list[bytes] = []  # the start of a line not yet ended
        self._after_cr = False  # the last chunk ended in CR: an LF now is the rest of a CRLF
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        if self._after_cr:
            self._after_cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if not chunk or self.done:
            return []
        if b"\n" not in chunk and b"\r" not in chunk:
            self._pieces.append(chunk)
            return []
        if self._pieces:
            self._pieces.append(chunk)
            chunk = b"".join(self._pieces)
            self._pieces.clear()
        lines = chunk.splitlines()  # for bytes: at LF, CRLF and CR only
        self._after_cr = chunk.endswith(b"\r")
        if not chunk.endswith((b"\n", b"\r")):
            self._pieces.append(lines.pop())
        return self._events(lines)

    def _events(self, lines: list[bytes]) -> list[dict[str, Any]]:
        payloads: list[dict[str, Any]] = []
        data = self._data
        try:
            for line in lines:
                if line:
                    text = line.decode()
                    if text.startswith("data:"):
                        data.append(text[6:] if text.startswith(" ", 5) else text[5:])
                    elif text == "data":
                        data.append("")
                    continue
                if not data:
                    continue
                joined = data[0] if len(data) == 1 else "\n".join(data)
                data.clear()
                if joined.startswith("[DONE]"):
                    self.done = True
                    break
                payload = json.loads(joined)
                if isinstance(payload, dict):
                    payloads.append(payload)
        except ValueError as error:  # UnicodeDecodeError and JSONDecodeError among them
            raise MalformedResponseError(f"unreadable stream: {error}", provider=PROVIDER) from None
        return payloads


# --- Shared request pieces ---------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Mappings and tuples (frozen dataclass fields) as the dicts and lists JSON needs."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def arguments_json(arguments: Mapping[str, Any]) -> str:
    return json.dumps(plain(arguments), ensure_ascii=False, separators=(",", ":"))


def tool_output(part: ToolResultPart) -> str:
    """OpenAI has no error flag on tool outputs: the model learns of a failure from the text."""
    text = part.content_text()
    return f"Error: {text}" if part.is_error else text


def data_text(part: DataPart) -> str:
    return json.dumps(plain(part.data), ensure_ascii=False)


def data_url(part: FilePart) -> str | None:
    if part.data is not None:
        return f"data:{part.mime_type};base64,{base64.b64encode(part.data).decode()}"
    return part.uri


def unsupported_note(part: FilePart) -> str:
    """SPEC 5.2: media the provider cannot take becomes a note the model can mention."""
    name = part.name or part.uri or "file"
    return f"[attachment {name} ({part.mime_type}) not supported by {PROVIDER}]"


def effort_of(request: LLMRequest) -> str | None:
    if request.thinking is None:
        return None
    return request.thinking.effort or DEFAULT_EFFORT


def tool_calls_in(parts: Iterable[Part]) -> list[ToolCallPart]:
    return [part for part in parts if isinstance(part, ToolCallPart)]


def tool_results_in(parts: Iterable[Part]) -> list[ToolResultPart]:
    return [part for part in parts if isinstance(part, ToolResultPart)]


def assistant_text(parts: Iterable[Part]) -> str:
    """What the model said before, as text; earlier reasoning is not replayed (OpenAI keeps its
    reasoning opaque, and a replayed summary would be read as something the model said)."""
    texts: list[str] = []
    for part in parts:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, DataPart):
            texts.append(data_text(part))
    return "".join(texts)


# --- Responses API -----------------------------------------------------------------------------


def responses_params(model: str, request: LLMRequest) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model": model,
        "input": responses_input(request.messages),
        "stream": True,
    }
    if request.system:
        params["instructions"] = request.system
    if request.tools:
        params["tools"] = [responses_tool(tool) for tool in request.tools]
    if request.max_tokens is not None:
        params["max_output_tokens"] = request.max_tokens
    effort = effort_of(request)
    if effort is not None:
        params["reasoning"] = {"effort": effort, "summary": "auto"}
    elif request.temperature is not None:  # reasoning models reject a temperature
        params["temperature"] = request.temperature
    if request.output_schema is not None:
        params["text"] = {
            "format": {
                "type": "json_schema",
                "name": OUTPUT_SCHEMA_NAME,
                "schema": plain(request.output_schema),
                "strict": False,
            }
        }
    return params


def responses_tool(tool: ToolSpec) -> dict[str, Any]:
    # strict mode would demand every property be required and additionalProperties false;
    # tool schemas come from users and MCP servers as they are.
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": plain(tool.parameters),
        "strict": False,
    }


def responses_input(messages: Iterable[Message]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "assistant":
            items.extend(responses_assistant_items(message.parts))
        else:
            items.extend(responses_user_items(message.parts))
    return items


def responses_assistant_items(parts: tuple[Part, ...]) -> list[dict[str, Any]]:
    """Earlier output, replayed as input. Function calls go without their `fc_` item ids: with an
    id the API looks the item up and insists on the reasoning item that preceded it."""
    items: list[dict[str, Any]] = []
    text = assistant_text(parts)
    if text:
        items.append({"type": "message", "role": "assistant", "content": text})
    for call in tool_calls_in(parts):
        items.append(
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": arguments_json(call.arguments),
            }
        )
    return items


def responses_user_items(parts: tuple[Part, ...]) -> list[dict[str, Any]]:
    """Tool outputs first: each must follow the call it answers, before any new user turn."""
    items: list[dict[str, Any]] = [
        {"type": "function_call_output", "call_id": result.call_id, "output": tool_output(result)}
        for result in tool_results_in(parts)
    ]
    content: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            content.append({"type": "input_text", "text": part.text})
        elif isinstance(part, DataPart):
            content.append({"type": "input_text", "text": data_text(part)})
        elif isinstance(part, FilePart):
            content.append(responses_file(part))
    if content:
        items.append({"type": "message", "role": "user", "content": content})
    return items


def responses_file(part: FilePart) -> dict[str, Any]:
    url = data_url(part)
    if url is None:
        return {"type": "input_text", "text": unsupported_note(part)}
    if part.mime_type.startswith("image/"):
        return {"type": "input_image", "image_url": url, "detail": "auto"}
    if part.mime_type == "application/pdf":
        if part.data is None:
            return {"type": "input_file", "file_url": url}
        return {"type": "input_file", "filename": part.name or "document.pdf", "file_data": url}
    return {"type": "input_text", "text": unsupported_note(part)}


class Translator(Protocol):
    def feed(self, chunk: Mapping[str, Any]) -> list[LLMEvent]: ...

    def finish(self) -> list[LLMEvent]: ...


@dataclass
class PendingCall:
    call_id: str
    name: str
    arguments: list[str] = field(default_factory=list)

    def to_event(self) -> ToolCall:
        arguments = parse_arguments(self.name, "".join(self.arguments))
        return ToolCall(self.call_id, self.name, arguments)


def parse_arguments(name: str, raw: str) -> dict[str, Any]:
    """A call the model wrote badly fails the turn: running a tool on a guess is worse."""
    if not raw.strip():
        return {}
    try:
        arguments = json.loads(raw)
    except ValueError:
        raise MalformedResponseError(
            f"tool call {name!r} has arguments that are not JSON: {raw[:200]!r}", provider=PROVIDER
        ) from None
    if not isinstance(arguments, dict):
        raise MalformedResponseError(
            f"tool call {name!r} has arguments that are not a JSON object: {raw[:200]!r}",
            provider=PROVIDER,
        )
    return arguments


EMPTY: Mapping[str, Any] = MappingProxyType({})


def fields(value: Any) -> Mapping[str, Any]:
    """A JSON object, or no fields at all for whatever stands where one should (null, mostly):
    the translators then read their defaults, as they did from the SDK's unvalidated models."""
    return value if isinstance(value, dict) else EMPTY


def item_id_of(item: Mapping[str, Any]) -> str:
    return str(item.get("id") or item.get("call_id") or "")


class ResponsesTranslator:
    """`response.*` stream events -> ours. A tool call is emitted once its item is done, with the
    item's `call_id` (the `fc_` item id only links the argument deltas to it)."""

    def __init__(self) -> None:
        self._calls: dict[str, PendingCall] = {}
        self._emitted: set[str] = set()
        self._finished = False
        self._handlers: dict[str, Callable[[Mapping[str, Any]], list[LLMEvent]]] = {
            "response.output_text.delta": self._text,
            "response.refusal.delta": self._text,
            "response.reasoning_summary_text.delta": self._thinking,
            "response.reasoning_text.delta": self._thinking,
            "response.reasoning_summary_part.added": self._summary_part,
            "response.output_item.added": self._item_added,
            "response.function_call_arguments.delta": self._arguments_delta,
            "response.function_call_arguments.done": self._arguments_done,
            "response.output_item.done": self._item_done,
            "response.completed": self._completed,
            "response.incomplete": self._completed,
            "response.failed": self._failed,
            "error": self._error_event,
        }

    def feed(self, chunk: Mapping[str, Any]) -> list[LLMEvent]:
        handler = self._handlers.get(chunk.get("type", ""))
        return handler(chunk) if handler is not None else []

    def finish(self) -> list[LLMEvent]:
        if not self._finished:
            raise MalformedResponseError(
                "the stream ended before the response completed", provider=PROVIDER
            )
        return []

    def _text(self, event: Mapping[str, Any]) -> list[LLMEvent]:
        delta = event.get("delta", "")
        return [TextDelta(delta)] if delta else []

    def _thinking(self, event: Mapping[str, Any]) -> list[LLMEvent]:
        delta = event.get("delta", "")
        return [ThinkingDelta(delta)] if delta else []

    def _summary_part(self, event: Mapping[str, Any]) -> list[LLMEvent]:
        """Summary parts are paragraphs; keep them apart in the one thinking text we build."""
        return [ThinkingDelta("\n\n")] if event.get("summary_index", 0) else []

    def _item_added(self, event: Mapping[str, Any]) -> list[LLMEvent]:
        item = fields(event.get("item"))
        if item.get("type") == "function_call":
            item_id = item_id_of(item)
            self._calls[item_id] = PendingCall(
                str(item.get("call_id") or item_id), str(item.get("name", ""))
            )
        return []

    def _arguments_delta(self, event: Mapping[str, Any]) -> list[LLMEvent]:
        pending = self._calls.get(event.get("item_id", ""))
        if pending is not None:
            pending.arguments.append(event.get("delta", ""))
        return []

    def _arguments_done(self, event: Mapping[str, Any]) -> list[LLMEvent]:
        pending = self._calls.get(event.get("item_id", ""))
        arguments = event.get("arguments")
        if pending is not None and isinstance(arguments, str):
            pending.arguments = [arguments]
        return []

    def _item_done(self, event: Mapping[str, Any]) -> list[LLMEvent]:
        return self._call_from_item(fields(event.get("item")))

    def _call_from_item(self, item: Mapping[str, Any]) -> list[LLMEvent]:
        if item.get("type") != "function_call":
            return []
        item_id = item_id_of(item)
        if item_id in self._emitted:
            return []
        pending = self._calls.pop(item_id, None) or PendingCall("", "")
        pending.call_id = str(item.get("call_id") or pending.call_id or item_id)
        pending.name = str(item.get("name") or pending.name)
        arguments = item.get("arguments")
        if isinstance(arguments, str) and arguments:
            pending.arguments = [arguments]
        self._emitted.add(item_id)
        return [pending.to_event()]

    def _completed(self, event: Mapping[str, Any]) -> list[LLMEvent]:
        """`response.completed` or `.incomplete`: the last event. Calls whose `output_item.done`
        a compatible server skipped are still in the response's output."""
        response = fields(event.get("response"))
        events: list[LLMEvent] = []
        for item in response.get("output") or []:
            events.extend(self._call_from_item(fields(item)))
        if response.get("usage") is not None:
            usage = fields(response["usage"])
            details = fields(usage.get("output_tokens_details"))
            events.append(
                Usage(
                    input_tokens=usage.get("input_tokens", 0) or 0,
                    output_tokens=usage.get("output_tokens", 0) or 0,
                    thinking_tokens=details.get("reasoning_tokens", 0) or 0,
                )
            )
        events.append(Finished(self._finish_reason(response)))
        self._finished = True
        return events

    def _finish_reason(self, response: Mapping[str, Any]) -> FinishReason:
        if self._emitted:
            return "tool_calls"
        if response.get("status") != "incomplete":
            return "stop"
        reason = fields(response.get("incomplete_details")).get("reason")
        if reason == "max_output_tokens":
            return "length"
        if reason == "content_filter":
            return "content_filter"
        return "other"

    def _failed(self, event: Mapping[str, Any]) -> list[LLMEvent]:
        error = fields(event.get("response")).get("error")
        if error is None:
            raise ProviderUnavailableError("the response failed with no reason", provider=PROVIDER)
        details = fields(error)
        raise coded_error(
            details.get("code"),
            details.get("message") or "the response failed",
            error_type=details.get("type"),
        )

    def _error_event(self, event: Mapping[str, Any]) -> list[LLMEvent]:
        raise coded_error(event.get("code"), event.get("message") or "stream error")


# --- Chat Completions --------------------------------------------------------------------------


def chat_params(model: str, request: LLMRequest) -> dict[str, Any]:
    """`max_tokens`, not `max_completion_tokens`: this path is for compatible servers, and the
    older name is the one all of them take."""
    params: dict[str, Any] = {
        "model": model,
        "messages": chat_messages(request),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": plain(tool.parameters),
                },
            }
            for tool in request.tools
        ]
    if request.max_tokens is not None:
        params["max_tokens"] = request.max_tokens
    effort = effort_of(request)
    if effort is not None:
        params["reasoning_effort"] = effort
    elif request.temperature is not None:
        params["temperature"] = request.temperature
    if request.output_schema is not None:
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": OUTPUT_SCHEMA_NAME,
                "schema": plain(request.output_schema),
                "strict": False,
            },
        }
    return params


def chat_messages(request: LLMRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for message in request.messages:
        if message.role == "assistant":
            messages.extend(chat_assistant_messages(message.parts))
        else:
            messages.extend(chat_user_messages(message.parts))
    return messages


def chat_assistant_messages(parts: tuple[Part, ...]) -> list[dict[str, Any]]:
    text = assistant_text(parts)
    calls = tool_calls_in(parts)
    if not text and not calls:
        return []
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": arguments_json(call.arguments)},
            }
            for call in calls
        ]
    return [message]


def chat_user_messages(parts: tuple[Part, ...]) -> list[dict[str, Any]]:
    """`tool` messages right after the assistant message whose calls they answer, then the rest
    of the turn as a user message (a lone text stays a string: some servers take nothing else)."""
    messages: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": result.call_id, "content": tool_output(result)}
        for result in tool_results_in(parts)
    ]
    content: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, DataPart):
            content.append({"type": "text", "text": data_text(part)})
        elif isinstance(part, FilePart):
            content.append(chat_file(part))
    if len(content) == 1 and content[0]["type"] == "text":
        messages.append({"role": "user", "content": content[0]["text"]})
    elif content:
        messages.append({"role": "user", "content": content})
    return messages


def chat_file(part: FilePart) -> dict[str, Any]:
    url = data_url(part)
    if url is not None and part.mime_type.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": url}}
    if part.data is not None and part.mime_type == "application/pdf":
        # Chat Completions takes files inline only; a PDF by URL falls through to the note.
        return {
            "type": "file",
            "file": {"filename": part.name or "document.pdf", "file_data": url},
        }
    return {"type": "text", "text": unsupported_note(part)}


CHAT_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


class ChatTranslator:
    """`chat.completion.chunk`s -> ours. Tool calls arrive as fragments keyed by `index` (only the
    first carries id and name); they are emitted whole once the choice has finished."""

    def __init__(self) -> None:
        self._calls: dict[int, PendingCall] = {}
        self._finish_reason: str | None = None
        self._usage: Usage | None = None

    def feed(self, chunk: Mapping[str, Any]) -> list[LLMEvent]:
        if chunk.get("usage") is not None:
            usage = fields(chunk["usage"])
            details = fields(usage.get("completion_tokens_details"))
            self._usage = Usage(
                input_tokens=usage.get("prompt_tokens", 0) or 0,
                output_tokens=usage.get("completion_tokens", 0) or 0,
                thinking_tokens=details.get("reasoning_tokens", 0) or 0,
            )
        events: list[LLMEvent] = []
        for entry in chunk.get("choices") or []:
            choice = fields(entry)
            if choice.get("index", 0) != 0:  # we never ask for n > 1
                continue
            events.extend(self._delta(fields(choice.get("delta"))))
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return events

    def _delta(self, delta: Mapping[str, Any]) -> list[LLMEvent]:
        events: list[LLMEvent] = []
        # Not in OpenAI's schema: vLLM, llama.cpp and DeepSeek stream reasoning this way.
        thinking = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(thinking, str) and thinking:
            events.append(ThinkingDelta(thinking))
        content = delta.get("content")
        if content:
            events.append(TextDelta(content))
        for position, entry in enumerate(delta.get("tool_calls") or []):
            fragment = fields(entry)
            index = fragment.get("index")
            pending = self._calls.setdefault(
                position if index is None else index, PendingCall("", "")
            )
            pending.call_id = pending.call_id or fragment.get("id") or ""
            function = fields(fragment.get("function"))
            pending.name = pending.name or function.get("name") or ""
            pending.arguments.append(function.get("arguments") or "")
        return events

    def finish(self) -> list[LLMEvent]:
        if self._finish_reason is None:
            raise MalformedResponseError(
                "the stream ended before the model finished", provider=PROVIDER
            )
        events: list[LLMEvent] = []
        for index in sorted(self._calls):
            pending = self._calls[index]
            # Some compatible servers leave the id out; the runner needs one to pair the result.
            pending.call_id = pending.call_id or f"call_{uuid.uuid4().hex[:24]}"
            events.append(pending.to_event())
        if self._usage is not None:
            events.append(self._usage)
        reason = "tool_calls" if self._calls else CHAT_FINISH.get(self._finish_reason, "other")
        events.append(Finished(reason))
        return events
