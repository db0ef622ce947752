"""A fake Anthropic Messages API: `POST /v1/messages` as the real one streams and fails.

Streaming replies follow Anthropic's SSE protocol event for event (`message_start`, per-block
`content_block_start` / `_delta` / `_stop`, `message_delta` with the stop reason and usage,
`message_stop`, and a `ping`); errors use Anthropic's body shape and headers, so the real SDK
parses, raises and reports exactly as it would against api.anthropic.com.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from agents.llm.base import LLM
from agents.llm.config import LLMConfig
from agents.llm.factory import build_llm
from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response, paced, sse
from tests.fakes.script import (
    Failure,
    Malformed,
    Reply,
    Script,
    ScriptedToolCall,
)

MODEL = "claude-haiku-4-5"

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


@dataclass(frozen=True)
class StreamError(Malformed):
    """A stream that starts well and then carries an `error` event, as Anthropic reports
    overload (or an internal error) after the 200 has been sent.
    """

    error_type: str = "overloaded_error"
    message: str = "Overloaded"


@dataclass(frozen=True)
class RawToolCall(ScriptedToolCall):
    """A tool call whose streamed input is `raw_json` verbatim, valid JSON or not."""

    raw_json: str = "{"


class Fake(FakeHTTPServer):
    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script
        self._ids = itertools.count(1)

    def handle(self, request: RecordedRequest) -> Response:
        if request.method != "POST" or request.path.split("?")[0] != "/v1/messages":
            return self._error(404, f"{request.method} {request.path} not found")
        if not (request.headers.get("x-api-key") or request.headers.get("authorization")):
            return self._error(401, "x-api-key header is required")
        body = request.body if isinstance(request.body, dict) else {}
        model = str(body.get("model") or MODEL)
        streaming = bool(body.get("stream"))
        step = self.script.next_step()
        match step:
            case Failure(status=status, message=message, retry_after=retry_after):
                return self._error(status, message, retry_after)
            case StreamError() if not streaming:
                return self._error(529, step.message)
            case Malformed() if not streaming:
                return Response(
                    stream=iter([b'{"id": "msg_', b"\x00garbage"]), content_type="application/json"
                )
            case StreamError():
                return Response(stream=self._stream_error_frames(step, model))
            case Malformed(text_before=text_before):
                return Response(stream=self._malformed_frames(text_before, model))
            case Reply():
                if step.delay_s:
                    time.sleep(step.delay_s)
                if streaming:
                    return Response(stream=paced(self._frames(step, model), step.chunk_delay_s))
                return Response(body=self._message(step, model))
        raise AssertionError(f"unknown step {step!r}")

    # --- Replies ---------------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):04d}"

    def _call_id(self, call: ScriptedToolCall) -> str:
        return call.call_id or self._next_id("toolu")

    def _message(self, reply: Reply, model: str) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.thinking_chunks:
            content.append(
                {
                    "type": "thinking",
                    "thinking": "".join(reply.thinking_chunks),
                    "signature": reply.thinking_signature,
                }
            )
        if reply.text_chunks:
            content.append({"type": "text", "text": "".join(reply.text_chunks)})
        for call in reply.tool_calls:
            arguments = (
                json.loads(call.raw_json) if isinstance(call, RawToolCall) else call.arguments
            )
            content.append(
                {
                    "type": "tool_use",
                    "id": self._call_id(call),
                    "name": call.name,
                    "input": arguments,
                }
            )
        return {
            **self._message_head(model, reply.input_tokens),
            "content": content,
            "stop_reason": stop_reason(reply),
            "usage": {**self._usage(reply), "input_tokens": reply.input_tokens},
        }

    def _message_head(self, model: str, input_tokens: int) -> dict[str, Any]:
        return {
            "id": self._next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        }

    def _usage(self, reply: Reply) -> dict[str, Any]:
        usage: dict[str, Any] = {"output_tokens": reply.output_tokens}
        if reply.thinking_tokens:
            usage["output_tokens_details"] = {"thinking_tokens": reply.thinking_tokens}
        return usage

    def _frames(self, reply: Reply, model: str) -> Iterator[bytes]:
        yield message_start(self._message_head(model, reply.input_tokens))
        yield sse("ping", {"type": "ping"})
        index = 0
        if reply.thinking_chunks:
            yield block_start(index, {"type": "thinking", "thinking": "", "signature": ""})
            for chunk in reply.thinking_chunks:
                yield block_delta(index, {"type": "thinking_delta", "thinking": chunk})
            yield block_delta(
                index, {"type": "signature_delta", "signature": reply.thinking_signature}
            )
            yield block_stop(index)
            index += 1
        if reply.text_chunks:
            yield block_start(index, {"type": "text", "text": ""})
            for chunk in reply.text_chunks:
                yield block_delta(index, {"type": "text_delta", "text": chunk})
            yield block_stop(index)
            index += 1
        for call in reply.tool_calls:
            start = {"type": "tool_use", "id": self._call_id(call), "name": call.name, "input": {}}
            yield block_start(index, start)
            raw = call.raw_json if isinstance(call, RawToolCall) else json.dumps(call.arguments)
            for piece in split_json(raw):
                yield block_delta(index, {"type": "input_json_delta", "partial_json": piece})
            yield block_stop(index)
            index += 1
        yield sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason(reply), "stop_sequence": None},
                "usage": self._usage(reply),
            },
        )
        yield sse("message_stop", {"type": "message_stop"})

    def _partial_text(self, text_before: str, model: str) -> Iterator[bytes]:
        yield message_start(self._message_head(model, 11))
        if text_before:
            yield block_start(0, {"type": "text", "text": ""})
            yield block_delta(0, {"type": "text_delta", "text": text_before})

    def _malformed_frames(self, text_before: str, model: str) -> Iterator[bytes]:
        yield from self._partial_text(text_before, model)
        # An event whose JSON stops mid-object: the SDK's `json.loads` fails on it.
        yield b'event: content_block_delta\ndata: {"type": "content_block_delta", "in\n\n'

    def _stream_error_frames(self, step: StreamError, model: str) -> Iterator[bytes]:
        yield from self._partial_text(step.text_before, model)
        yield sse(
            "error",
            {"type": "error", "error": {"type": step.error_type, "message": step.message}},
        )

    # --- Errors ----------------------------------------------------------------------------------

    def _error(self, status: int, message: str, retry_after: str | None = None) -> Response:
        default_type = "api_error" if status >= 500 else "invalid_request_error"
        request_id = self._next_id("req")
        headers = {"request-id": request_id}
        if retry_after is not None:
            headers["retry-after"] = retry_after
        if status == 529:
            headers["x-should-retry"] = "true"
        return Response(
            status=status,
            headers=headers,
            body={
                "type": "error",
                "error": {"type": ERROR_TYPES.get(status, default_type), "message": message},
                "request_id": request_id,
            },
        )


def stop_reason(reply: Reply) -> str:
    return STOP_REASONS.get(reply.finish_reason, reply.finish_reason)


def message_start(message: dict[str, Any]) -> bytes:
    return sse("message_start", {"type": "message_start", "message": message})


def block_start(index: int, block: dict[str, Any]) -> bytes:
    return sse(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def block_delta(index: int, delta: dict[str, Any]) -> bytes:
    return sse(
        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    )


def block_stop(index: int) -> bytes:
    return sse("content_block_stop", {"type": "content_block_stop", "index": index})


def split_json(raw: str, pieces: int = 3) -> list[str]:
    """Anthropic streams tool input as arbitrary fragments, starting with an empty one."""
    size = max(1, -(-len(raw) // pieces))
    return ["", *(raw[i : i + size] for i in range(0, len(raw), size))]


# --- Shared-test interface -----------------------------------------------------------------------


def make_llm(
    fake: FakeHTTPServer,
    *,
    max_retries: int = 3,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> LLM:
    config = LLMConfig(
        provider="anthropic",
        model=MODEL,
        api_key="test-key",
        base_url=fake.url,
        max_retries=max_retries,
    )
    return build_llm(config, sleep=sleep)


def _body(request: RecordedRequest) -> dict[str, Any]:
    return request.body if isinstance(request.body, dict) else {}


def sent_tool_names(request: RecordedRequest) -> list[str]:
    return [tool["name"] for tool in _body(request).get("tools") or []]


def sent_blocks(request: RecordedRequest, role: str | None = None) -> list[dict[str, Any]]:
    """Every content block sent, in order (string content counts as one text block)."""
    blocks: list[dict[str, Any]] = []
    for message in _body(request).get("messages") or []:
        if role is not None and message.get("role") != role:
            continue
        content = message.get("content")
        if isinstance(content, str):
            blocks.append({"type": "text", "text": content})
        else:
            blocks.extend(content or [])
    return blocks


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content or [] if block.get("type") == "text")


def sent_tool_results(request: RecordedRequest) -> list[tuple[str, str]]:
    return [
        (block["tool_use_id"], _text_of(block.get("content")))
        for block in sent_blocks(request, "user")
        if block.get("type") == "tool_result"
    ]


def sent_thinking(request: RecordedRequest) -> bool:
    thinking = _body(request).get("thinking") or {}
    return thinking.get("type") in ("enabled", "adaptive")


def sent_system(request: RecordedRequest) -> str | None:
    system = _body(request).get("system")
    if system is None or isinstance(system, str):
        return system
    return _text_of(system)
