"""Turning validation failures into ``ConfigIssue``s a person can act on.

Pydantic reports locations such as ``('tools', 'fs', 'mcp', 'filter', 0)``, where ``mcp`` is a
union tag that does not exist in the YAML. The location is walked alongside the model types so
that tags are dropped exactly (never a key the user wrote), and so that an unknown key can be
compared with the keys its model does accept (``did you mean "agents"?``).
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails

from agents.config import HectorConfig
from agents.config_yaml import Marks, Path
from agents.errors import ConfigIssue

__all__ = ["format_issue", "format_path", "locate", "pydantic_issues", "to_config_issues"]

Issue = tuple[Path, str]


def format_path(path: Sequence[str | int]) -> str:
    """``('agents', 'a', 'tools', 0)`` -> ``agents.a.tools[0]``."""
    dotted = ".".join(p if isinstance(p, str) else f"[{p}]" for p in path)
    return dotted.replace(".[", "[")


def format_issue(source: str, issue: ConfigIssue) -> str:
    """``bad.yaml:12:5: agents.writer.llm: unknown llm "gpt5" (defined: default, claude)``."""
    where = source
    if issue.line is not None:
        where += f":{issue.line}"
        if issue.column is not None:
            where += f":{issue.column}"
    return f"{where}: {issue.path}: {issue.message}" if issue.path else f"{where}: {issue.message}"


def locate(path: Path, marks: Marks | None) -> tuple[int | None, int | None]:
    """Line and column of ``path``, or of its nearest ancestor that was written in the file."""
    if not marks:
        return None, None
    for end in range(len(path), -1, -1):
        mark = marks.get(tuple(path[:end]))
        if mark is not None:
            return mark
    return None, None


def to_config_issues(
    issues: Sequence[Issue], marks: Marks | None, located: Sequence[ConfigIssue] = ()
) -> list[ConfigIssue]:
    """Deduplicate, locate and order issues by position in the file (document order kept).

    ``located`` issues already carry their position (e.g. the second of two duplicate keys,
    which shares its path with the first).
    """
    seen: set[tuple[str, str]] = {(i.path, i.message) for i in located}
    located = list(located)
    for path, message in issues:
        key = (format_path(path), message)
        if key in seen:
            continue
        seen.add(key)
        line, column = locate(path, marks)
        located.append(ConfigIssue(key[0], message, line, column))
    return sorted(located, key=lambda i: (i.line is None, i.line or 0, i.column or 0))


# --- pydantic locations --------------------------------------------------------------------


def _strip(tp: Any) -> Any:
    """Remove Annotated wrappers and ``None`` from optionals."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if _is_union(tp):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _variant_tags(variant: Any) -> set[str]:
    tags: set[str] = set()
    if get_origin(variant) is Annotated:
        tags |= {m.tag for m in get_args(variant)[1:] if isinstance(m, Tag)}
    model = _strip(variant)
    if isinstance(model, type) and issubclass(model, BaseModel) and "type" in model.model_fields:
        annotation = model.model_fields["type"].annotation
        if get_origin(annotation) is Literal:
            tags |= {str(a) for a in get_args(annotation)}
    return tags


def _model_field(model: type[BaseModel], key: object) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field.annotation
    return None


def _step(tp: Any, element: str | int) -> tuple[Any, bool]:
    """Type after ``element``, and whether ``element`` is a key the user wrote."""
    tp = _strip(tp)
    if element == "[key]":
        return None, False
    if _is_union(tp):
        for variant in get_args(tp):
            if str(element) in _variant_tags(variant):
                return variant, False
        return None, False  # a non-discriminated union member name
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _model_field(tp, element), True
    origin = get_origin(tp)
    if origin is dict:
        return get_args(tp)[1], True
    if origin is list:
        return get_args(tp)[0], True
    return None, True


def _resolve(loc: Sequence[str | int]) -> tuple[Path, type[BaseModel] | None]:
    """Path as written (tags dropped) and the model owning the last element."""
    tp: Any = HectorConfig
    path: list[str | int] = []
    owner: type[BaseModel] | None = None
    for element in loc:
        current = _strip(tp)
        owner = current if isinstance(current, type) and issubclass(current, BaseModel) else None
        tp, written = _step(tp, element)
        if written:
            path.append(element)
    return tuple(path), owner


def _accepted_keys(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _quote(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _message(error: ErrorDetails, owner: type[BaseModel] | None, key: object) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(key), _accepted_keys(owner), n=1, cutoff=0.75)
        return f'unknown field (did you mean "{close[0]}"?)' if close else "unknown field"
    if kind == "missing":
        return "field required"
    if kind == "union_tag_invalid":
        return f'unknown type "{ctx.get("tag")}" (expected one of {ctx.get("expected_tags")})'
    if kind == "union_tag_not_found":
        return "field required"
    if kind == "literal_error":
        return f"invalid value {_quote(error.get('input'))} (expected {ctx.get('expected')})"
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message[:1].lower() + message[1:]


def pydantic_issues(exc: ValidationError) -> list[Issue]:
    issues: list[Issue] = []
    for error in exc.errors(include_url=False):
        path, owner = _resolve(error["loc"])
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path = (*path, "type")
        issues.append((path, _message(error, owner, path[-1] if path else None)))
    return issues
