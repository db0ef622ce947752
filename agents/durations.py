"""Durations in config: Go-style strings (``500ms``, ``30s``, ``1h30m``) or whole seconds.

One type for every duration key, so all of them accept the same spellings and report the same
error. A ``Duration`` *is* a float of seconds (arithmetic and comparisons just work) and keeps the
text it came from, which is what the expanded config prints back: ``timeout: 2m`` stays ``2m``
instead of turning into ``120.0``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = ["DURATION_PATTERN", "Duration", "parse_duration"]

_UNIT_SECONDS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_UNIT = r"(?:ns|us|µs|μs|ms|s|m|h)"
_PART = re.compile(rf"({_NUMBER})({_UNIT})")
_GO_DURATION = re.compile(rf"^(?:{_NUMBER}{_UNIT})+$")
_WHOLE_SECONDS = re.compile(r"^[0-9]+$")

#: JSON Schema pattern for the string form (Go-style or whole seconds as text).
DURATION_PATTERN = rf"^(?:(?:{_NUMBER}{_UNIT})+|[0-9]+)$"


def _invalid(value: object) -> ValueError:
    return ValueError(
        f"invalid duration {value!r} (use e.g. 500ms, 30s, 5m, 1h30m, or whole seconds)"
    )


def parse_duration(value: object) -> Duration:
    """Parse a config duration; raise ``ValueError`` naming the bad value.

    Accepted: a non-negative ``int`` (seconds), a string of digits (seconds, e.g. from
    ``${TIMEOUT:30}``), or a Go duration string. Booleans, floats and negative values are
    refused: ``timeout: 1.5`` is ambiguous to a reader, ``1500ms`` is not.
    """
    if isinstance(value, Duration):
        return value
    if isinstance(value, bool):
        raise _invalid(value)
    if isinstance(value, int):
        if value < 0:
            raise _invalid(value)
        return Duration(float(value), str(value) if value == 0 else f"{value}s")
    if not isinstance(value, str):
        raise _invalid(value)
    text = value.strip()
    if _WHOLE_SECONDS.match(text):
        return Duration(float(int(text)), f"{int(text)}s")
    if not _GO_DURATION.match(text):
        raise _invalid(value)
    seconds = sum(float(num) * _UNIT_SECONDS[unit] for num, unit in _PART.findall(text))
    return Duration(seconds, text)


class Duration(float):
    """Seconds as a float, remembering the user's spelling in ``text``."""

    text: str

    def __new__(cls, seconds: float, text: str | None = None) -> Duration:
        obj = super().__new__(cls, seconds)
        obj.text = text if text is not None else _format(seconds)
        return obj

    @classmethod
    def of(cls, value: str | int) -> Duration:
        """Build a default from its text, e.g. ``Duration.of("30s")``."""
        return parse_duration(value)

    @property
    def seconds(self) -> float:
        return float(self)

    def as_timedelta(self) -> timedelta:
        return timedelta(seconds=float(self))

    def __repr__(self) -> str:
        return f"Duration({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __reduce__(self) -> tuple[Any, ...]:
        return (Duration, (float(self), self.text))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            parse_duration,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda d: d.text if isinstance(d, Duration) else d
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "integer", "minimum": 0},
            ],
            "description": "Duration: Go-style string (500ms, 30s, 5m, 1h30m) or whole seconds.",
        }


def _format(seconds: float) -> str:
    """Lean Go-style text for a number of seconds (used when no text was given)."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        millis = seconds * 1000
        return f"{millis:g}ms"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if secs:
        out += f"{secs}s"
    return out
