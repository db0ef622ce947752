"""Gemini (Developer API) through the official `google-genai` SDK, streaming.

Gemini quirks end here:
- Function calls may come without an `id`. We invent one (`call_<response id>_<n>`) so the runner
  can pair results with calls, mark it `id_generated` in the call's metadata, and leave it off the
  wire when the call and its result are replayed: the model never saw it.
- Thinking models put an opaque `thought_signature` on the first function-call part of a turn (or
  on the first answer part). Google rejects a follow-up whose function calls lost their signature,
  so it travels in `ToolCall.metadata`; one on an answer part becomes a text-less `ThinkingDelta`,
  which replays as a `thought` part. Signatures are bytes in the SDK and base64 text with us;
  thinking signatures carry a `gemini:` prefix so another provider's are never sent to Google.
- Retries are ours (`ProviderLLM`): the SDK's own are switched off (`attempts=1`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import aiohttp
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

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

__all__ = ["GeminiLLM"]

logger = logging.getLogger(__name__)

#: `ToolCall.metadata` keys this adapter writes and reads back on replay.
THOUGHT_SIGNATURE = "thought_signature"
ID_GENERATED = "id_generated"

#: Marks the `ThinkingPart` signatures we made: a session may hold another provider's (Anthropic's
#: are base64 too), and Google fails the whole request on a signature it cannot verify.
THINKING_SIGNATURE_PREFIX = "gemini:"

#: Provider messages past this are proxies' HTML pages, not something to show a user.
_MAX_MESSAGE_CHARS = 1000

#: Pinned rather than the SDK default (`v1` in google-genai 3.x): thought signatures, function
#: call ids, `parametersJsonSchema` and `responseJsonSchema` are documented against v1beta.
API_VERSION = "v1beta"

#: Sent to a keyless `base_url` (a proxy that adds the key): the SDK refuses to start without one.
_KEYLESS_PLACEHOLDER = "unused"

#: What Gemini reads as inline data or a file URI; plain-text documents (text/*) included.
_SUPPORTED_MEDIA = ("image/", "audio/", "video/", "text/")
_SUPPORTED_DOCUMENTS = ("application/pdf",)

_CONTENT_FILTER = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "MODEL_ARMOR",
    }
)

_CONTEXT_TOO_LONG = re.compile(
    r"token count.*exceeds|exceeds the maximum number of tokens|context (length|window)"
    r"|too many tokens|input is too long|prompt is too long",
    re.IGNORECASE | re.DOTALL,
)
_INVALID_KEY = re.compile(r"API_KEY_INVALID|API key not valid|API key expired", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def _http_error_classes() -> tuple[tuple[type[Exception], ...], ...]:
    """(timeouts, other transport failures, undecodable bodies) of aiohttp, httpx and httpx2.

    The SDK's async client picks aiohttp when installed (as it is: the other providers' SDKs use
    it too), else httpx2, else httpx, and lets their errors through.
    """
    timeouts: list[type[Exception]] = [aiohttp.ServerTimeoutError, TimeoutError]
    transport: list[type[Exception]] = [aiohttp.ClientError]
    decoding: list[type[Exception]] = []
    for name in ("httpx", "httpx2"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        timeouts.append(module.TimeoutException)
        transport.append(module.TransportError)
        decoding.append(module.DecodingError)
    return tuple(timeouts), tuple(transport), tuple(decoding)


_TIMEOUT_ERRORS, _TRANSPORT_ERRORS, _DECODING_ERRORS = _http_error_classes()
_MALFORMED_ERRORS: tuple[type[Exception], ...] = (
    genai_errors.UnknownApiResponseError,
    pydantic.ValidationError,
    json.JSONDecodeError,
    *_DECODING_ERRORS,
)


class GeminiLLM(ProviderLLM):
    provider = "gemini"

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        retry: RetryPolicy | None = None,
        on_retry: RetryObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(model=model, retry=retry, on_retry=on_retry, sleep=sleep)
        self._api_key = api_key
        self._closed = False
        self._client: genai.Client | None = None
        if api_key or base_url:
            self._client = genai.Client(
                vertexai=False,  # never let GOOGLE_GENAI_USE_VERTEXAI reroute a Gemini config
                api_key=api_key or _KEYLESS_PLACEHOLDER,
                http_options=types.HttpOptions(
                    base_url=base_url,
                    api_version=API_VERSION,
                    timeout=max(int(timeout_s * 1000), 1),  # milliseconds
                    retry_options=types.HttpRetryOptions(attempts=1),
                ),
            )

    async def _open_stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        client = self._require_client()
        contents = to_contents(request.messages)
        if not contents:
            raise BadRequestError("the request has no message content", provider=self.provider)
        config = to_config(request)
        reader = _StreamReader()
        try:
            stream = await client.aio.models.generate_content_stream(
                model=self.model, contents=contents, config=config
            )
            try:
                async for chunk in stream:
                    for event in reader.read(chunk):
                        yield event
            finally:  # releases the HTTP response when the caller stops early
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()
        except genai_errors.APIError as error:
            raise self._api_error(error) from error
        except _TIMEOUT_ERRORS as error:
            raise ProviderUnavailableError(
                self._redact(f"request timed out: {error}".rstrip(": ")), provider=self.provider
            ) from error
        except _TRANSPORT_ERRORS as error:
            raise ProviderUnavailableError(
                self._redact(f"connection failed: {error}".rstrip(": ")), provider=self.provider
            ) from error
        except _MALFORMED_ERRORS as error:
            raise MalformedResponseError(
                self._redact(f"unreadable response: {error}"), provider=self.provider
            ) from error
        for event in reader.finish():
            yield event

    async def aclose(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aio.aclose()
            client.close()

    def _require_client(self) -> genai.Client:
        if self._closed:
            raise RuntimeError("GeminiLLM is closed")
        if self._client is None:
            raise AuthenticationError(
                "no API key configured (set GEMINI_API_KEY or llms.<name>.api_key)",
                provider=self.provider,
            )
        return self._client

    def _redact(self, text: str) -> str:
        if self._api_key and len(self._api_key) >= 4:
            return text.replace(self._api_key, "***")
        return text

    def _api_error(self, error: genai_errors.APIError) -> LLMError:
        status = error.code if isinstance(error.code, int) else None
        message = self._redact(str(error.message or error.status or error))[:_MAX_MESSAGE_CHARS]
        provider = self.provider
        headers = _headers_of(error)
        if status in (401, 403) or (status == 400 and _is_invalid_key(error)):
            return AuthenticationError(message, provider=provider, status=status)
        if status == 429:
            retry_after = parse_retry_after(headers.get("retry-after"))
            if retry_after is None:
                retry_after = _retry_delay(error)
            return RateLimitError(message, provider=provider, status=429, retry_after_s=retry_after)
        if status in (400, 413) and _CONTEXT_TOO_LONG.search(message):
            return ContextTooLongError(message, provider=provider, status=status)
        if status is not None and 400 <= status < 500:
            return BadRequestError(message, provider=provider, status=status)
        return ProviderUnavailableError(
            message,
            provider=provider,
            status=status,
            retry_after_s=parse_retry_after(headers.get("retry-after")),
        )


# --- Request -----------------------------------------------------------------------------------


def to_contents(messages: Iterable[Message]) -> list[types.Content]:
    """Our messages as Gemini `contents`: assistant -> `model`, consecutive same-role turns merged
    (tool results and a user's next words share one `user` turn, as Gemini expects)."""
    messages = tuple(messages)
    generated_ids = {
        part.call_id
        for message in messages
        for part in message.parts
        if isinstance(part, ToolCallPart) and part.metadata.get(ID_GENERATED)
    }
    contents: list[types.Content] = []
    for message in messages:
        role = "model" if message.role == "assistant" else "user"
        parts = [
            gemini_part for part in message.parts for gemini_part in _to_parts(part, generated_ids)
        ]
        if not parts:
            continue
        if contents and contents[-1].role == role and contents[-1].parts is not None:
            contents[-1].parts.extend(parts)
        else:
            contents.append(types.Content(role=role, parts=parts))
    return contents


def _to_parts(part: Part, generated_ids: set[str]) -> list[types.Part]:
    match part:
        case TextPart(text=text):
            return [types.Part(text=text)] if text else []
        case ThinkingPart(text=text, signature=signature):
            # Thought text alone is a summary the model does not need back; a signature is its
            # reasoning state and is replayed as the thought part it came with.
            if not signature or not signature.startswith(THINKING_SIGNATURE_PREFIX):
                return []
            decoded = _decode_signature(signature.removeprefix(THINKING_SIGNATURE_PREFIX))
            if decoded is None:
                return []
            return [types.Part(text=text, thought=True, thought_signature=decoded)]
        case ToolCallPart(call_id=call_id, name=name, arguments=arguments, metadata=metadata):
            return [
                types.Part(
                    function_call=types.FunctionCall(
                        id=None if call_id in generated_ids else call_id,
                        name=name,
                        args=_jsonable(dict(arguments)),
                    ),
                    thought_signature=_decode_signature(metadata.get(THOUGHT_SIGNATURE)),
                )
            ]
        case ToolResultPart(call_id=call_id, name=name):
            return [
                types.Part(
                    function_response=types.FunctionResponse(
                        id=None if call_id in generated_ids else call_id,
                        name=name,
                        response=_function_response(part),
                    )
                )
            ]
        case FilePart():
            return [_file_part(part)]
        case DataPart(data=data):
            return [types.Part(text=json.dumps(_jsonable(dict(data)), ensure_ascii=False))]
    raise TypeError(f"not a content part: {part!r}")


def _function_response(part: ToolResultPart) -> dict[str, Any]:
    """Gemini wants an object: dicts go as they are, anything else under `result` / `error`."""
    content = _jsonable(part.content)
    if part.is_error:
        return {"error": content}
    if isinstance(content, dict):
        return content
    return {"result": content}


def _file_part(part: FilePart) -> types.Part:
    mime_type = part.mime_type.split(";")[0].strip().lower()  # "audio/wav; rate=16000"
    supported = mime_type.startswith(_SUPPORTED_MEDIA) or mime_type in _SUPPORTED_DOCUMENTS
    if supported and part.data is not None:
        return types.Part(inline_data=types.Blob(data=part.data, mime_type=mime_type))
    if supported and part.uri:
        return types.Part(file_data=types.FileData(file_uri=part.uri, mime_type=mime_type))
    # SPEC 5.2: the model learns an attachment was there rather than the request failing.
    name = part.name or part.uri or "file"
    logger.warning("attachment %s (%s) not supported by gemini; sent as a note", name, mime_type)
    return types.Part(text=f"[attachment {name} ({part.mime_type}) not supported by gemini]")


def to_config(request: LLMRequest) -> types.GenerateContentConfig:
    config = types.GenerateContentConfig(
        temperature=request.temperature,
        max_output_tokens=request.max_tokens,
        # We hand the model's function calls to the runner; the SDK must not call anything.
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    if request.system:
        config.system_instruction = types.Content(parts=[types.Part(text=request.system)])
    if request.tools:
        config.tools = [types.Tool(function_declarations=[_declaration(t) for t in request.tools])]
    if request.thinking is not None:
        config.thinking_config = types.ThinkingConfig(
            include_thoughts=True, thinking_budget=request.thinking.budget_tokens
        )
    if request.output_schema is not None:
        config.response_mime_type = "application/json"
        config.response_json_schema = _jsonable(dict(request.output_schema))
    return config


def _declaration(tool: ToolSpec) -> types.FunctionDeclaration:
    # Raw JSON Schema: `parameters` would squeeze it through the SDK's OpenAPI-subset Schema.
    return types.FunctionDeclaration(
        name=tool.name,
        description=tool.description,
        parameters_json_schema=_jsonable(dict(tool.parameters)) if tool.parameters else None,
    )


def _jsonable(value: Any) -> Any:
    """Tool arguments and results as plain JSON, so the SDK's json.dumps cannot fail on them."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _decode_signature(signature: object) -> bytes | None:
    """Our base64 text (either alphabet) -> the SDK's bytes; anything else is not replayed."""
    if not isinstance(signature, str) or not signature:
        return None
    try:
        return base64.b64decode(signature.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None


def _encode_signature(signature: bytes | None) -> str | None:
    return base64.b64encode(signature).decode() if signature else None


# --- Response ----------------------------------------------------------------------------------


class _StreamReader:
    """Turns `GenerateContentResponse` chunks into events; the finish and usage come at the end,
    because Gemini repeats running usage on every chunk and the finish reason on the last."""

    def __init__(self) -> None:
        self._tool_calls = 0
        self._finish_reason: str | None = None
        self._blocked = False
        self._usage: types.GenerateContentResponseUsageMetadata | None = None
        self._id_prefix: str | None = None

    def read(self, chunk: types.GenerateContentResponse) -> list[LLMEvent]:
        if self._id_prefix is None:
            self._id_prefix = _id_safe(chunk.response_id) or uuid.uuid4().hex[:12]
        if chunk.usage_metadata is not None:
            self._usage = chunk.usage_metadata
        if chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason:
            self._blocked = True
        if not chunk.candidates:
            return []
        candidate = chunk.candidates[0]
        if candidate.finish_reason is not None:
            self._finish_reason = str(candidate.finish_reason.value)
        parts = candidate.content.parts if candidate.content is not None else None
        return [event for part in parts or () for event in self._read_part(part)]

    def _read_part(self, part: types.Part) -> list[LLMEvent]:
        signature = _encode_signature(part.thought_signature)
        if part.function_call is not None:
            return [self._tool_call(part.function_call, signature)]
        thinking_signature = f"{THINKING_SIGNATURE_PREFIX}{signature}" if signature else None
        if part.thought:
            if part.text or thinking_signature:
                return [ThinkingDelta(part.text or "", signature=thinking_signature)]
            return []
        events: list[LLMEvent] = []
        if thinking_signature:  # on an answer part: it closes the thinking that came before it
            events.append(ThinkingDelta("", signature=thinking_signature))
        if part.text:
            events.append(TextDelta(part.text))
        return events

    def _tool_call(self, call: types.FunctionCall, signature: str | None) -> ToolCall:
        self._tool_calls += 1
        metadata: dict[str, Any] = {}
        if signature:
            metadata[THOUGHT_SIGNATURE] = signature
        call_id = call.id
        if not call_id:
            call_id = f"call_{self._id_prefix}_{self._tool_calls}"
            metadata[ID_GENERATED] = True
        return ToolCall(
            call_id=call_id, name=call.name or "", arguments=call.args or {}, metadata=metadata
        )

    def finish(self) -> list[LLMEvent]:
        reason = self._reason()
        events: list[LLMEvent] = []
        if self._usage is not None:
            events.append(
                Usage(
                    input_tokens=self._usage.prompt_token_count or 0,
                    output_tokens=self._usage.candidates_token_count or 0,
                    thinking_tokens=self._usage.thoughts_token_count or 0,
                )
            )
        events.append(Finished(reason))
        return events

    def _reason(self) -> FinishReason:
        reason = self._finish_reason
        if reason is None:
            if self._blocked:  # the prompt itself was refused: no candidate at all
                return "content_filter"
            # A proxy or peer cut the body short: a transport failure, not a bad answer.
            raise ProviderUnavailableError(
                "the stream ended without a finish reason", provider=GeminiLLM.provider
            )
        if reason == "STOP":
            return "tool_calls" if self._tool_calls else "stop"
        if reason == "MAX_TOKENS":
            return "length"
        if reason in _CONTENT_FILTER:
            return "content_filter"
        return "other"


def _id_safe(value: str | None) -> str | None:
    """A response id fit to build call ids from (Gemini's are already URL-safe)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "", value or "")
    return cleaned or None


# --- Errors ------------------------------------------------------------------------------------


def _headers_of(error: genai_errors.APIError) -> dict[str, str]:
    headers = getattr(getattr(error, "response", None), "headers", None)
    if not headers:
        return {}
    return {str(name).lower(): str(value) for name, value in dict(headers).items()}


def _error_details(error: genai_errors.APIError) -> list[Mapping[str, Any]]:
    """`error.details` of Google's body: RetryInfo, ErrorInfo, QuotaFailure ..."""
    body = error.details
    if isinstance(body, Mapping):
        body = body.get("error", body)
    details = body.get("details") if isinstance(body, Mapping) else None
    return [d for d in details if isinstance(d, Mapping)] if isinstance(details, list) else []


def _is_invalid_key(error: genai_errors.APIError) -> bool:
    if any(detail.get("reason") == "API_KEY_INVALID" for detail in _error_details(error)):
        return True
    return bool(_INVALID_KEY.search(str(error.message or "")))


def _retry_delay(error: genai_errors.APIError) -> float | None:
    """`google.rpc.RetryInfo.retryDelay` ("21s", "0.5s"): Gemini's Retry-After."""
    for detail in _error_details(error):
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None
