"""Provider-neutral scripts for the fake LLM servers: "these deltas, a tool call, then a 429".

Each fake translates the same steps into its provider's wire protocol, so one behavioural test set
runs against every provider through its real SDK.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScriptedToolCall:
    name: str
    arguments: Mapping[str, Any]
    call_id: str | None = None  # the fake invents one when absent


@dataclass(frozen=True)
class Reply:
    """One successful model turn. `text` chunks are streamed as separate deltas, in order."""

    text: Sequence[str] | str = ()
    thinking: Sequence[str] | str = ()
    thinking_signature: str = "sig-fake-thinking"
    tool_calls: Sequence[ScriptedToolCall] = ()
    input_tokens: int = 11
    output_tokens: int = 7
    thinking_tokens: int = 0
    finish: str | None = None  # provider-neutral: stop | tool_calls | length; derived when None
    delay_s: float = 0.0  # before the response starts
    chunk_delay_s: float = 0.0  # between streamed chunks

    @property
    def text_chunks(self) -> list[str]:
        return [self.text] if isinstance(self.text, str) and self.text else list(self.text or [])

    @property
    def thinking_chunks(self) -> list[str]:
        if isinstance(self.thinking, str):
            return [self.thinking] if self.thinking else []
        return list(self.thinking)

    @property
    def finish_reason(self) -> str:
        return self.finish or ("tool_calls" if self.tool_calls else "stop")


@dataclass(frozen=True)
class Failure:
    """An HTTP error in the provider's own error body shape."""

    status: int
    message: str = "scripted failure"
    retry_after: str | None = None


@dataclass(frozen=True)
class Malformed:
    """A stream that starts well and then turns into bytes no SDK can parse."""

    text_before: str = "partial "


Step = Reply | Failure | Malformed


@dataclass
class Script:
    """Steps served in order, one per model request; thread-safe (servers run in threads)."""

    steps: deque[Step] = field(default_factory=deque)
    default: Step | None = None  # served when the steps run out; None -> a 500 "script exhausted"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, *steps: Step, default: Step | None = None) -> Script:
        return cls(deque(steps), default)

    def extend(self, steps: Iterable[Step]) -> None:
        with self._lock:
            self.steps.extend(steps)

    def next_step(self) -> Step:
        with self._lock:
            if self.steps:
                return self.steps.popleft()
        return self.default or Failure(500, "fake script exhausted")


class SleepRecorder:
    """Stands in for asyncio.sleep so retry delays are asserted, not waited out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
