"""Control tools (SPEC 9.3): `transfer_to_<agent>`, `exit_loop`, `escalate`.

Calling one changes who acts next instead of returning data, so the `llm` agent ends its turn
after the round that called it (`LLMAgent` reads `action` and `target`). The tool itself only
acknowledges; the state change (the session's active agent) travels on the stored tool-results
event, so it is written atomically with the call that caused it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tools.base import ToolContext, ToolOutput

__all__ = [
    "ACTIVE_AGENT_PREFIX",
    "ESCALATE",
    "EXIT_LOOP",
    "TRANSFER_PREFIX",
    "ControlTool",
    "active_agent_key",
    "escalate_tool",
    "exit_loop_tool",
    "transfer_tool",
]

TRANSFER_PREFIX = "transfer_to_"
EXIT_LOOP = "exit_loop"
ESCALATE = "escalate"
#: Session state key (plus the root agent's name) naming the agent that answers next (SPEC 4.3).
ACTIVE_AGENT_PREFIX = "hector:active_agent:"

ControlAction = Literal["transfer", "escalate"]

_NO_ARGUMENTS: Mapping[str, Any] = {"type": "object", "properties": {}}
_REASON: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "description": "Why the conversation is handed over."}
    },
}


def active_agent_key(root: str) -> str:
    """Per transfer tree, so two trees in one session (e.g. in two workflow steps) never steer
    each other."""
    return ACTIVE_AGENT_PREFIX + root


@dataclass(frozen=True, slots=True)
class ControlTool:
    """A tool the model calls to hand over or stop. `state` is written with its result event
    (for a transfer: the session's active agent)."""

    name: str
    description: str
    action: ControlAction
    target: str | None = None
    state: Mapping[str, Any] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=lambda: _NO_ARGUMENTS)
    timeout_s: float | None = None

    async def call(self, arguments: Mapping[str, Any], context: ToolContext) -> ToolOutput:
        if self.action == "transfer":
            return ToolOutput(f"transferred to {self.target}")
        return ToolOutput("stopping here; the enclosing workflow takes over")


def transfer_tool(target: str, description: str | None, *, state: Mapping[str, Any]) -> ControlTool:
    about = f": {description}" if description else ""
    return ControlTool(
        name=TRANSFER_PREFIX + target,
        description=(
            f"Hand the conversation to agent {target}{about}. It answers the user from now on; "
            "end your turn after calling this."
        ),
        action="transfer",
        target=target,
        state=state,
        parameters=_REASON,
    )


def exit_loop_tool() -> ControlTool:
    return ControlTool(
        name=EXIT_LOOP,
        description="Call when the loop's work is done, so it stops repeating.",
        action="escalate",
    )


def escalate_tool() -> ControlTool:
    return ControlTool(
        name=ESCALATE,
        description=(
            "Call when you cannot or should not continue: the workflow you are part of stops "
            "after your turn."
        ),
        action="escalate",
    )
