"""Run events: what `Runner.run` yields to its callers (A2A, Studio, the Python API).

They are normalised across providers and agent types. Deltas (`text_delta`, `thinking`) are for
live display only; what was said is in the stored session events (`event_stored`), and every run
ends with exactly one `final`, `interrupted` or `error`. Inside a run, an agent's own `run()` ends
with its `final` (or `interrupted`); composite agents consume their children's and yield their
own, so a caller of `Runner.run` only ever sees the root agent's. Consumers `match` on the class
and finish with `case _: assert_never(event)`, so adding an event is a type error wherever it is
not handled.
`run_event_to_json` is the one serialiser for SSE and websocket frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, assert_never

from agents.content import part_to_json
from agents.sessions import Event

__all__ = [
    "ErrorEvent",
    "EventStored",
    "FinalEvent",
    "InterruptedEvent",
    "RunEvent",
    "StatusEvent",
    "TextDeltaEvent",
    "ThinkingEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "event_to_json",
    "run_event_to_json",
]


@dataclass(frozen=True, slots=True)
class TextDeltaEvent:
    """A chunk of answer text, as the model streams it."""

    agent: str
    text: str
    kind: Literal["text_delta"] = "text_delta"


@dataclass(frozen=True, slots=True)
class ThinkingEvent:
    """A chunk of model reasoning; never part of the answer. `signature` comes on the last
    chunk of a block when the provider signs it."""

    agent: str
    text: str
    signature: str | None = None
    kind: Literal["thinking"] = "thinking"


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """The model asked for a tool; emitted before the tool runs."""

    agent: str
    call_id: str
    name: str
    arguments: Mapping[str, Any]
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class ToolResultEvent:
    """A tool finished (results of parallel calls arrive in completion order)."""

    agent: str
    call_id: str
    name: str
    result: Any
    is_error: bool
    duration_ms: int
    kind: Literal["tool_result"] = "tool_result"


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """Progress a person may want to see (e.g. a repair turn); not part of the answer."""

    agent: str
    message: str
    kind: Literal["status"] = "status"


@dataclass(frozen=True, slots=True)
class EventStored:
    """An event was appended to the session (with its sequence number)."""

    event: Event
    kind: Literal["event_stored"] = "event_stored"


@dataclass(frozen=True, slots=True)
class FinalEvent:
    """The run's answer. `output` is the parsed object when the agent has an `output_schema`.

    Between agents of one run it also says how the answer ended the agent's turn: `escalate`
    (the agent called `exit_loop`/`escalate`: the enclosing workflow stops) or `transfer_to`
    (the agent handed the conversation to another agent, which answers next). The runner
    never yields a transfer; it runs the target instead.
    """

    agent: str
    text: str
    session_id: str
    output: Any = None
    escalate: bool = False
    transfer_to: str | None = None
    kind: Literal["final"] = "final"


@dataclass(frozen=True, slots=True)
class InterruptedEvent:
    """The run stopped to wait for the caller (a remote agent asked for input or credentials, a
    tool call waits for approval). The next message on the same session resumes it; `state` is
    the A2A task state to report; `data` are structured requests the caller answers (SPEC 8:
    one `approval_request` per call waiting)."""

    agent: str
    state: Literal["input-required", "auth-required"]
    message: str
    session_id: str
    data: tuple[Mapping[str, Any], ...] = ()
    kind: Literal["interrupted"] = "interrupted"


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """The run failed. `message` is safe to show (provider wording, never a credential); `code`
    is stable snake_case. `session_id` is None when the failure came before a session existed."""

    agent: str
    message: str
    code: str
    session_id: str | None = None
    kind: Literal["error"] = "error"


RunEvent = (
    TextDeltaEvent
    | ThinkingEvent
    | ToolCallEvent
    | ToolResultEvent
    | StatusEvent
    | EventStored
    | FinalEvent
    | InterruptedEvent
    | ErrorEvent
)


def event_to_json(event: Event) -> dict[str, Any]:
    """A stored session event as JSON (parts through the one content serialiser)."""
    return {
        "id": event.id,
        "sequence": event.sequence,
        "author": event.author,
        "role": event.role,
        "invocation_id": event.invocation_id,
        "parts": [part_to_json(part) for part in event.parts],
        "actions": {
            "state_delta": dict(event.actions.state_delta),
            "artifact_delta": dict(event.actions.artifact_delta),
            "transfer_to_agent": event.actions.transfer_to_agent,
            "escalate": event.actions.escalate,
        },
        "usage": dict(event.usage),
        "branch": event.branch,
        "timestamp": event.timestamp.isoformat(),
    }


def run_event_to_json(event: RunEvent) -> dict[str, Any]:
    """One JSON object per run event, `kind` first."""
    match event:
        case TextDeltaEvent(agent=agent, text=text):
            return {"kind": event.kind, "agent": agent, "text": text}
        case ThinkingEvent(agent=agent, text=text, signature=signature):
            return {"kind": event.kind, "agent": agent, "text": text, "signature": signature}
        case ToolCallEvent(agent=agent, call_id=call_id, name=name, arguments=arguments):
            return {
                "kind": event.kind,
                "agent": agent,
                "call_id": call_id,
                "name": name,
                "arguments": dict(arguments),
            }
        case ToolResultEvent():
            return {
                "kind": event.kind,
                "agent": event.agent,
                "call_id": event.call_id,
                "name": event.name,
                "result": event.result,
                "is_error": event.is_error,
                "duration_ms": event.duration_ms,
            }
        case StatusEvent(agent=agent, message=message):
            return {"kind": event.kind, "agent": agent, "message": message}
        case EventStored(event=stored):
            return {"kind": event.kind, "event": event_to_json(stored)}
        case FinalEvent(agent=agent, text=text, session_id=session_id, output=output):
            return {
                "kind": event.kind,
                "agent": agent,
                "text": text,
                "session_id": session_id,
                "output": output,
            }
        case InterruptedEvent(agent=agent, state=state, message=message, session_id=session_id):
            return {
                "kind": event.kind,
                "agent": agent,
                "state": state,
                "message": message,
                "session_id": session_id,
                "data": [dict(item) for item in event.data],
            }
        case ErrorEvent(agent=agent, message=message, code=code, session_id=session_id):
            return {
                "kind": event.kind,
                "agent": agent,
                "message": message,
                "code": code,
                "session_id": session_id,
            }
        case _:
            assert_never(event)
