"""Content parts: what messages to and from models, and session events, are made of.

One set of frozen dataclasses serves both the LLM request (`agents.llm.base.Message`) and the stored
session `Event`, so a conversation is replayed to a provider exactly as it was recorded. Each part
has a literal `kind`; `part_to_json` / `part_from_json` are the only (de)serialisers, used by every
store.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ThinkingPart:
    """Model reasoning. `signature` (Anthropic) must be replayed verbatim on the next turn."""

    text: str
    signature: str | None = None
    kind: Literal["thinking"] = "thinking"


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    """A call the model asked for. `metadata` carries provider details that must round-trip (e.g.
    Gemini's thought signature); the runner never interprets it.
    """

    call_id: str
    name: str
    arguments: Mapping[str, Any]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class ToolResultPart:
    """The outcome of one tool call, fed back to the model. Errors are results, not exceptions."""

    call_id: str
    name: str
    content: Any
    is_error: bool = False
    kind: Literal["tool_result"] = "tool_result"

    def content_text(self) -> str:
        """The result as text, the form every provider accepts."""
        if isinstance(self.content, str):
            return self.content
        import json

        return json.dumps(self.content, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass(frozen=True, slots=True)
class FilePart:
    """An attachment: inline `data` or a `uri`. `mime_type` decides how providers take it."""

    mime_type: str
    data: bytes | None = None
    uri: str | None = None
    name: str | None = None
    kind: Literal["file"] = "file"


@dataclass(frozen=True, slots=True)
class DataPart:
    """Structured data (A2A `data` parts, structured output)."""

    data: Mapping[str, Any]
    kind: Literal["data"] = "data"


Part = TextPart | ThinkingPart | ToolCallPart | ToolResultPart | FilePart | DataPart


def text_of(parts: tuple[Part, ...] | list[Part]) -> str:
    """The concatenated text parts (what a user reads as the answer)."""
    return "".join(p.text for p in parts if isinstance(p, TextPart))


def part_to_json(part: Part) -> dict[str, Any]:
    match part:
        case TextPart(text=text):
            return {"kind": "text", "text": text}
        case ThinkingPart(text=text, signature=signature):
            return {"kind": "thinking", "text": text, "signature": signature}
        case ToolCallPart(call_id=call_id, name=name, arguments=arguments, metadata=metadata):
            body: dict[str, Any] = {
                "kind": "tool_call",
                "call_id": call_id,
                "name": name,
                "arguments": dict(arguments),
            }
            if metadata:
                body["metadata"] = dict(metadata)
            return body
        case ToolResultPart(call_id=call_id, name=name, content=content, is_error=is_error):
            return {
                "kind": "tool_result",
                "call_id": call_id,
                "name": name,
                "content": content,
                "is_error": is_error,
            }
        case FilePart(mime_type=mime_type, data=data, uri=uri, name=name):
            return {
                "kind": "file",
                "mime_type": mime_type,
                "data": base64.b64encode(data).decode() if data is not None else None,
                "uri": uri,
                "name": name,
            }
        case DataPart(data=data):
            return {"kind": "data", "data": dict(data)}
    raise TypeError(f"not a content part: {part!r}")


def part_from_json(body: Mapping[str, Any]) -> Part:
    kind = body.get("kind")
    if kind == "text":
        return TextPart(text=body["text"])
    if kind == "thinking":
        return ThinkingPart(text=body["text"], signature=body.get("signature"))
    if kind == "tool_call":
        return ToolCallPart(
            call_id=body["call_id"],
            name=body["name"],
            arguments=body.get("arguments") or {},
            metadata=body.get("metadata") or {},
        )
    if kind == "tool_result":
        return ToolResultPart(
            call_id=body["call_id"],
            name=body["name"],
            content=body.get("content"),
            is_error=bool(body.get("is_error")),
        )
    if kind == "file":
        data = body.get("data")
        return FilePart(
            mime_type=body["mime_type"],
            data=base64.b64decode(data) if data is not None else None,
            uri=body.get("uri"),
            name=body.get("name"),
        )
    if kind == "data":
        return DataPart(data=body.get("data") or {})
    raise ValueError(f"unknown content part kind: {kind!r}")
