"""``${VAR}`` interpolation and ``.env`` files (SPEC 2.2).

Interpolation runs once, on a copy of the document, just before validation; the stored (lean)
document keeps the ``${...}`` text so secrets never reach the database. ``$${VAR}`` writes a
literal ``${VAR}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from agents.config_yaml import Path

__all__ = ["MissingVariable", "interpolate", "interpolate_text", "parse_dotenv", "read_dotenv"]

_REFERENCE = re.compile(
    r"\$\$\{|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<sep>:-?)(?P<default>[^}]*))?\}"
)


@dataclass(frozen=True, slots=True)
class MissingVariable:
    path: Path
    name: str


def interpolate_text(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Resolve the references in one string; also return the names that had no value.

    ``${VAR:default}`` and ``${VAR:-default}`` use the default when VAR is unset *or empty*;
    plain ``${VAR}`` set to "" resolves to "" (it is set).
    """
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name = match.group("name")
        value = env.get(name)
        if match.group("sep") is not None:
            return value if value else match.group("default")
        if value is None:
            missing.append(name)
            return ""
        return value

    return _REFERENCE.sub(replace, text), missing


def interpolate(data: Any, env: Mapping[str, str]) -> tuple[Any, list[MissingVariable]]:
    """Copy ``data`` with every string value interpolated (keys are left alone)."""
    missing: list[MissingVariable] = []

    def visit(value: Any, path: Path) -> Any:
        if isinstance(value, str):
            resolved, names = interpolate_text(value, env)
            missing.extend(MissingVariable(path, name) for name in names)
            return resolved
        if isinstance(value, dict):
            return {key: visit(item, (*path, str(key))) for key, item in value.items()}
        if isinstance(value, list):
            return [visit(item, (*path, index)) for index, item in enumerate(value)]
        return value

    return visit(data, ()), missing


_DOTENV_LINE = re.compile(
    r"^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(?P<value>.*?)\s*$"
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), raw[1:-1])
    return re.split(r"\s+#", raw, maxsplit=1)[0].rstrip()


def parse_dotenv(text: str) -> dict[str, str]:
    """Parse ``KEY=value`` lines (``export``, quotes, ``#`` comments); malformed lines are skipped.

    Quoted values may not span lines; that keeps the parser small and matches what most .env
    files contain. Later assignments win, as in a shell.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if match:
            values[match.group("key")] = _unquote(match.group("value"))
    return values


def read_dotenv(path: str | FsPath) -> dict[str, str]:
    """Variables of the ``.env`` file at ``path``; {} when there is none."""
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return {}
    return parse_dotenv(text)
