"""``guardrails.<set>``: input, output, tool and moderation checks (SPEC 11).

Agents reference a set by name. A check block that is present is on unless ``enabled: false``;
regular expressions are compiled here so a typo in a pattern fails ``hector validate`` instead
of the first request.
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from agents.config_base import NonEmptyStr, NonNegativeInt, PositiveInt, StrictModel, UnitFloat

__all__ = [
    "Action",
    "AuthorizationCheck",
    "ChainMode",
    "ContentCheck",
    "GuardrailsConfig",
    "InjectionCheck",
    "InputGuardrails",
    "LakeraModeration",
    "LengthCheck",
    "ModerationConfig",
    "OpenAIModeration",
    "OutputGuardrails",
    "PIICheck",
    "PatternCheck",
    "PromptModeration",
    "SanitizerCheck",
    "Severity",
    "ToolGuardrails",
]

Action = Literal["block", "warn", "modify", "redact"]
Severity = Literal["low", "medium", "high", "critical"]
ChainMode = Literal["fail_fast", "collect_all"]


def _compile_all(patterns: list[str], *, flags: int = 0) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern, flags)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return patterns


class _Check(StrictModel):
    enabled: bool = True
    action: Action = "block"
    severity: Severity = "medium"


class LengthCheck(_Check):
    min_length: NonNegativeInt = 1
    max_length: PositiveInt = 100_000

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_length > self.max_length:
            raise ValueError(
                f"min_length ({self.min_length}) exceeds max_length ({self.max_length})"
            )
        return self


class InjectionCheck(_Check):
    severity: Severity = "high"
    patterns: list[NonEmptyStr] = Field(
        default_factory=list, description="Added to the built-in phrases (regular expressions)."
    )
    case_sensitive: bool = False

    @field_validator("patterns")
    @classmethod
    def _compile(cls, patterns: list[str]) -> list[str]:
        return _compile_all(patterns)


class SanitizerCheck(StrictModel):
    """Always modifies, never blocks: no action or severity."""

    enabled: bool = True
    trim_whitespace: bool = True
    normalize_unicode: bool = Field(default=True, description="NFC.")
    strip_html: bool = False
    max_length: NonNegativeInt = Field(default=0, description="Truncate; 0 = no truncation.")


class PatternCheck(_Check):
    allow_patterns: list[NonEmptyStr] = Field(
        default_factory=list, description="Input must match one (when given)."
    )
    block_patterns: list[NonEmptyStr] = Field(default_factory=list)

    @field_validator("allow_patterns", "block_patterns")
    @classmethod
    def _compile(cls, patterns: list[str]) -> list[str]:
        return _compile_all(patterns)


class InputGuardrails(StrictModel):
    chain_mode: ChainMode | None = Field(default=None, description="Default: the set's.")
    length: LengthCheck | None = None
    injection: InjectionCheck | None = None
    sanitizer: SanitizerCheck | None = None
    pattern: PatternCheck | None = None


class PIICheck(_Check):
    action: Action = "modify"
    severity: Severity = "high"
    detect_email: bool = True
    detect_phone: bool = True
    detect_ssn: bool = True
    detect_credit_card: bool = Field(default=True, description="Luhn-checked.")
    custom_patterns: dict[str, str] = Field(
        default_factory=dict, description="name -> regular expression."
    )
    redact_mode: Literal["mask", "remove", "hash"] = "mask"

    @field_validator("custom_patterns")
    @classmethod
    def _compile(cls, patterns: dict[str, str]) -> dict[str, str]:
        _compile_all(list(patterns.values()))
        return patterns


class ContentCheck(_Check):
    severity: Severity = "high"
    blocked_keywords: list[NonEmptyStr] = Field(default_factory=list)
    blocked_patterns: list[NonEmptyStr] = Field(default_factory=list)

    @field_validator("blocked_patterns")
    @classmethod
    def _compile(cls, patterns: list[str]) -> list[str]:
        return _compile_all(patterns)


class OutputGuardrails(StrictModel):
    chain_mode: ChainMode | None = None
    pii: PIICheck | None = None
    content: ContentCheck | None = None


class AuthorizationCheck(_Check):
    severity: Severity = "high"
    allowed_tools: list[NonEmptyStr] | None = Field(default=None, description="Globs.")
    blocked_tools: list[NonEmptyStr] = Field(default_factory=list, description="Globs.")


class ToolGuardrails(StrictModel):
    chain_mode: ChainMode | None = None
    authorization: AuthorizationCheck | None = None


class OpenAIModeration(StrictModel):
    model: NonEmptyStr = "omni-moderation-latest"
    threshold: UnitFloat = 0.8
    api_key: str | None = Field(default=None, description="Default: OPENAI_API_KEY.")
    base_url: str | None = None


class LakeraModeration(StrictModel):
    api_key: str | None = Field(default=None, description="Default: LAKERA_API_KEY.")
    threshold: UnitFloat = 0.5
    project_id: str | None = None
    endpoint: str | None = None
    breakdown: bool = False


class PromptModeration(StrictModel):
    llm: str | None = Field(default=None, description="Default: the agent's LLM.")
    prompt: str | None = Field(default=None, description="Use {input} for the checked text.")
    threshold: UnitFloat = 0.5
    safe_field: NonEmptyStr = "safe"


class ModerationConfig(StrictModel):
    enabled: bool = True
    strategy: Literal["openai", "lakera", "prompt"] = "openai"
    apply_to: Literal["input", "output", "both"] = "input"
    action: Literal["block", "warn"] = "block"
    severity: Severity = "high"
    fail_open: bool = Field(default=False, description="On provider failure: false = block.")
    openai: OpenAIModeration = Field(default_factory=OpenAIModeration)
    lakera: LakeraModeration = Field(default_factory=LakeraModeration)
    prompt: PromptModeration = Field(default_factory=PromptModeration)


class GuardrailsConfig(StrictModel):
    enabled: bool = True
    chain_mode: ChainMode = "fail_fast"
    input: InputGuardrails | None = None
    output: OutputGuardrails | None = None
    tool: ToolGuardrails | None = None
    moderation: ModerationConfig | None = None
