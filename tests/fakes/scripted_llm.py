"""`ScriptedLLM`: our `LLM` interface, in process, over the same `Script`/`Reply` steps as the
wire-level fakes.

It fakes the interface the runner consumes, not a provider SDK: unit tests of the runner and the
benchmarks get zero-latency, deterministic turns, while the provider adapters are tested through
their real SDKs against `tests/fakes/<provider>_server.py`. Every `LLMRequest` is recorded so a
test can assert exactly what the runner asked (system prompt, history, tools, thinking).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable
from typing import Literal

from agents.llm.base import (
    AuthenticationError,
    BadRequestError,
    Finished,
    LLMError,
    LLMEvent,
    LLMRequest,
    MalformedResponseError,
    ProviderUnavailableError,
    RateLimitError,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    Usage,
)
from tests.fakes.script import Failure, Malformed, Reply, Script, Step

FINISH_REASONS: dict[str, Literal["stop", "tool_calls", "length", "content_filter", "other"]] = {
    "stop": "stop",
    "tool_calls": "tool_calls",
    "length": "length",
    "content_filter": "content_filter",
}


class ScriptedLLM:
    """Serves one script step per `stream()` call.

    `requests` holds what was asked; `streams_closed_early` counts streams abandoned before
    their end (cancellation tests); `closed` tells whether `aclose()` was called.
    """

    provider = "scripted"

    def __init__(self, script: Script | Iterable[Step], *, model: str = "scripted-model") -> None:
        self.script = script if isinstance(script, Script) else Script.of(*script)
        self.model = model
        self.requests: list[LLMRequest] = []
        self.streams_closed_early = 0
        self.closed = False
        self._call_ids = itertools.count(1)

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        self.requests.append(request)
        step = self.script.next_step()
        finished = False
        try:
            async for event in self._events(step):
                yield event
            finished = True
        finally:
            if not finished:
                self.streams_closed_early += 1

    async def _events(self, step: Step) -> AsyncIterator[LLMEvent]:
        match step:
            case Failure():
                raise _error(step)
            case Malformed(text_before=text_before):
                yield TextDelta(text_before)
                raise MalformedResponseError("unparseable stream chunk", provider=self.provider)
            case Reply():
                if step.delay_s:
                    await asyncio.sleep(step.delay_s)
                async for event in self._reply(step):
                    yield event

    async def _reply(self, reply: Reply) -> AsyncIterator[LLMEvent]:
        chunks: list[LLMEvent] = []
        thinking = reply.thinking_chunks
        for index, text in enumerate(thinking):
            last = index == len(thinking) - 1
            chunks.append(ThinkingDelta(text, reply.thinking_signature if last else None))
        chunks.extend(TextDelta(text) for text in reply.text_chunks)
        for call in reply.tool_calls:
            call_id = call.call_id or f"call_{next(self._call_ids)}"
            chunks.append(ToolCall(call_id, call.name, dict(call.arguments)))
        for index, event in enumerate(chunks):
            if index and reply.chunk_delay_s:
                await asyncio.sleep(reply.chunk_delay_s)
            yield event
        yield Usage(reply.input_tokens, reply.output_tokens, reply.thinking_tokens)
        yield Finished(FINISH_REASONS.get(reply.finish_reason, "other"))

    async def aclose(self) -> None:
        self.closed = True


def _error(failure: Failure) -> LLMError:
    """The typed error a provider adapter raises for this HTTP status (after its retries)."""
    provider = ScriptedLLM.provider
    status = failure.status
    if status in (401, 403):
        return AuthenticationError(failure.message, provider=provider, status=status)
    if status == 429:
        return RateLimitError(failure.message, provider=provider)
    if 400 <= status < 500:
        return BadRequestError(failure.message, provider=provider, status=status)
    return ProviderUnavailableError(failure.message, provider=provider, status=status)
