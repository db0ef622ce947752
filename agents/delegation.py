"""Multi-agent delegation (SPEC 4.3): agents offered as tools, and conversations handed over.

`AgentTool` (`agent_tools:`): the parent calls a child like any tool, with `{"request": ...}`.
The child runs on its own branch (`parent.child`) and sees only the request, so its work never
crowds the parent's history; its events are stored (author = the child) and streamed, and its
final text comes back as the tool result while the parent keeps control.

`TransferDriver` (`sub_agents:` on an `llm` agent): the agent and everyone it can hand over to,
as one agent. A `transfer_to_<agent>` call ends the caller's turn and the target answers the
same turn; the session remembers the active agent, so the user's next message goes straight
to it until it transfers back.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from agents.content import TextPart
from agents.control import active_agent_key
from agents.errors import HectorError
from agents.events import FinalEvent, InterruptedEvent, RunEvent, StatusEvent
from agents.invocation import Agent, Emit, InvocationContext
from agents.llm.base import LLMError
from agents.llm_agent import AgentError, status_event
from agents.sessions import Event
from tools.base import ToolContext, ToolOutput

__all__ = ["AGENT_TOOL_TIMEOUT_S", "MAX_TRANSFERS", "AgentTool", "TransferDriver"]

#: An agent tool runs a whole agent (several LLM and tool rounds, each with its own deadline);
#: this bounds the call as a whole when the child sets no `timeout` of its own.
AGENT_TOOL_TIMEOUT_S = 600.0
#: Hand-overs within one turn; more means two agents keep passing the user back and forth.
MAX_TRANSFERS = 8

_REQUEST_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "request": {"type": "string", "description": "What the agent should do, in full."}
    },
    "required": ["request"],
}


@dataclass(frozen=True, slots=True)
class AgentTool:
    """`agent` offered to `caller` as a tool named after it."""

    agent: Agent
    caller: str
    description: str
    timeout_s: float | None = AGENT_TOOL_TIMEOUT_S
    parameters: Mapping[str, Any] = field(default_factory=lambda: _REQUEST_SCHEMA)

    @property
    def name(self) -> str:
        return self.agent.name

    async def call(self, arguments: Mapping[str, Any], context: ToolContext) -> ToolOutput:
        return ToolOutput.error(f'agent tool "{self.name}" runs only inside an agent invocation')

    async def call_in(
        self,
        invocation: InvocationContext,
        arguments: Mapping[str, Any],
        context: ToolContext,
        emit: Emit,
    ) -> ToolOutput:
        request = arguments.get("request")
        if not isinstance(request, str) or not request.strip():
            return ToolOutput.error('"request" is required: a string saying what to do')
        child = invocation.fork(invocation.child_branch(self.caller, self.name), events=[])
        asked = Event(
            author=self.caller,
            role="user",
            parts=(TextPart(request),),
            invocation_id=invocation.invocation_id,
        )
        await child.append(asked)
        final: FinalEvent | None = None
        try:
            async with aclosing(self.agent.run(child)) as events:
                async for event in events:
                    if isinstance(event, FinalEvent):
                        final = event
                    elif isinstance(event, InterruptedEvent):
                        # A tool cannot pause the caller's task: the question becomes the answer.
                        return ToolOutput(f"{self.name} needs more input: {event.message}")
                    else:
                        emit(event)
        except (HectorError, LLMError) as exc:
            failed = status_event(
                agent=self.name,
                invocation_id=invocation.invocation_id,
                state="failed",
                message=str(exc),
            )
            await child.append(failed)
            return ToolOutput.error(f'agent "{self.name}" failed: {exc}')
        # What the child wrote is already stored; repeating it on the caller's tool-results event
        # brings the caller's view of the state up to date (the fold does not change).
        context.state_delta.update(child.written)
        if final is None:
            return ToolOutput.error(f'agent "{self.name}" ended without an answer')
        return ToolOutput(final.output if final.output is not None else final.text)


@dataclass(frozen=True, slots=True)
class TransferDriver:
    """The agent `name` and the agents it can hand the conversation to (`members`, built on
    demand by `build`). The active one answers; it is stored in session state under
    `active_agent_key(name)` by the transfer call itself."""

    name: str
    members: frozenset[str]
    build: Callable[[str], Awaitable[Agent]]

    async def run(self, ctx: InvocationContext) -> AsyncGenerator[RunEvent, None]:
        active = ctx.state.get(active_agent_key(self.name))
        current = active if isinstance(active, str) and active in self.members else self.name
        for _ in range(MAX_TRANSFERS + 1):
            agent = await self.build(current)
            final: FinalEvent | None = None
            async with aclosing(agent.run(ctx)) as events:
                async for event in events:
                    if isinstance(event, FinalEvent):
                        final = event
                        continue
                    yield event
                    if isinstance(event, InterruptedEvent):
                        return
            if final is None:
                raise AgentError(f'agent "{current}" ended without an answer')
            if final.transfer_to is None:
                yield final
                return
            yield StatusEvent(final.agent, f'transferred the conversation to "{final.transfer_to}"')
            current = final.transfer_to
        raise AgentError(
            f'agent "{self.name}": more than {MAX_TRANSFERS} transfers in one turn '
            "(agents keep handing the conversation back and forth)"
        )
