"""Errors of the ``agents`` package, each with a stable ``code`` (STYLE.md section 3).

``hector_site/errors.py`` maps these to HTTP statuses; nothing here knows about HTTP.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ConfigError", "ConfigIssue", "HectorError"]


class HectorError(Exception):
    """Base of the runtime's errors; ``code`` is a stable snake_case identifier."""

    code: str = "error"


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a config document, located as a person would look for it.

    ``path`` is dotted as typed in YAML (``agents.writer.llm``, ``tools.fs.filter[0]``; empty
    for the document itself); ``line``/``column`` are 1-based, None when the document did not
    come from YAML text (e.g. JSON through the Admin API).
    """

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ConfigError(HectorError):
    """A config document failed to load; ``errors`` holds every problem found, in file order."""

    code = "config_invalid"

    def __init__(self, errors: list[ConfigIssue], *, source: str | None = None) -> None:
        self.errors = list(errors)
        self.source = source
        super().__init__(self._summary())

    def _summary(self) -> str:
        if not self.errors:
            return "invalid configuration"
        first = self.errors[0]
        text = f"{first.path}: {first.message}" if first.path else first.message
        more = len(self.errors) - 1
        return f"{text} (and {more} more)" if more else text
