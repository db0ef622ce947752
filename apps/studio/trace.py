"""A session's stored events as the Studio shows them: turns of a conversation, each with a trace.

The live stream (A2A events over the websocket) says what happens as it happens; the stored
events are the record, and only they name the author of every step (a sub-agent, an agent tool)
and the token usage of every LLM call. So a finished turn, and every turn of a reopened session,
is drawn from here. Durations come from event timestamps: an LLM call lasts from the previous
event to the model's event, a tool call from the model's event to the event with its result.

What a paused task asks (an approval, a question) is not a session event: it is the task's
status message, so `waiting_json` reads it from the task's status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents.content import (
    DataPart,
    FilePart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from agents.sessions import Event
from agents.tasks import INTERRUPTED_STATES, TaskStatus
from tools.approvals import APPROVAL_REQUEST_TYPE
from tools.builtin.todo import TODOS_STATE_KEY

Item = dict[str, Any]


@dataclass
class Turn:
    """One user message and everything the agents did about it (one invocation)."""

    invocation_id: str
    user: str = ""
    answer: str = ""
    author: str = ""
    status: str = "completed"
    error: str | None = None
    started_at: datetime | None = None
    items: list[Item] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "invocation_id": self.invocation_id,
            "user": self.user,
            "answer": self.answer,
            "author": self.author,
            "status": self.status,
            "error": self.error,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "items": self.items,
        }


def _ms(start: datetime | None, end: datetime) -> int | None:
    return None if start is None else max(0, int((end - start).total_seconds() * 1000))


class _Builder:
    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.calls: dict[str, tuple[Item, datetime]] = {}
        self.previous_at: datetime | None = None

    def turn_for(self, event: Event) -> Turn:
        if not self.turns or self.turns[-1].invocation_id != event.invocation_id:
            self.turns.append(Turn(event.invocation_id, started_at=event.timestamp))
        return self.turns[-1]

    def add(self, event: Event) -> None:
        turn = self.turn_for(event)
        if event.role == "user":
            turn.user += "".join(p.text for p in event.parts if isinstance(p, TextPart))
            files = [p.name or p.mime_type for p in event.parts if isinstance(p, FilePart)]
            if files:
                turn.items.append({"kind": "files", "author": "user", "names": files})
        elif any(isinstance(p, ToolResultPart) for p in event.parts):
            self.add_results(turn, event)
        elif event.usage or any(
            isinstance(p, TextPart | ThinkingPart | ToolCallPart) for p in event.parts
        ):
            self.add_model_response(turn, event)
        self.add_markers(turn, event)
        self.previous_at = event.timestamp

    def add_model_response(self, turn: Turn, event: Event) -> None:
        text = "".join(p.text for p in event.parts if isinstance(p, TextPart))
        calls = [p for p in event.parts if isinstance(p, ToolCallPart)]
        turn.items.append(
            {
                "kind": "llm",
                "author": event.author,
                "usage": dict(event.usage),
                "duration_ms": _ms(self.previous_at, event.timestamp),
                "tool_calls": len(calls),
            }
        )
        for part in event.parts:
            if isinstance(part, ThinkingPart) and part.text:
                turn.items.append({"kind": "thinking", "author": event.author, "text": part.text})
        if text and calls:  # words before a tool round are not the answer
            turn.items.append({"kind": "text", "author": event.author, "text": text})
        elif text:
            turn.answer, turn.author = text, event.author
        for call in calls:
            item: Item = {
                "kind": "tool_call",
                "author": event.author,
                "call_id": call.call_id,
                "name": call.name,
                "arguments": dict(call.arguments),
                "result": None,
                "is_error": False,
                "duration_ms": None,
                "done": False,
            }
            turn.items.append(item)
            self.calls[call.call_id] = (item, event.timestamp)

    def add_results(self, turn: Turn, event: Event) -> None:
        for part in event.parts:
            if not isinstance(part, ToolResultPart):
                continue
            found = self.calls.pop(part.call_id, None)
            if found is None:  # a result without its call (trimmed history): show it alone
                item: Item = {"kind": "tool_call", "author": event.author, "name": part.name}
                item.update(call_id=part.call_id, arguments={}, duration_ms=None)
                turn.items.append(item)
            else:
                item, called_at = found
                item["duration_ms"] = _ms(called_at, event.timestamp)
            item.update(result=part.content, is_error=part.is_error, done=True)

    def add_markers(self, turn: Turn, event: Event) -> None:
        for part in event.parts:
            if not isinstance(part, DataPart):
                continue
            data = dict(part.data)
            if data.get("hector_type") == "status":
                state = str(data.get("state") or "")
                turn.items.append({"kind": "status", "author": event.author, **data})
                if state in ("failed", "canceled", "rejected"):
                    turn.status = state
                    turn.error = str(data.get("message") or state)
            elif event.role == "agent":
                turn.items.append({"kind": "data", "author": event.author, "data": data})
        transfer = event.actions.transfer_to_agent
        if transfer:
            turn.items.append({"kind": "transfer", "author": event.author, "to": transfer})
        if event.actions.escalate:
            turn.items.append({"kind": "escalate", "author": event.author})


def build_turns(events: Sequence[Event]) -> list[Turn]:
    """Turns in order; consecutive events of one invocation form one turn."""
    builder = _Builder()
    for event in events:
        builder.add(event)
    return builder.turns


def turns_json(events: Sequence[Event]) -> list[dict[str, Any]]:
    return [turn.as_json() for turn in build_turns(events)]


def waiting_json(task_id: str, status: TaskStatus) -> dict[str, Any] | None:
    """What a paused task waits for, or None when it is not paused: its question and one
    `approval_request` per tool call waiting for a person (SPEC 8). The Studio answers on
    `task_id`; a question without requests is answered by the next message."""
    if status.state not in INTERRUPTED_STATES:
        return None
    parts = status.message.parts if status.message is not None else ()
    requests = [
        dict(p.data)
        for p in parts
        if isinstance(p, DataPart) and p.data.get("hector_type") == APPROVAL_REQUEST_TYPE
    ]
    return {
        "task_id": task_id,
        "state": status.state,
        "text": "".join(p.text for p in parts if isinstance(p, TextPart)),
        "requests": requests,
    }


def session_todos(state: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The todotool's list in session state (`todos`), keeping only well-formed items: state is
    writable by any tool and by the Admin API, and the page must not break on a stray value."""
    value = state.get(TODOS_STATE_KEY)
    if not isinstance(value, list):
        return None
    return [
        {
            "id": str(item.get("id", "")),
            "content": str(item.get("content", "")),
            "status": str(item.get("status", "pending")),
        }
        for item in value
        if isinstance(item, dict)
    ]
