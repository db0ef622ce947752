"""``llms.<name>``: one LLM provider connection (SPEC 5.1).

Provider, model, API key and base URL have defaults that depend on each other and on the
environment, so they are filled after the user's values are validated: an absent ``provider`` is
detected from which API key is set (SPEC 1.2 order), an absent ``model`` comes from the provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from agents.config_base import PositiveInt, StrictModel, context_env, set_defaults
from agents.durations import Duration

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "LLMConfig",
    "Provider",
    "ThinkingConfig",
    "api_key_env_var",
    "detect_provider",
    "provider_api_key",
]

Provider = Literal["anthropic", "openai", "gemini", "ollama"]

DEFAULT_MODEL: dict[str, str] = {
    "anthropic": "claude-haiku-4-5",
    "openai": "gpt-4o",
    "gemini": "gemini-2.5-pro",
    "ollama": "qwen3",
}
DEFAULT_BASE_URL: dict[str, str] = {"ollama": "http://localhost:11434"}
DEFAULT_MAX_TOKENS = 4096

#: Environment variables holding each provider's key, in lookup order.
API_KEY_ENV: dict[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "ollama": (),
}


def detect_provider(env: Mapping[str, str]) -> Provider:
    """SPEC 1.2: ANTHROPIC_API_KEY -> anthropic, OPENAI_API_KEY -> openai,
    GEMINI_API_KEY -> gemini, else ollama (local, needs no key)."""
    if env.get("ANTHROPIC_API_KEY"):
        return "anthropic"
    if env.get("OPENAI_API_KEY"):
        return "openai"
    if env.get("GEMINI_API_KEY"):
        return "gemini"
    return "ollama"


def api_key_env_var(provider: str) -> str | None:
    """The canonical variable for a provider's key (what placeholders name), None for ollama."""
    names = API_KEY_ENV.get(provider, ())
    return names[0] if names else None


def provider_api_key(provider: str, env: Mapping[str, str]) -> str | None:
    for name in API_KEY_ENV.get(provider, ()):
        if env.get(name):
            return env[name]
    return None


class ThinkingConfig(StrictModel):
    """Extended thinking. Present means on unless ``enabled: false``."""

    enabled: bool = True
    budget_tokens: PositiveInt = 1024


class LLMConfig(StrictModel):
    provider: Provider | None = Field(
        default=None, description="anthropic, openai, gemini or ollama; detected from env keys."
    )
    model: str | None = Field(default=None, description="Defaults per provider.")
    api_key: str | None = Field(
        default=None, description="Use ${ANTHROPIC_API_KEY}-style placeholders; never inline."
    )
    base_url: str | None = None
    api: Literal["responses", "chat"] = Field(
        default="responses",
        description="openai only: Responses API, or Chat Completions for compatible servers.",
    )
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: PositiveInt | None = Field(
        default=None,
        description="Default 4096; with thinking and no max_tokens, budget_tokens + 4096.",
    )
    max_tool_output_length: int = Field(default=0, ge=0, description="0 = unlimited.")
    thinking: ThinkingConfig | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    timeout: Duration = Duration.of("120s")
    max_retries: int = Field(default=3, ge=0)

    @field_validator("thinking")
    @classmethod
    def _budget_below_max_tokens(
        cls, thinking: ThinkingConfig | None, info: ValidationInfo
    ) -> ThinkingConfig | None:
        max_tokens = info.data.get("max_tokens")
        if (
            thinking is not None
            and thinking.enabled
            and isinstance(max_tokens, int)
            and thinking.budget_tokens >= max_tokens
        ):
            raise ValueError(
                f"budget_tokens ({thinking.budget_tokens}) must be less than "
                f"max_tokens ({max_tokens})"
            )
        return thinking

    @field_validator("api")
    @classmethod
    def _api_is_openai_only(cls, api: str, info: ValidationInfo) -> str:
        if info.data.get("provider") not in (None, "openai"):
            raise ValueError("api is only supported for provider openai")
        return api

    @model_validator(mode="after")
    def _provider_defaults(self, info: ValidationInfo) -> Self:
        env = context_env(info)
        provider = self.provider or detect_provider(env)
        max_tokens = self.max_tokens or DEFAULT_MAX_TOKENS
        if self.thinking is not None and self.thinking.enabled and self.max_tokens is None:
            # Providers require room for the answer beyond the thinking budget; the README's
            # own example sets budget_tokens: 4096 without max_tokens.
            max_tokens = max(max_tokens, self.thinking.budget_tokens + DEFAULT_MAX_TOKENS)
        set_defaults(
            self,
            max_tokens=max_tokens,
            provider=provider,
            model=self.model or DEFAULT_MODEL[provider],
            base_url=self.base_url or DEFAULT_BASE_URL.get(provider),
            api_key=self.api_key or provider_api_key(provider, env),
        )
        return self

    @property
    def needs_api_key(self) -> bool:
        """Hosted providers need a key; a custom ``base_url`` may be a keyless local server."""
        return self.provider != "ollama" and not self.base_url
