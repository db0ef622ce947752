"""Gemini Developer API at the wire: `models/{model}:streamGenerateContent?alt=sse` and
`models/{model}:generateContent`, as the `google-genai` SDK calls them.

Replies follow what Gemini really sends: camelCase `GenerateContentResponse` chunks, thought
summaries as parts with `thought: true`, function calls without an `id` unless the script names
one, the thought signature (base64) on the first function-call part, or on the first answer part
after thinking, `finishReason` and the full `usageMetadata` on the last chunk. Errors use Google's
`{"error": {code, message, status, details}}` body; `GeminiFailure` adds `details` such as
`RetryInfo`, which Gemini sends instead of a `Retry-After` header.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from agents.llm.base import LLM
from agents.llm.config import LLMConfig
from agents.llm.factory import build_llm
from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response, paced, sse
from tests.fakes.script import Failure, Malformed, Reply, Script, Step

_ROUTE = re.compile(
    r"^/(?P<version>v1[a-z0-9]*)/models/(?P<model>[^/:]+):"
    r"(?P<method>streamGenerateContent|generateContent)$"
)

#: google.rpc.Code names Google puts in `error.status` for each HTTP status.
_STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

#: Provider-neutral finish reasons -> Gemini's; anything else is sent as written (e.g. "SAFETY").
_FINISH_REASONS: dict[str, str] = {
    "stop": "STOP",
    "tool_calls": "STOP",  # Gemini has no tool-call finish reason
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
    "other": "OTHER",
}


@dataclass(frozen=True)
class GeminiFailure(Failure):
    """A failure with Google's `error.details` (RetryInfo, ErrorInfo ...) and optional status."""

    details: Sequence[Mapping[str, Any]] = ()
    status_name: str | None = None


@dataclass(frozen=True)
class RawReply(Reply):
    """Exactly these SSE frames (JSON-able chunks, or bytes sent as they are), streamed: for wire
    shapes a provider-neutral `Reply` cannot express, such as a blocked prompt or a cut stream."""

    frames: Sequence[Mapping[str, Any] | bytes] = ()


def retry_info(delay: str) -> dict[str, Any]:
    """The `google.rpc.RetryInfo` detail Gemini attaches to quota errors, e.g. delay="21s"."""
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


def api_key_invalid() -> GeminiFailure:
    """What Gemini answers to a wrong key: a 400, not a 401, with reason API_KEY_INVALID."""
    return GeminiFailure(
        400,
        "API key not valid. Please pass a valid API key.",
        status_name="INVALID_ARGUMENT",
        details=(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
        ),
    )


def signature_of(text: str) -> str:
    """The wire form (base64) of a scripted thought signature."""
    return base64.b64encode(text.encode()).decode()


