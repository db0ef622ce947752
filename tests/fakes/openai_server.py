"""A fake OpenAI API: `POST /v1/responses` and `POST /v1/chat/completions`, as the SDK reads them.

Streams follow OpenAI's wire protocol event for event (Responses: `response.created` ...
`response.completed`, each with `type` and `sequence_number`; Chat Completions:
`chat.completion.chunk`s, a usage chunk, `data: [DONE]`), and errors carry OpenAI's body
(`{"error": {"message", "type", "param", "code"}}`) and an `x-request-id`. Without
`"stream": true` both endpoints answer with the complete JSON object.

`OpenAIFailure` scripts what only OpenAI has: an error `code` (`context_length_exceeded`,
`insufficient_quota`), `retry-after-ms`, and failures inside a 200 stream (`response.failed`, an
`error` event, an error chunk).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agents.llm.base import LLM
from agents.llm.config import LLMConfig
from agents.llm.factory import build_llm
from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response, paced, sse
from tests.fakes.script import Failure, Malformed, Reply, Script, ScriptedToolCall, Step

RESPONSES_PATH = "/v1/responses"
CHAT_PATH = "/v1/chat/completions"

ERROR_KIND: dict[int, tuple[str, str | None]] = {  # status -> OpenAI's (type, code)
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass(frozen=True)
class OpenAIFailure(Failure):
    """A `Failure` with OpenAI's details. With `in_stream`, the HTTP answer is a 200 stream that
    first streams `text_before`, then fails: Responses sends `response.failed` or an `error`
    event (as `in_stream` says); Chat Completions sends an `{"error": ...}` chunk either way."""

    code: str | None = None
    type: str | None = None
    retry_after_ms: str | None = None
    in_stream: Literal["response.failed", "error"] | None = None
    text_before: str = ""


@dataclass(frozen=True)
class RawToolCall(ScriptedToolCall):
    """A tool call whose arguments are sent exactly as `raw_arguments` (e.g. broken JSON)."""

    raw_arguments: str = ""


@dataclass(frozen=True)
class SummaryReply(Reply):
    """A reply whose reasoning summary comes in several parts (paragraphs), each its own chunks;
    `thinking` is ignored when this is set."""

    summary_parts: Sequence[Sequence[str]] = ()


def summary_parts_of(reply: Reply) -> list[list[str]]:
    if isinstance(reply, SummaryReply) and reply.summary_parts:
        return [list(part) for part in reply.summary_parts]
    return [reply.thinking_chunks] if reply.thinking_chunks else []


def arguments_text(call: ScriptedToolCall) -> str:
    if isinstance(call, RawToolCall):
        return call.raw_arguments
    return json.dumps(dict(call.arguments))


def halves(text: str) -> list[str]:
    """Arguments arrive in fragments on the wire; two are enough to test the joining."""
    middle = len(text) // 2
    return [part for part in (text[:middle], text[middle:]) if part]


class Fake(FakeHTTPServer):
    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script
        self._counter = itertools.count(1)
        self._counter_lock = threading.Lock()

    def _id(self, prefix: str) -> str:
        with self._counter_lock:
            return f"{prefix}_{next(self._counter):04d}"

    def handle(self, request: RecordedRequest) -> Response:
        path = request.path.split("?", 1)[0]
        if request.method != "POST" or path not in (RESPONSES_PATH, CHAT_PATH):
            return self._error(Failure(404, f"Invalid URL ({request.method} {path})"))
        body = request.body if isinstance(request.body, dict) else {}
        step = self.script.next_step()
        if isinstance(step, OpenAIFailure) and step.in_stream:
            builder = ResponsesStream if path == RESPONSES_PATH else ChatStream
            return self._stream(builder(self, body).failure(step), 0.0)
        if isinstance(step, Failure):
            return self._error(step)
        if isinstance(step, Reply) and step.delay_s:
            time.sleep(step.delay_s)
        if path == RESPONSES_PATH:
            return self._answer(ResponsesStream(self, body), step, body)
        return self._answer(ChatStream(self, body), step, body)

    def _answer(
        self, builder: ResponsesStream | ChatStream, step: Step, body: dict[str, Any]
    ) -> Response:
        if isinstance(step, Malformed):
            return self._stream(builder.malformed(step), 0.0)
        assert isinstance(step, Reply)
        if not body.get("stream"):
            return Response(body=builder.complete(step), headers=self._headers())
        return self._stream(builder.reply(step), step.chunk_delay_s)

    def _stream(self, frames: Iterator[bytes], delay_s: float) -> Response:
        return Response(stream=paced(frames, delay_s), headers=self._headers())

    def _headers(self) -> dict[str, str]:
        return {"x-request-id": self._id("req")}

    def _error(self, failure: Failure) -> Response:
        default_type, default_code = ERROR_KIND.get(
            failure.status,
            ("server_error" if failure.status >= 500 else "invalid_request_error", None),
        )
        error_type, code = default_type, default_code
        headers = self._headers()
        if isinstance(failure, OpenAIFailure):
            error_type = failure.type or error_type
            code = failure.code or code
            if failure.retry_after_ms is not None:
                headers["retry-after-ms"] = failure.retry_after_ms
        if failure.retry_after is not None:
            headers["retry-after"] = failure.retry_after
        body = {
            "error": {"message": failure.message, "type": error_type, "param": None, "code": code}
        }
        return Response(status=failure.status, body=body, headers=headers)


# --- Responses API -----------------------------------------------------------------------------


class ResponsesStream:
    """One `/v1/responses` answer: its SSE events, or the final `response` object."""

    def __init__(self, fake: Fake, body: dict[str, Any]) -> None:
        self.fake = fake
        self.body = body
        self.response_id = fake._id("resp")
        self.created_at = int(time.time())
        self.sequence = itertools.count()
        self.output: list[dict[str, Any]] = []

    def event(self, kind: str, **fields: Any) -> bytes:
        return sse(kind, {"type": kind, "sequence_number": next(self.sequence), **fields})

    def response(self, status: str, **fields: Any) -> dict[str, Any]:
        body = self.body
        reasoning = body.get("reasoning") or {}
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": body.get("model"),
            "output": list(self.output),
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": body.get("tools") or [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": None,
            "user": None,
            "metadata": {},
            **fields,
        }

    def start(self) -> Iterator[bytes]:
        yield self.event("response.created", response=self.response("in_progress"))
        yield self.event("response.in_progress", response=self.response("in_progress"))

    def reply(self, reply: Reply) -> Iterator[bytes]:
        yield from self.start()
        if summary_parts_of(reply):
            yield from self.reasoning_item(summary_parts_of(reply))
        if reply.text_chunks:
            yield from self.message_item(reply.text_chunks)
        for call in reply.tool_calls:
            yield from self.function_call_item(call)
        yield self.finish(reply)

    def reasoning_item(self, parts: list[list[str]]) -> Iterator[bytes]:
        index, item_id = len(self.output), self.fake._id("rs")
        added = {"id": item_id, "type": "reasoning", "summary": []}
        yield self.event("response.output_item.added", output_index=index, item=added)
        summary: list[dict[str, str]] = []
        for summary_index, chunks in enumerate(parts):
            where = {"item_id": item_id, "output_index": index, "summary_index": summary_index}
            empty = {"type": "summary_text", "text": ""}
            yield self.event("response.reasoning_summary_part.added", **where, part=empty)
            for chunk in chunks:
                yield self.event("response.reasoning_summary_text.delta", **where, delta=chunk)
            text = "".join(chunks)
            yield self.event("response.reasoning_summary_text.done", **where, text=text)
            part = {"type": "summary_text", "text": text}
            yield self.event("response.reasoning_summary_part.done", **where, part=part)
            summary.append(part)
        item = {**added, "summary": summary}
        self.output.append(item)
        yield self.event("response.output_item.done", output_index=index, item=item)

    def message_item(self, chunks: list[str]) -> Iterator[bytes]:
        index, item_id = len(self.output), self.fake._id("msg")
        added = {
            "id": item_id,
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        yield self.event("response.output_item.added", output_index=index, item=added)
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield self.event("response.content_part.added", **where, part=empty)
        for chunk in chunks:
            yield self.event("response.output_text.delta", **where, delta=chunk, logprobs=[])
        text = "".join(chunks)
        yield self.event("response.output_text.done", **where, text=text, logprobs=[])
        part = {**empty, "text": text}
        yield self.event("response.content_part.done", **where, part=part)
        item = {**added, "status": "completed", "content": [part]}
        self.output.append(item)
        yield self.event("response.output_item.done", output_index=index, item=item)

    def function_call_item(self, call: ScriptedToolCall) -> Iterator[bytes]:
        index, item_id = len(self.output), self.fake._id("fc")
        added = {
            "id": item_id,
            "type": "function_call",
            "status": "in_progress",
            "call_id": call.call_id or self.fake._id("call"),
            "name": call.name,
            "arguments": "",
        }
        yield self.event("response.output_item.added", output_index=index, item=added)
        arguments = arguments_text(call)
        where = {"item_id": item_id, "output_index": index}
        for fragment in halves(arguments):
            yield self.event("response.function_call_arguments.delta", **where, delta=fragment)
        yield self.event("response.function_call_arguments.done", **where, arguments=arguments)
        item = {**added, "status": "completed", "arguments": arguments}
        self.output.append(item)
        yield self.event("response.output_item.done", output_index=index, item=item)

    def usage(self, reply: Reply) -> dict[str, Any]:
        return {
            "input_tokens": reply.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": reply.output_tokens,
            "output_tokens_details": {"reasoning_tokens": reply.thinking_tokens},
            "total_tokens": reply.input_tokens + reply.output_tokens,
        }

    def final(self, reply: Reply) -> dict[str, Any]:
        if reply.finish_reason == "length":
            incomplete = {"reason": "max_output_tokens"}
            return self.response(
                "incomplete", incomplete_details=incomplete, usage=self.usage(reply)
            )
        return self.response("completed", usage=self.usage(reply))

    def finish(self, reply: Reply) -> bytes:
        response = self.final(reply)
        kind = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
        return self.event(kind, response=response)

    def complete(self, reply: Reply) -> dict[str, Any]:
        for _ in self.reply(reply):  # builds `output` as the stream would
            pass
        return self.final(reply)

    def malformed(self, step: Malformed) -> Iterator[bytes]:
        yield from self.start()
        index, item_id = 0, self.fake._id("msg")
        item = {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant"}
        yield self.event("response.output_item.added", output_index=index, item=item)
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        yield self.event("response.output_text.delta", **where, delta=step.text_before, logprobs=[])
        yield b'event: response.output_text.delta\ndata: {"type": "response.output_te\n\n'
        yield b"\xff\xfe not an event \x00\n\n"

    def failure(self, failure: OpenAIFailure) -> Iterator[bytes]:
        yield from self.start()
        if failure.text_before:
            yield from self.message_item([failure.text_before])
        code = failure.code or ("server_error" if failure.status >= 500 else "invalid_prompt")
        if failure.in_stream == "error":
            yield self.event("error", code=code, message=failure.message, param=None)
            return
        error = {"code": code, "message": failure.message}
        yield self.event("response.failed", response=self.response("failed", error=error))


# --- Chat Completions --------------------------------------------------------------------------


class ChatStream:
    """One `/v1/chat/completions` answer: its chunks, or the final `chat.completion`."""

    def __init__(self, fake: Fake, body: dict[str, Any]) -> None:
        self.fake = fake
        self.body = body
        self.completion_id = fake._id("chatcmpl")
        self.created = int(time.time())

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return sse(None, self.envelope([self.choice(delta, finish_reason)], usage=None))

    def envelope(self, choices: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        return {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.body.get("model"),
            "system_fingerprint": "fp_fake",
            "choices": choices,
            **fields,
        }

    @staticmethod
    def choice(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    def reply(self, reply: Reply) -> Iterator[bytes]:
        yield self.chunk({"role": "assistant", "content": "", "refusal": None})
        for thought in reply.thinking_chunks:  # vLLM / llama.cpp style reasoning deltas
            yield self.chunk({"reasoning_content": thought})
        for text in reply.text_chunks:
            yield self.chunk({"content": text})
        for index, call in enumerate(reply.tool_calls):
            call_id = call.call_id or self.fake._id("call")
            function = {"name": call.name, "arguments": ""}
            head = {"index": index, "id": call_id, "type": "function", "function": function}
            yield self.chunk({"tool_calls": [head]})
            for fragment in halves(arguments_text(call)):
                tail = {"index": index, "function": {"arguments": fragment}}
                yield self.chunk({"tool_calls": [tail]})
        yield self.chunk({}, reply.finish_reason)
        if (self.body.get("stream_options") or {}).get("include_usage"):
            yield sse(None, self.envelope([], usage=self.usage(reply)))
        yield sse(None, "[DONE]")

    @staticmethod
    def usage(reply: Reply) -> dict[str, Any]:
        return {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reply.thinking_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def complete(self, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(reply.text_chunks) or None,
            "refusal": None,
        }
        if reply.thinking_chunks:
            message["reasoning_content"] = "".join(reply.thinking_chunks)
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.call_id or self.fake._id("call"),
                    "type": "function",
                    "function": {"name": call.name, "arguments": arguments_text(call)},
                }
                for call in reply.tool_calls
            ]
        choice = {"index": 0, "message": message, "logprobs": None}
        return {
            **self.envelope([{**choice, "finish_reason": reply.finish_reason}]),
            "object": "chat.completion",
            "usage": self.usage(reply),
        }

    def malformed(self, step: Malformed) -> Iterator[bytes]:
        yield self.chunk({"role": "assistant", "content": step.text_before})
        yield b'data: {"id": "chatcmpl-broken", "choices": [{"delta": {"cont\n\n'
        yield b"\xff\xfe not a chunk \x00\n\n"

    def failure(self, failure: OpenAIFailure) -> Iterator[bytes]:
        yield self.chunk({"role": "assistant", "content": ""})
        if failure.text_before:
            yield self.chunk({"content": failure.text_before})
        error_type = failure.type or (
            "server_error" if failure.status >= 500 else "invalid_request_error"
        )
        error = {
            "message": failure.message,
            "type": error_type,
            "param": None,
            "code": failure.code,
        }
        yield sse(None, {"error": error})


# --- Client and inspection helpers -------------------------------------------------------------


def make_llm(
    fake: Fake,
    *,
    max_retries: int = 3,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    api: Literal["responses", "chat"] = "responses",
) -> LLM:
    config = LLMConfig(
        provider="openai",
        api_key="test-key",
        base_url=fake.url + "/v1",
        api=api,
        max_retries=max_retries,
    )
    return build_llm(config, sleep=sleep)


def is_chat(request: RecordedRequest) -> bool:
    return request.path.split("?", 1)[0] == CHAT_PATH


def body_of(request: RecordedRequest) -> dict[str, Any]:
    return request.body if isinstance(request.body, dict) else {}


def sent_tool_names(request: RecordedRequest) -> list[str]:
    tools = body_of(request).get("tools") or []
    if is_chat(request):
        return [tool["function"]["name"] for tool in tools if tool.get("type") == "function"]
    return [tool["name"] for tool in tools if tool.get("type") == "function"]


def output_text(output: Any) -> str:
    """A tool output as text: a string, or a list of content parts."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(str(part.get("text", "")) for part in output if isinstance(part, dict))
    return json.dumps(output)


def sent_tool_results(request: RecordedRequest) -> list[tuple[str, str]]:
    body = body_of(request)
    if is_chat(request):
        return [
            (message["tool_call_id"], output_text(message.get("content")))
            for message in body.get("messages") or []
            if message.get("role") == "tool"
        ]
    items = body.get("input")
    if not isinstance(items, list):
        return []
    return [
        (item["call_id"], output_text(item.get("output")))
        for item in items
        if item.get("type") == "function_call_output"
    ]


def sent_thinking(request: RecordedRequest) -> bool:
    body = body_of(request)
    return bool(body.get("reasoning_effort" if is_chat(request) else "reasoning"))


def sent_system(request: RecordedRequest) -> str | None:
    body = body_of(request)
    if not is_chat(request):
        return body.get("instructions")
    for message in body.get("messages") or []:
        if message.get("role") in ("system", "developer"):
            return output_text(message.get("content"))
    return None
