"""`llms.<name>` config -> a provider adapter; SDKs are imported only when used."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from agents.llm.base import LLM, RetryObserver, RetryPolicy, Thinking
from agents.llm.config import LLMConfig

#: Set by the test suite: any LLM not pointed at a loopback fake is refused (no real requests).
REFUSE_REMOTE_ENV = "HECTOR_LLM_LOOPBACK_ONLY"


class RemoteLLMRefused(RuntimeError):
    pass


def _check_loopback(provider: str, base_url: str | None) -> None:
    if not os.environ.get(REFUSE_REMOTE_ENV):
        return
    host = urlsplit(base_url).hostname if base_url else None
    try:
        if host == "localhost" or (host and ipaddress.ip_address(host).is_loopback):
            return
    except ValueError:
        pass
    raise RemoteLLMRefused(
        f"{provider}: refusing {base_url or 'the provider default URL'} under test; "
        "point base_url at a fake server"
    )


def build_llm(
    config: LLMConfig,
    *,
    on_retry: RetryObserver | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> LLM:
    provider = config.provider
    # Both are filled by LLMConfig defaults.
    assert provider is not None
    assert config.model is not None
    _check_loopback(provider, config.base_url)
    common: dict[str, Any] = {
        "model": config.model,
        "api_key": config.api_key,
        "base_url": config.base_url,
        "timeout_s": float(config.timeout),
        "retry": RetryPolicy(max_retries=config.max_retries),
        "on_retry": on_retry,
        "sleep": sleep,
    }
    if provider == "anthropic":
        from agents.llm.anthropic import AnthropicLLM

        return AnthropicLLM(**common)
    if provider == "openai":
        from agents.llm.openai import OpenAILLM

        return OpenAILLM(api=config.api, **common)
    if provider == "gemini":
        from agents.llm.gemini import GeminiLLM

        return GeminiLLM(**common)
    if provider == "ollama":
        from agents.llm.ollama import OllamaLLM

        return OllamaLLM(**common)
    raise ValueError(f"unknown provider {provider!r}")


def thinking_of(config: LLMConfig) -> Thinking | None:
    """The request-level thinking settings an LLM config asks for."""
    if config.thinking is not None and config.thinking.enabled:
        return Thinking(budget_tokens=config.thinking.budget_tokens, effort=config.reasoning_effort)
    if config.reasoning_effort:
        return Thinking(effort=config.reasoning_effort)
    return None
