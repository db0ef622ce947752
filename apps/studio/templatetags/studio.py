"""Template filters of the Studio pages."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def pretty_json(value: Any) -> str:
    """Tool arguments, results and state as indented JSON (text stays text)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


#: A tool call whose arguments and result print longer than this starts collapsed, so one big
#: payload does not push the rest of the trace out of sight. trace.js uses the same limits.
OPEN_TOOL_CHARS = 600
OPEN_TOOL_LINES = 16


@register.filter
def opens_by_default(item: dict[str, Any]) -> bool:
    """Whether a trace's tool call is drawn open: unfinished, failed, or short."""
    if not item.get("done") or item.get("is_error"):
        return True
    text = pretty_json(item.get("arguments") or {}) + "\n" + pretty_json(item.get("result"))
    return len(text) <= OPEN_TOOL_CHARS and text.count("\n") + 1 <= OPEN_TOOL_LINES
