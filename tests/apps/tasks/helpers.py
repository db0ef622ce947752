"""Builders and a gated LLM for the task tests.

`GatedLLM` streams scripted turns and stops at each `PAUSE` until the test calls `resume()`, so a
test decides exactly where a run is (mid-answer, inside a tool round) without sleeping.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from asgiref.sync import async_to_sync

from agents.content import TextPart
from agents.llm.base import Finished, LLMEvent, LLMRequest, TextDelta, ToolCall, Usage
from agents.tasks import TaskMessage

PAUSE = object()

Turn = Sequence[LLMEvent | object]


def user_message(
    text: str = "Hello",
    *,
    context_id: str | None = None,
    task_id: str | None = None,
    **fields: Any,
) -> TaskMessage:
    return TaskMessage(
        message_id=uuid.uuid4().hex,
        role="user",
        parts=(TextPart(text),),
        context_id=context_id,
        task_id=task_id,
        **fields,
    )


def drive(scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async scenario from a sync test: its ORM hops run on this thread, in the test's
    transaction (pytest-django's transaction lives on the main thread)."""

    async def run() -> Any:
        return await scenario()

    return async_to_sync(run)()


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout_s: float = 5.0) -> None:
    """Poll until check() is true; the timeout error points at the waiting test."""
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110  # the condition is a query, not an event
            await asyncio.sleep(0.01)


def text_turn(*chunks: str) -> list[LLMEvent | object]:
    return [*(TextDelta(c) for c in chunks), Usage(3, 2), Finished("stop")]


def tool_turn(name: str, arguments: dict[str, Any], call_id: str = "call-1") -> list[LLMEvent]:
    return [ToolCall(call_id, name, arguments), Usage(3, 2), Finished("tool_calls")]


class GatedLLM:
    """Serves one turn per `stream()` call; waits at each PAUSE until `resume()`."""

    provider = "gated"
    model = "gated-model"

    def __init__(self, turns: Iterable[Turn]) -> None:
        self.turns: deque[Turn] = deque(turns)
        self.requests: list[LLMRequest] = []
        self.closed_early = 0
        self._paused = asyncio.Event()
        self._resume = asyncio.Event()

    async def wait_paused(self, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            await self._paused.wait()
        self._paused.clear()

    def resume(self) -> None:
        self._resume.set()

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        self.requests.append(request)
        turn = self.turns.popleft() if self.turns else text_turn("(no more turns)")
        finished = False
        try:
            for item in turn:
                if item is PAUSE:
                    self._paused.set()
                    await self._resume.wait()
                    self._resume.clear()
                    continue
                yield item  # type: ignore[misc]  # a turn holds LLM events and PAUSE markers
            finished = True
        finally:
            if not finished:
                self.closed_early += 1

    async def aclose(self) -> None:
        return None