class Fake(FakeHTTPServer):
    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script
        self._response_ids = itertools.count(1)

    def handle(self, request: RecordedRequest) -> Response:
        route = _ROUTE.match(urlsplit(request.path).path)
        if request.method != "POST" or route is None:
            return _error(404, f"Method or path not found: {request.method} {request.path}")
        streaming = route["method"] == "streamGenerateContent"
        if not request.headers.get("x-goog-api-key") and "key=" not in request.path:
            return _error(
                403,
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        problem = _invalid(request)
        if problem is not None:
            return _error(400, problem)
        step: Step = self.script.next_step()
        if isinstance(step, Failure):
            return _failure(step)
        response_id = f"fake-response-{next(self._response_ids)}"
        model = route["model"]
        if isinstance(step, Malformed):
            first = _chunk(model, response_id, [{"text": step.text_before}], usage=None)
            garbage = b'data: {"candidates": [{"content": {"parts": [{"text": "oops\n\n'
            if not streaming:
                return Response(stream=[garbage[6:]], content_type="application/json")
            return Response(stream=[sse(None, first), garbage], content_type="text/event-stream")
        if step.delay_s:
            time.sleep(step.delay_s)
        if isinstance(step, RawReply):
            raw = [f if isinstance(f, bytes) else sse(None, dict(f)) for f in step.frames]
            return Response(stream=paced(raw, step.chunk_delay_s))
        chunks = _reply_chunks(step, model, response_id)
        if not streaming:
            return Response(body=_merged(chunks))
        frames = (sse(None, chunk) for chunk in chunks)
        return Response(stream=paced(frames, step.chunk_delay_s), content_type="text/event-stream")


def _invalid(request: RecordedRequest) -> str | None:
    """The checks Gemini makes that an adapter bug would trip (it answers 400 to each)."""
    body = request.json()
    if not isinstance(body, dict):
        return "Invalid JSON payload received."
    contents = field(body, "contents")
    if not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for index, content in enumerate(contents):
        if content.get("role") not in ("user", "model"):
            return f"Please use a valid role: user, model. (contents[{index}])"
        if not content.get("parts"):
            return f"* GenerateContentRequest.contents[{index}].parts: must not be empty."
    return None


def _reply_chunks(reply: Reply, model: str, response_id: str) -> list[dict[str, Any]]:
    """One chunk per scripted delta, function calls together, finish and usage on the last."""
    signature = signature_of(reply.thinking_signature) if reply.thinking_signature else None
    bodies: list[list[dict[str, Any]]] = []
    for text in reply.thinking_chunks:
        bodies.append([{"text": text, "thought": True}])
    for index, text in enumerate(reply.text_chunks):
        part: dict[str, Any] = {"text": text}
        if index == 0 and reply.thinking_chunks and not reply.tool_calls and signature:
            part["thoughtSignature"] = signature
        bodies.append([part])
    if reply.tool_calls:
        calls: list[dict[str, Any]] = []
        for index, call in enumerate(reply.tool_calls):
            function_call: dict[str, Any] = {"name": call.name, "args": dict(call.arguments)}
            if call.call_id is not None:
                function_call["id"] = call.call_id
            part = {"functionCall": function_call}
            if index == 0 and signature:
                part["thoughtSignature"] = signature
            calls.append(part)
        bodies.append(calls)
    if not bodies:
        bodies.append([{"text": ""}])
    chunks = [
        _chunk(model, response_id, parts, usage=_usage(reply, final=False)) for parts in bodies
    ]
    last = chunks[-1]
    last["candidates"][0]["finishReason"] = _FINISH_REASONS.get(
        reply.finish_reason, reply.finish_reason
    )
    last["usageMetadata"] = _usage(reply, final=True)
    return chunks


def _chunk(
    model: str, response_id: str, parts: list[dict[str, Any]], *, usage: dict[str, Any] | None
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "candidates": [{"content": {"parts": parts, "role": "model"}, "index": 0}],
        "modelVersion": model,
        "responseId": response_id,
    }
    if usage is not None:
        chunk["usageMetadata"] = usage
    return chunk


def _usage(reply: Reply, *, final: bool) -> dict[str, Any]:
    if not final:  # Gemini's running usage before the answer is complete
        return {"promptTokenCount": reply.input_tokens, "totalTokenCount": reply.input_tokens}
    usage: dict[str, Any] = {
        "promptTokenCount": reply.input_tokens,
        "candidatesTokenCount": reply.output_tokens,
        "totalTokenCount": reply.input_tokens + reply.output_tokens + reply.thinking_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": reply.input_tokens}],
    }
    if reply.thinking_tokens:
        usage["thoughtsTokenCount"] = reply.thinking_tokens
    return usage


def _merged(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The unary `generateContent` answer: every chunk's parts in one candidate."""
    parts = [part for chunk in chunks for part in chunk["candidates"][0]["content"]["parts"]]
    body: dict[str, Any] = json.loads(json.dumps(chunks[-1]))
    body["candidates"][0]["content"]["parts"] = parts
    return body


def _failure(failure: Failure) -> Response:
    headers = {"retry-after": failure.retry_after} if failure.retry_after is not None else {}
    details = list(failure.details) if isinstance(failure, GeminiFailure) else []
    status_name = failure.status_name if isinstance(failure, GeminiFailure) else None
    return _error(failure.status, failure.message, headers, details, status_name)


def _error(
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    details: list[Mapping[str, Any]] | None = None,
    status_name: str | None = None,
) -> Response:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": status_name or _STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = [dict(detail) for detail in details]
    return Response(status=status, body={"error": error}, headers=dict(headers or {}))


# --- What the SDK sent -------------------------------------------------------------------------


def make_llm(
    fake: FakeHTTPServer,
    *,
    max_retries: int = 3,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    model: str | None = None,
) -> LLM:
    config = LLMConfig(
        provider="gemini",
        model=model,
        api_key="test-key",
        base_url=fake.url,
        max_retries=max_retries,
    )
    return build_llm(config, sleep=sleep)


def field(message: Mapping[str, Any], name: str) -> Any:
    """A protobuf JSON field by its camelCase name; the SDK sends nested objects (thinkingConfig,
    inlineData, functionDeclarations ...) with snake_case keys, which Google also accepts."""
    if name in message:
        return message[name]
    return message.get(re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), name))


def sent_contents(request: RecordedRequest) -> list[dict[str, Any]]:
    return list(field(request.json(), "contents") or [])


def sent_parts(request: RecordedRequest) -> list[dict[str, Any]]:
    """Every part of every content, in order."""
    return [part for content in sent_contents(request) for part in content.get("parts") or []]


def sent_generation_config(request: RecordedRequest) -> dict[str, Any]:
    return dict(field(request.json(), "generationConfig") or {})


def sent_signature(part: Mapping[str, Any]) -> bytes | None:
    """A part's thoughtSignature decoded (the SDK writes URL-safe base64, Google standard)."""
    value = field(part, "thoughtSignature")
    return base64.urlsafe_b64decode(value.replace("+", "-").replace("/", "_")) if value else None


def sent_tool_names(request: RecordedRequest) -> list[str]:
    return [
        declaration["name"]
        for tool in field(request.json(), "tools") or []
        for declaration in field(tool, "functionDeclarations") or []
    ]


def sent_tool_results(request: RecordedRequest) -> list[tuple[str, str]]:
    """(id, response as JSON) per functionResponse; the name stands in when no id was sent."""
    results: list[tuple[str, str]] = []
    for part in sent_parts(request):
        response = field(part, "functionResponse")
        if response is not None:
            call_id = response.get("id") or response["name"]
            results.append((call_id, json.dumps(response.get("response"))))
    return results


def sent_thinking(request: RecordedRequest) -> bool:
    thinking = field(sent_generation_config(request), "thinkingConfig") or {}
    return bool(field(thinking, "includeThoughts"))


def sent_system(request: RecordedRequest) -> str | None:
    system = field(request.json(), "systemInstruction")
    if not system:
        return None
    return "".join(part.get("text", "") for part in system.get("parts") or [])
