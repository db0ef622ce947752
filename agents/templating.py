"""Instruction templating (SPEC 4.4): `{var}`, `{app:var}`, `{user:var}`, `{temp:var}`,
`{artifact.NAME}`, each optionally suffixed with `?`.

Only that exact grammar is a placeholder; everything else (JSON braces, `{{x}}`, `{ spaced }`,
Go-template `{{.Date}}`) is left verbatim, so instructions can carry JSON examples without
escaping. Resolution is async because artifacts live in the session store; every artifact the
template names is loaded once, before substitution, so a missing one fails the whole render
instead of leaving a half-rendered prompt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agents.errors import HectorError
from agents.sessions import Artifact

__all__ = ["ArtifactLoader", "TemplateError", "placeholders", "render_instruction"]

ArtifactLoader = Callable[[str], Awaitable[Artifact | None]]
"""Loads the latest version of an artifact by name (None when there is none)."""

_IDENT = r"[A-Za-z0-9_]+"
# Not preceded by `{`: `{{x}}` is literal text, while `{"a": {x}}` still resolves `{x}`.
_PLACEHOLDER = re.compile(
    r"(?<!\{)\{"
    rf"(?:artifact\.(?P<artifact>{_IDENT}(?:\.{_IDENT})*)"
    rf"|(?P<key>(?:app:|user:|temp:)?{_IDENT}))"
    r"(?P<optional>\?)?"
    r"\}"
)


class TemplateError(HectorError):
    """A required placeholder had nothing to resolve to; the invocation fails (task `failed`)."""

    code = "instruction_missing_value"

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


def placeholders(template: str) -> list[str]:
    """The placeholders a template uses, as written (`user:name`, `artifact.ctx.md`)."""
    return [
        f"artifact.{m['artifact']}" if m["artifact"] else m["key"]
        for m in _PLACEHOLDER.finditer(template)
    ]


async def render_instruction(
    template: str, *, state: Mapping[str, Any], load_artifact: ArtifactLoader
) -> str:
    """Resolve every placeholder of `template`.

    `state` is the merged view the runner holds: session keys bare, `app:`/`user:`/`temp:` keys
    with their prefix (exactly `Session.state` plus the invocation's temp state).
    """
    matches = list(_PLACEHOLDER.finditer(template))
    if not matches:
        return template
    artifacts: dict[str, Artifact | None] = {}
    for match in matches:
        name = match["artifact"]
        if name and name not in artifacts:
            artifacts[name] = await load_artifact(name)

    def substitute(match: re.Match[str]) -> str:
        optional = match["optional"] is not None
        name = match["artifact"]
        if name:
            artifact = artifacts[name]
            if artifact is None:
                if optional:
                    return ""
                raise TemplateError(
                    f'instruction references missing artifact "{name}"', key=f"artifact.{name}"
                )
            return _artifact_text(artifact)
        key = match["key"]
        if key not in state:
            if optional:
                return ""
            raise TemplateError(f'instruction references missing state key "{key}"', key=key)
        return _value_text(state[key])

    return _PLACEHOLDER.sub(substitute, template)


def _value_text(value: Any) -> str:
    """Strings as they are; anything else as compact JSON (what a model reads best)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _artifact_text(artifact: Artifact) -> str:
    if artifact.is_text:
        return artifact.text()
    return f"[binary artifact {artifact.name}, {artifact.mime_type}, {artifact.size} bytes]"
