"""Shared building blocks of the config models (every section's ``config.py`` uses these).

Kept apart from ``agents/config.py`` so that ``tools``, ``rag`` and ``guardrails`` can define
their sections without importing the root document that composes them (no import cycle).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo

__all__ = [
    "NonEmptyStr",
    "NonNegativeInt",
    "PositiveInt",
    "StrictModel",
    "UnitFloat",
    "context_env",
    "set_defaults",
]


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors and values are immutable.

    ``coerce_numbers_to_str`` lets ``model: 3`` or a header value ``5`` through as text; the
    reverse (text to numbers) is pydantic's normal lax parsing, which ``${PORT:8080}`` needs,
    because interpolation always produces strings.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
        validate_by_name=True,
        validate_by_alias=True,
    )


NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
UnitFloat = Annotated[float, Field(ge=0.0, le=1.0)]


def context_env(info: ValidationInfo) -> Mapping[str, str]:
    """The environment the loader validates against (``os.environ`` when none was passed).

    Provider auto-detection and default API keys depend on the environment; passing it through
    the validation context keeps tests and hot reloads independent of the process env.
    """
    context = info.context
    if isinstance(context, Mapping):
        env = context.get("env")
        if isinstance(env, Mapping):
            return env
    return os.environ


def set_defaults(instance: BaseModel, /, **values: Any) -> None:
    """Fill computed defaults on a frozen model from inside its own ``after`` validator.

    Only for values derived while validating (the instance is not shared yet). The fields are
    not added to ``model_fields_set``, so that set keeps meaning "what the user wrote".
    """
    for name, value in values.items():
        object.__setattr__(instance, name, value)
