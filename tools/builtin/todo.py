"""todotool (SPEC 9.3): `todo_write`, the session's checklist in state key `todos`.

The list lives in session state, not in the tool: it is stored with the tool result through
`ToolContext.state_delta`, so it is in the session's history, survives restarts, is the same on
every worker, and Studio can render it from the state it already reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tools.base import ToolContext
from tools.builtin.base import Arguments

__all__ = ["TODOS_STATE_KEY", "TodoItem", "TodoWriteArgs", "todo_write"]

TODOS_STATE_KEY = "todos"

TodoStatus = Literal["pending", "in_progress", "completed", "canceled"]

DESCRIPTION = (
    "Keep a checklist for multi-step work in this conversation. To start a plan, send every "
    "item with overwrite=true. To record progress, send the items that changed (same id, "
    "new status); items are merged by id and completed items stay in the list."
)


class TodoItem(Arguments):
    id: str = Field(min_length=1, description="Stable identifier of the item.")
    content: str = Field(min_length=1, description="What has to be done.")
    status: TodoStatus


class TodoWriteArgs(Arguments):
    todos: list[TodoItem] = Field(min_length=1)
    overwrite: bool = Field(
        default=False, description="Replace the whole list instead of merging by id."
    )


async def todo_write(args: TodoWriteArgs, context: ToolContext) -> dict[str, Any]:
    current = [] if args.overwrite else _stored_items(context.get_state(TODOS_STATE_KEY))
    positions = {item["id"]: index for index, item in enumerate(current)}
    for item in args.todos:
        value = item.model_dump()
        if item.id in positions:
            current[positions[item.id]] = value
        else:
            positions[item.id] = len(current)
            current.append(value)
    context.state_delta[TODOS_STATE_KEY] = current
    return {"summary": _summary(current), "todos": current}


def _stored_items(value: Any) -> list[dict[str, Any]]:
    """The stored list, ignoring anything that is not an item (state is editable by others)."""
    if not isinstance(value, list):
        return []
    return [dict(item) for item in value if isinstance(item, dict) and "id" in item]


def _summary(items: list[dict[str, Any]]) -> str:
    counts = {status: 0 for status in ("pending", "in_progress", "completed", "canceled")}
    for item in items:
        if item.get("status") in counts:
            counts[item["status"]] += 1
    parts = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items() if n)
    return f"{len(items)} items: {parts}"
