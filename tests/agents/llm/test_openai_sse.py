"""The OpenAI adapter reads the streamed body itself (`SSEReader`), not through the SDK's
`AsyncStream`: the SSE framing it must get right, and a connection lost mid-body."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from agents.llm.base import MalformedResponseError, ProviderUnavailableError, RetryPolicy, TextDelta
from agents.llm.openai import OpenAILLM, SSEReader
from tests.agents.llm.test_openai import events_until_failure
from tests.agents.llm.test_provider_behaviour import ask

BODY = (
    b'event: x\ndata: {"a": 1}\n\n'
    b": a comment\n"
    b'data:{"b":\ndata: 2}\n\n'  # two data lines, one without the space
    b"data: [1]\n\n"  # JSON, not an object: dropped
    b"id: 5\n\n"  # no data: no event
    b"data: [DONE]\n\n"
    b'data: {"after": "done"}\n\n'
)


def read(chunks: list[bytes]) -> tuple[list[dict[str, Any]], bool]:
    reader = SSEReader()
    payloads = [payload for chunk in chunks for payload in reader.feed(chunk)]
    return payloads, reader.done


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
@pytest.mark.parametrize("size", [1, 2, 5, 1000])
def test_events_survive_any_line_ending_and_any_chunking(newline: bytes, size: int) -> None:
    body = BODY.replace(b"\n", newline)
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    assert read(chunks) == ([{"a": 1}, {"b": 2}], True)


def test_unicode_line_separators_stay_inside_the_json() -> None:
    payloads, _ = read(['data: {"t": "a\u2028b\u0085c"}\n\n'.encode()])
    assert payloads == [{"t": "a\u2028b\u0085c"}]


def test_an_event_never_ended_is_dropped() -> None:
    assert read([b'data: {"a": 1}\n\ndata: {"b": 2}\n']) == ([{"a": 1}], False)


@pytest.mark.parametrize("line", [b'data: {"cont', b"\xff\xfe not an event \x00"])
def test_bytes_that_are_not_json_or_utf8_are_malformed(line: bytes) -> None:
    with pytest.raises(MalformedResponseError, match="unreadable stream"):
        read([line + b"\n\n"])


async def test_connection_lost_mid_body_is_unavailable() -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]}
    frame = b"data: " + json.dumps(chunk).encode() + b"\n\n"
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(head + b"\r\n" + f"{len(frame):x}\r\n".encode() + frame + b"\r\n5\r\nda")
        await writer.drain()
        writer.close()  # the chunked body is cut short

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    llm = OpenAILLM(
        model="m",
        api="chat",
        base_url=f"http://127.0.0.1:{port}/v1",
        retry=RetryPolicy(max_retries=0),
    )
    try:
        seen, error = await events_until_failure(llm, ask("Hi"))
    finally:
        await llm.aclose()
        server.close()
        await server.wait_closed()
    assert seen == [TextDelta("Hel")]
    assert isinstance(error, ProviderUnavailableError)
    assert "Connection error" in error.message
