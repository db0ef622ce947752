"""A fake Ollama server: `POST /api/chat` as NDJSON (or one JSON object when `stream` is false).

Chunks follow what Ollama sends: `message` deltas with `content` / `thinking`, tool calls whole
in one chunk (Ollama never splits a call, and gives it no id the SDK keeps), then a final
`done: true` chunk with `done_reason` and the counters. Ollama says `done_reason: "stop"` after
tool calls too; only "length" differs. Errors are `{"error": "..."}` with the HTTP status.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from agents.llm.base import LLM
from agents.llm.config import LLMConfig
from agents.llm.factory import build_llm
from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response, ndjson, paced
from tests.fakes.script import Failure, Malformed, Reply, Script

VERSION = "0.12.6"
MODEL = "qwen3"


class Fake(FakeHTTPServer):
    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script

    def handle(self, request: RecordedRequest) -> Response:
        path = request.path.split("?", 1)[0]
        if request.method == "POST" and path == "/api/chat":
            return self._chat(request)
        if request.method == "GET" and path == "/api/tags":
            return Response(body={"models": [_model_entry(MODEL)]})
        if request.method == "GET" and path == "/api/version":
            return Response(body={"version": VERSION})
        if request.method == "GET" and path == "/":
            return _plain(200, "Ollama is running")
        return _plain(404, "404 page not found")

    def _chat(self, request: RecordedRequest) -> Response:
        body = request.json() if isinstance(request.json(), dict) else {}
        model = str(body.get("model") or MODEL)
        step = self.script.next_step()
        match step:
            case Failure(status=status, message=message, retry_after=retry_after):
                headers = {"Retry-After": retry_after} if retry_after else {}
                return Response(status=status, body={"error": message}, headers=headers)
            case Malformed(text_before=text_before):
                first = ndjson(_chunk(model, {"content": text_before}))
                return _ndjson_response([first, b'{"model": "' + model.encode() + b'", "mess\n'])
            case Reply() as reply:
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if body.get("stream", True) is False:  # Ollama streams unless told not to
                    return Response(body=_whole(model, reply))
                chunks = (ndjson(chunk) for chunk in _stream(model, reply))
                return _ndjson_response(paced(chunks, reply.chunk_delay_s))
        raise AssertionError(f"unknown script step {step!r}")


def _plain(status: int, text: str) -> Response:
    """A raw text body (Response.body is always JSON-encoded; a one-chunk stream is not)."""
    return Response(status=status, stream=[text.encode()], content_type="text/plain; charset=utf-8")


def _ndjson_response(chunks: Iterable[bytes]) -> Response:
    return Response(stream=chunks, content_type="application/x-ndjson")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _chunk(model: str, message: dict[str, Any], *, done: bool = False) -> dict[str, Any]:
    return {
        "model": model,
        "created_at": _now(),
        "message": {"role": "assistant", "content": "", **message},
        "done": done,
    }


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {"function": {"name": call.name, "arguments": dict(call.arguments)}}
        for call in reply.tool_calls
    ]


def _final(model: str, reply: Reply, message: dict[str, Any]) -> dict[str, Any]:
    return {
        **_chunk(model, message, done=True),
        "done_reason": "length" if reply.finish_reason == "length" else "stop",
        "total_duration": 1_200_000_000,
        "load_duration": 20_000_000,
        "prompt_eval_count": reply.input_tokens,
        "prompt_eval_duration": 80_000_000,
        # Ollama counts thinking tokens in eval_count.
        "eval_count": reply.output_tokens + reply.thinking_tokens,
        "eval_duration": 1_000_000_000,
    }


def _stream(model: str, reply: Reply) -> Iterator[dict[str, Any]]:
    for thinking in reply.thinking_chunks:
        yield _chunk(model, {"thinking": thinking})
    for text in reply.text_chunks:
        yield _chunk(model, {"content": text})
    if reply.tool_calls:
        yield _chunk(model, {"tool_calls": _tool_calls(reply)})
    yield _final(model, reply, {})


def _whole(model: str, reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"content": "".join(reply.text_chunks)}
    if reply.thinking_chunks:
        message["thinking"] = "".join(reply.thinking_chunks)
    if reply.tool_calls:
        message["tool_calls"] = _tool_calls(reply)
    return _final(model, reply, message)


def _model_entry(name: str) -> dict[str, Any]:
    return {
        "name": f"{name}:latest",
        "model": f"{name}:latest",
        "modified_at": "2025-05-01T10:00:00.000000Z",
        "size": 5_225_388_164,
        "digest": "500a1f067a9f782620b40bee6f7b0c89e17ae61f686b92c24933e4ca4b2b8b41",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": "qwen3",
            "families": ["qwen3"],
            "parameter_size": "8.2B",
            "quantization_level": "Q4_K_M",
        },
    }


# --- What the adapter built ---------------------------------------------------------------------


def make_llm(
    fake: Fake,
    *,
    max_retries: int = 3,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> LLM:
    config = LLMConfig(
        provider="ollama",
        model=MODEL,
        base_url=fake.url,
        api_key="test-key",
        max_retries=max_retries,
    )
    return build_llm(config, sleep=sleep)


def _messages(request: RecordedRequest) -> list[dict[str, Any]]:
    body = request.json()
    return list(body.get("messages") or []) if isinstance(body, dict) else []


def sent_tool_names(request: RecordedRequest) -> list[str]:
    body = request.json()
    tools = body.get("tools") or [] if isinstance(body, dict) else []
    return [tool["function"]["name"] for tool in tools]


def sent_tool_results(request: RecordedRequest) -> list[tuple[str, str]]:
    """(call id, text) per `tool` message. Ollama carries no ids, so the id is the one the adapter
    gave the call this message answers: `call_<turn>_<index>`, where turn is the position of the
    assistant message holding the calls (among assistant messages) and index the position of the
    first not-yet-answered call with the same `tool_name` in it: the pairing the model makes."""
    results: list[tuple[str, str]] = []
    turn = -1
    pending: list[tuple[int, str]] = []
    for message in _messages(request):
        role = message.get("role")
        if role == "assistant":
            turn += 1
            calls = message.get("tool_calls") or []
            pending = [(index, call["function"]["name"]) for index, call in enumerate(calls)]
        elif role == "tool":
            match = next((p for p in pending if p[1] == message.get("tool_name")), None)
            if match is None:
                results.append(("<unpaired>", str(message.get("content") or "")))
                continue
            pending.remove(match)
            results.append((f"call_{turn}_{match[0]}", str(message.get("content") or "")))
    return results


def sent_thinking(request: RecordedRequest) -> bool:
    body = request.json()
    return isinstance(body, dict) and bool(body.get("think"))


def sent_system(request: RecordedRequest) -> str | None:
    for message in _messages(request):
        if message.get("role") == "system":
            return str(message.get("content") or "")
    return None
