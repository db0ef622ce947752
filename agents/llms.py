"""LLM config builders for the Python API: `llms.anthropic(api_key=..., model=...)` and friends.

Each returns a validated `LLMConfig`, the same object a YAML `llms.<name>` entry becomes, so
defaults (model per provider, API key from the environment, max_tokens with thinking) and
validation errors are exactly those of a config file. Options left as None take the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ValidationError

from agents.config_errors import format_path
from agents.durations import Duration
from agents.errors import ConfigError, ConfigIssue
from agents.llm.config import LLMConfig, ThinkingConfig

__all__ = ["anthropic", "gemini", "ollama", "openai"]

Thinking = bool | int | ThinkingConfig | Mapping[str, Any] | None
Timeout = str | int | float | Duration | None


def anthropic(
    *,
    api_key: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    thinking: Thinking = None,
    **options: Any,
) -> LLMConfig:
    """Claude through the Messages API; key from `ANTHROPIC_API_KEY` when not given."""
    return _llm("anthropic", api_key, model, base_url, thinking, options)


def openai(
    *,
    api_key: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    api: Literal["responses", "chat"] | None = None,
    reasoning_effort: Literal["low", "medium", "high"] | None = None,
    **options: Any,
) -> LLMConfig:
    """OpenAI (Responses API), or `api="chat"` for OpenAI-compatible servers."""
    options.update(api=api, reasoning_effort=reasoning_effort)
    return _llm("openai", api_key, model, base_url, None, options)


def gemini(
    *,
    api_key: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    thinking: Thinking = None,
    **options: Any,
) -> LLMConfig:
    """Gemini through google-genai; key from `GEMINI_API_KEY` (or `GOOGLE_API_KEY`)."""
    return _llm("gemini", api_key, model, base_url, thinking, options)


def ollama(
    *,
    model: str | None = None,
    base_url: str | None = None,
    thinking: Thinking = None,
    **options: Any,
) -> LLMConfig:
    """A local Ollama server (default `http://localhost:11434`); no key needed."""
    return _llm("ollama", None, model, base_url, thinking, options)


def _llm(
    provider: str,
    api_key: str | None,
    model: str | None,
    base_url: str | None,
    thinking: Thinking,
    options: dict[str, Any],
) -> LLMConfig:
    """Options are the other `llms.<name>` keys: temperature, max_tokens, timeout (a duration
    string or seconds), max_retries, max_tool_output_length."""
    data: dict[str, Any] = {
        "provider": provider,
        "api_key": api_key,
        "model": model,
        "base_url": base_url,
        "thinking": _thinking(thinking),
        **options,
    }
    timeout = data.get("timeout")
    if isinstance(timeout, float) and not isinstance(timeout, Duration):
        data["timeout"] = Duration(timeout)
    try:
        return LLMConfig.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        issues = [
            ConfigIssue(format_path(error["loc"]), error["msg"])
            for error in exc.errors(include_url=False)
        ]
        raise ConfigError(issues, source=f"llms.{provider}()") from None


def _thinking(value: Thinking) -> Any:
    """`thinking=True` turns it on with the default budget; an int is the budget in tokens."""
    if value is None or isinstance(value, ThinkingConfig | Mapping):
        return value
    if isinstance(value, bool):
        return {"enabled": value}
    return {"enabled": True, "budget_tokens": value}
