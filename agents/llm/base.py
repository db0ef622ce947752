"""One LLM interface for every provider: a request in, a stream of normalised events out.

Each provider module (`agents/llm/<provider>.py`) owns its SDK client and translates both ways;
nothing else imports a provider SDK, so quirks (thinking signatures, tool-call ids, usage fields)
end there. Providers subclass `ProviderLLM` and implement `_open_stream`; retries, backoff and
`Retry-After` handling live here, once, and happen only before the first event is yielded (a failure
mid-stream fails the turn: the caller may already have shown tokens to a user).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from agents.content import Part

#: Connections one LLM client may hold to its provider. The SDKs default to 1,000, which caps a
#: server at 1,000 concurrent streamed answers; one web process is meant to hold more.
MAX_PROVIDER_CONNECTIONS = 10_000

# --- Request -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of the conversation. Tool results travel in `user` messages, after the assistant
    message holding the calls they answer; providers regroup them as their API wants.
    """

    role: Literal["user", "assistant"]
    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: Mapping[str, Any]  # JSON Schema of the arguments object


@dataclass(frozen=True, slots=True)
class Thinking:
    budget_tokens: int = 1024
    effort: Literal["low", "medium", "high"] | None = None  # openai reasoning effort


@dataclass(frozen=True, slots=True)
class LLMRequest:
    messages: tuple[Message, ...]
    system: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    thinking: Thinking | None = None
    output_schema: Mapping[str, Any] | None = None  # ask for JSON matching this schema


# --- Stream events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str
    kind: Literal["text_delta"] = "text_delta"


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    """Reasoning text; the signature (when the provider gives one) arrives on the last delta."""

    text: str
    signature: str | None = None
    kind: Literal["thinking_delta"] = "thinking_delta"


@dataclass(frozen=True, slots=True)
class ToolCall:
    call_id: str
    name: str
    arguments: Mapping[str, Any]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    kind: Literal["usage"] = "usage"


FinishReason = Literal["stop", "tool_calls", "length", "content_filter", "other"]


@dataclass(frozen=True, slots=True)
class Finished:
    reason: FinishReason
    kind: Literal["finished"] = "finished"


LLMEvent = TextDelta | ThinkingDelta | ToolCall | Usage | Finished


# --- Errors ------------------------------------------------------------------------------------


class LLMError(Exception):
    """A provider call that failed. `message` is the provider's own words (never a credential)."""

    retryable = False

    def __init__(self, message: str, *, provider: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status

    def __str__(self) -> str:
        status = f" {self.status}" if self.status else ""
        return f"{self.provider}{status}: {self.message}"


class AuthenticationError(LLMError):
    """401/403: wrong or missing key. Never retried."""


class BadRequestError(LLMError):
    """4xx other than auth, rate limit and context length: the request itself is wrong."""


class ContextTooLongError(BadRequestError):
    """The prompt does not fit the model's context window."""


class RateLimitError(LLMError):
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = 429,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.retry_after_s = retry_after_s


class ProviderUnavailableError(LLMError):
    """5xx, 529, timeouts and connection errors: worth another try."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.retry_after_s = retry_after_s


class MalformedResponseError(LLMError):
    """The provider answered something the SDK or we could not make sense of. Not retried."""


# --- Interface ---------------------------------------------------------------------------------


class LLM(Protocol):
    provider: str
    model: str

    def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """SPEC 5.3: 1 s, 2 s, 4 s ... capped at 30 s, full jitter; `Retry-After` wins when given."""

    max_retries: int = 3
    initial_delay_s: float = 1.0
    max_delay_s: float = 30.0

    def delay_s(self, attempt: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.max_delay_s)
        ceiling = min(self.initial_delay_s * (2 ** (attempt - 1)), self.max_delay_s)
        return random.uniform(0, ceiling)


RetryObserver = Callable[[str, str, LLMError, float], None]
"""Called as (provider, model, error, delay_s) before each retry (metrics, logs)."""


class ProviderLLM:
    """Base of the provider adapters: retries around `_open_stream`, before the first event."""

    provider: str = "unknown"

    def __init__(
        self,
        *,
        model: str,
        retry: RetryPolicy | None = None,
        on_retry: RetryObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.model = model
        self.retry = retry or RetryPolicy()
        self._on_retry = on_retry
        self._sleep = sleep

    def _open_stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        """Provider-specific: call the SDK and translate its stream. Raise `LLMError`s."""
        raise NotImplementedError

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        attempt = 0
        while True:
            events = self._open_stream(request)
            try:
                first = await anext(events)
            except StopAsyncIteration:
                return
            except LLMError as error:
                await _close(events)
                attempt += 1
                if not error.retryable or attempt > self.retry.max_retries:
                    raise
                delay = self.retry.delay_s(attempt, getattr(error, "retry_after_s", None))
                if self._on_retry is not None:
                    self._on_retry(self.provider, self.model, error, delay)
                await self._sleep(delay)
                continue
            break
        try:
            yield first
            async for event in events:
                yield event
        finally:
            await _close(events)

    async def aclose(self) -> None:
        """Release the SDK client; providers override when they hold one."""


async def _close(events: AsyncIterator[LLMEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
