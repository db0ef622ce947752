"""OpenAI adapter: the Responses API by default, Chat Completions for OpenAI-compatible servers.

The Responses API is what OpenAI's reasoning models and structured output are built around; vLLM,
llama.cpp and most other "OpenAI-compatible" servers implement only Chat Completions, so
`api="chat"` speaks that instead. Both share the client, the error mapping and the attachment
rules; each has its own request builder and stream translator.

The SDK's own retries are off (`max_retries=0`): `ProviderLLM` retries, once for every provider,
and only before the first event. The SDK builds stream events without validating them, so fields a
compatible server leaves out are simply absent: the translators read them with defaults.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

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

DEFAULT_EFFORT = "medium"
OUTPUT_SCHEMA_NAME = "output"


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
                http_client=openai.DefaultAsyncHttpxClient(
                    limits=httpx2.Limits(
                        max_connections=MAX_PROVIDER_CONNECTIONS, max_keepalive_connections=100
                    )
                ),
            )
        except openai.OpenAIError as error:  # no key anywhere: say so now, not on the first turn
            raise AuthenticationError(str(error), provider=PROVIDER) from None

    async def _open_stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        translator: Translator
        try:
            if self.api == "chat":
                stream: Any = await self._client.chat.completions.create(
                    **chat_params(self.model, request)
                )
                translator = ChatTranslator()
            else:
                stream = await self._client.responses.create(
                    **responses_params(self.model, request)
                )
                translator = ResponsesTranslator()
        except openai.OpenAIError as error:
            raise self._error(error) from None
        try:
            async for chunk in stream:
                for event in translator.feed(chunk):
                    yield event
            for event in translator.finish():
                yield event
        except openai.OpenAIError as error:
            raise self._error(error) from None
        except ValueError as error:  # the SDK's SSE decoder met bytes that are not JSON / UTF-8
            raise MalformedResponseError(f"unreadable stream: {error}", provider=PROVIDER) from None
        finally:
            await stream.close()

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
            return ProviderUnavailableError(self._redact(error.message + cause), provider=PROVIDER)
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
    def feed(self, chunk: Any) -> list[LLMEvent]: ...

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


def item_id_of(item: Any) -> str:
    return str(getattr(item, "id", None) or getattr(item, "call_id", None) or "")


class ResponsesTranslator:
    """`response.*` stream events -> ours. A tool call is emitted once its item is done, with the
    item's `call_id` (the `fc_` item id only links the argument deltas to it)."""

    def __init__(self) -> None:
        self._calls: dict[str, PendingCall] = {}
        self._emitted: set[str] = set()
        self._finished = False
        self._handlers: dict[str, Callable[[Any], list[LLMEvent]]] = {
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

    def feed(self, chunk: Any) -> list[LLMEvent]:
        handler = self._handlers.get(getattr(chunk, "type", ""))
        return handler(chunk) if handler is not None else []

    def finish(self) -> list[LLMEvent]:
        if not self._finished:
            raise MalformedResponseError(
                "the stream ended before the response completed", provider=PROVIDER
            )
        return []

    def _text(self, event: Any) -> list[LLMEvent]:
        delta = getattr(event, "delta", "")
        return [TextDelta(delta)] if delta else []

    def _thinking(self, event: Any) -> list[LLMEvent]:
        delta = getattr(event, "delta", "")
        return [ThinkingDelta(delta)] if delta else []

    def _summary_part(self, event: Any) -> list[LLMEvent]:
        """Summary parts are paragraphs; keep them apart in the one thinking text we build."""
        return [ThinkingDelta("\n\n")] if getattr(event, "summary_index", 0) else []

    def _item_added(self, event: Any) -> list[LLMEvent]:
        item = getattr(event, "item", None)
        if getattr(item, "type", None) == "function_call":
            item_id = item_id_of(item)
            self._calls[item_id] = PendingCall(
                str(getattr(item, "call_id", None) or item_id), str(getattr(item, "name", ""))
            )
        return []

    def _arguments_delta(self, event: Any) -> list[LLMEvent]:
        pending = self._calls.get(getattr(event, "item_id", ""))
        if pending is not None:
            pending.arguments.append(getattr(event, "delta", ""))
        return []

    def _arguments_done(self, event: Any) -> list[LLMEvent]:
        pending = self._calls.get(getattr(event, "item_id", ""))
        arguments = getattr(event, "arguments", None)
        if pending is not None and isinstance(arguments, str):
            pending.arguments = [arguments]
        return []

    def _item_done(self, event: Any) -> list[LLMEvent]:
        return self._call_from_item(getattr(event, "item", None))

    def _call_from_item(self, item: Any) -> list[LLMEvent]:
        if getattr(item, "type", None) != "function_call":
            return []
        item_id = item_id_of(item)
        if item_id in self._emitted:
            return []
        pending = self._calls.pop(item_id, None) or PendingCall("", "")
        pending.call_id = str(getattr(item, "call_id", None) or pending.call_id or item_id)
        pending.name = str(getattr(item, "name", None) or pending.name)
        arguments = getattr(item, "arguments", None)
        if isinstance(arguments, str) and arguments:
            pending.arguments = [arguments]
        self._emitted.add(item_id)
        return [pending.to_event()]

    def _completed(self, event: Any) -> list[LLMEvent]:
        """`response.completed` or `.incomplete`: the last event. Calls whose `output_item.done`
        a compatible server skipped are still in the response's output."""
        response = getattr(event, "response", None)
        events: list[LLMEvent] = []
        for item in getattr(response, "output", None) or []:
            events.extend(self._call_from_item(item))
        usage = getattr(response, "usage", None)
        if usage is not None:
            details = getattr(usage, "output_tokens_details", None)
            events.append(
                Usage(
                    input_tokens=getattr(usage, "input_tokens", 0) or 0,
                    output_tokens=getattr(usage, "output_tokens", 0) or 0,
                    thinking_tokens=getattr(details, "reasoning_tokens", 0) or 0,
                )
            )
        events.append(Finished(self._finish_reason(response)))
        self._finished = True
        return events

    def _finish_reason(self, response: Any) -> FinishReason:
        if self._emitted:
            return "tool_calls"
        if getattr(response, "status", None) != "incomplete":
            return "stop"
        details = getattr(response, "incomplete_details", None)
        reason = getattr(details, "reason", None)
        if reason == "max_output_tokens":
            return "length"
        if reason == "content_filter":
            return "content_filter"
        return "other"

    def _failed(self, event: Any) -> list[LLMEvent]:
        error = getattr(getattr(event, "response", None), "error", None)
        if error is None:
            raise ProviderUnavailableError("the response failed with no reason", provider=PROVIDER)
        raise coded_error(
            getattr(error, "code", None),
            getattr(error, "message", None) or "the response failed",
            error_type=getattr(error, "type", None),
        )

    def _error_event(self, event: Any) -> list[LLMEvent]:
        raise coded_error(
            getattr(event, "code", None), getattr(event, "message", None) or "stream error"
        )


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

    def feed(self, chunk: Any) -> list[LLMEvent]:
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            details = getattr(usage, "completion_tokens_details", None)
            self._usage = Usage(
                input_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                output_tokens=getattr(usage, "completion_tokens", 0) or 0,
                thinking_tokens=getattr(details, "reasoning_tokens", 0) or 0,
            )
        events: list[LLMEvent] = []
        for choice in getattr(chunk, "choices", None) or []:
            if getattr(choice, "index", 0) != 0:  # we never ask for n > 1
                continue
            events.extend(self._delta(getattr(choice, "delta", None)))
            if getattr(choice, "finish_reason", None):
                self._finish_reason = choice.finish_reason
        return events

    def _delta(self, delta: Any) -> list[LLMEvent]:
        events: list[LLMEvent] = []
        # Not in OpenAI's schema: vLLM, llama.cpp and DeepSeek stream reasoning this way.
        thinking = getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None)
        if isinstance(thinking, str) and thinking:
            events.append(ThinkingDelta(thinking))
        content = getattr(delta, "content", None)
        if content:
            events.append(TextDelta(content))
        for position, fragment in enumerate(getattr(delta, "tool_calls", None) or []):
            index = getattr(fragment, "index", None)
            pending = self._calls.setdefault(
                position if index is None else index, PendingCall("", "")
            )
            pending.call_id = pending.call_id or getattr(fragment, "id", None) or ""
            function = getattr(fragment, "function", None)
            pending.name = pending.name or getattr(function, "name", None) or ""
            pending.arguments.append(getattr(function, "arguments", None) or "")
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
