"""What every built-in tool shares: typed arguments, refusals as error outputs, approval flags.

A built-in tool is a name, a pydantic model of its arguments (which is also the JSON Schema the
model sees) and an async handler. Handlers raise `ToolRefusal` for anything the model should
read and correct (a path outside the sandbox, a denied command, a missing file); any other
exception is a bug and `run_tool` reports it with its type name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

# `_errors` is FunctionTool's formatting of validation errors: one wording for every tool.
from tools.base import ToolContext, ToolOutput, _errors, clean_schema, jsonable

__all__ = ["Arguments", "BuiltinTool", "ToolRefusal"]

A = TypeVar("A", bound="Arguments")


class ToolRefusal(Exception):
    """The call cannot be done as asked; the message is shown to the model verbatim."""


class Arguments(BaseModel):
    """Base of every built-in tool's arguments: unknown keys are errors, as in `FunctionTool`."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BuiltinTool(Generic[A]):
    """One tool of a built-in toolset (SPEC 9.3).

    `requires_approval` and `approval_prompt` are what the runner reads to pause the call for a
    human (SPEC 8, HITL); this class never pauses by itself. `needs_approval` answers for one
    call and `approval_prompt_for` is the text to show for it: the configured prompt, or a
    default naming the tool.
    """

    def __init__(
        self,
        name: str,
        description: str,
        arguments: type[A],
        handler: Callable[[A, ToolContext], Awaitable[Any]],
        *,
        requires_approval: bool = False,
        approval_prompt: str | None = None,
        approval_exempt_commands: frozenset[str] = frozenset(),
        timeout_s: float | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.arguments = arguments
        self.parameters: Mapping[str, Any] = clean_schema(arguments.model_json_schema())
        self.requires_approval = requires_approval
        self.approval_prompt = approval_prompt
        self.approval_exempt_commands = approval_exempt_commands
        self.timeout_s = timeout_s
        self._handler = handler

    def __repr__(self) -> str:
        return f"BuiltinTool({self.name!r})"

    def needs_approval(self, arguments: Mapping[str, Any]) -> bool:
        """Whether this call waits for a human. `requires_approval` says whether the tool ever
        does; a call whose `command` only reads (`text_editor view`) may be exempt."""
        return self.requires_approval and arguments.get("command") not in (
            self.approval_exempt_commands
        )

    def approval_prompt_for(self, arguments: Mapping[str, Any]) -> str:
        return self.approval_prompt or f'Allow the tool "{self.name}" to run?'

    async def call(self, arguments: Mapping[str, Any], context: ToolContext) -> ToolOutput:
        try:
            parsed = self.arguments.model_validate(dict(arguments))
        except ValidationError as exc:
            return ToolOutput.error(f'invalid arguments for tool "{self.name}": {_errors(exc)}')
        try:
            result = await self._handler(parsed, context)
        except ToolRefusal as exc:
            return ToolOutput.error(str(exc))
        if isinstance(result, ToolOutput):
            return result
        return ToolOutput(jsonable(result))
