"""MCP tool results and arguments in Hector's terms.

A result becomes one `ToolOutput`: the text blocks are what the model reads, `structuredContent`
stays machine-readable beside it, and images, audio and binary resources become file parts the
model receives with the results. Arguments are checked against the tool's input schema before
the call, so a model's mistake comes back naming the field rather than as a server error.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from mcp_types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

from agents.content import FilePart
from tools.base import ToolOutput

__all__ = ["argument_error", "arguments_validator", "input_schema", "to_output"]

logger = logging.getLogger(__name__)

_EMPTY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}}


def input_schema(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """The server's schema as given; an object schema when it sent none (providers need one)."""
    if not schema:
        return dict(_EMPTY_OBJECT)
    result = dict(schema)
    result.setdefault("type", "object")
    return result


def arguments_validator(server: str, tool: str, schema: Mapping[str, Any]) -> Any | None:
    """A validator for the schema, or None when the server's schema is itself invalid (then the
    server judges the arguments)."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        logger.warning(
            "mcp server=%s tool=%s has an invalid input schema, arguments go unchecked: %s",
            server,
            tool,
            exc.message,
        )
        return None
    return cls(schema)


def argument_error(validator: Any, arguments: Mapping[str, Any]) -> str | None:
    """`location: 'Paris' is not one of [...]` for the most relevant error, or None."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(arguments)))
    if error is None:
        return None
    path = list(error.absolute_path)
    message = error.message
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            path.append(missing[0])
            message = "required field missing"
    return f"{_json_path(path) or 'arguments'}: {message}"


def _json_path(parts: list[str | int]) -> str:
    """['items', 0, 'name'] -> 'items[0].name'."""
    dotted = ".".join(p if isinstance(p, str) else f"[{p}]" for p in parts)
    return dotted.replace(".[", "[")


def to_output(result: CallToolResult) -> ToolOutput:
    """The model reads the text; when the text only repeats `structuredContent` (as the spec
    asks servers to do for old clients), it reads the structured value instead."""
    texts: list[str] = []
    files: list[FilePart] = []
    for block in result.content:
        match block:
            case TextContent(text=text):
                texts.append(text)
            case ImageContent(data=data, mime_type=mime) | AudioContent(data=data, mime_type=mime):
                _add_file(files, texts, mime, data, None)
            case EmbeddedResource(resource=TextResourceContents(uri=uri, text=text)):
                texts.append(f"[resource {uri}]\n{text}")
            case EmbeddedResource(resource=BlobResourceContents(uri=uri, blob=blob) as res):
                _add_file(files, texts, res.mime_type or "application/octet-stream", blob, uri)
            case ResourceLink(uri=uri, name=name):
                texts.append(f"[resource link {name}: {uri}]")
            case _:
                texts.append(f"[unsupported content block {getattr(block, 'type', '?')}]")
    text = "\n".join(texts)
    structured = result.structured_content
    content: Any = text
    if structured is not None and (not text or _same_json(text, structured)):
        content = structured
    elif not text and files:
        content = f"[{len(files)} file(s) attached]"
    return ToolOutput(content, bool(result.is_error), structured=structured, files=tuple(files))


def _add_file(
    files: list[FilePart], texts: list[str], mime: str, data: str, uri: str | None
) -> None:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        texts.append(f"[undecodable {mime} content]")
        return
    files.append(FilePart(mime_type=mime, data=raw, name=uri))


def _same_json(text: str, value: Any) -> bool:
    try:
        return bool(json.loads(text) == value)
    except ValueError:
        return False
