"""The `remote` agent type (SPEC 4.2, 7.7): one turn proxied to an external A2A agent.

The turn's user message goes to the remote through `agents.a2a_client` (card, protocol version,
headers, SSRF policy and the `timeout` over the whole exchange live there). Its artifact chunks
stream back as this agent's text deltas and its progress messages as status events; its answer
is stored in our session like any agent's.

Session state keeps the link to the remote under `hector:remote:<agent>`: its context id (so the
remote sees one conversation across our turns) and the last task with its state. When the remote
asks for input or credentials, our run ends `interrupted` with its question; the user's next
message on the session goes to that same remote task, which is how the answer is forwarded.
Cancelling our run cancels the remote task too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from agents.a2a_client import A2AClient, RemoteAgentError
from agents.config import AgentConfig
from agents.content import DataPart, Part, TextPart, text_of
from agents.events import (
    EventStored,
    FinalEvent,
    InterruptedEvent,
    RunEvent,
    StatusEvent,
    TextDeltaEvent,
)
from agents.invocation import InvocationContext
from agents.llm_agent import RUNTIME_AUTHOR, AgentError
from agents.sessions import Event, EventActions
from agents.tasks import (
    INTERRUPTED_STATES,
    ArtifactUpdate,
    StatusUpdate,
    Task,
    TaskMessage,
    TaskStatus,
)
from tools.ssrf import SSRFBlocked

__all__ = ["REMOTE_LINK_PREFIX", "RemoteAgent", "RemoteAgentFailed"]

logger = logging.getLogger(__name__)

#: Session state key (plus the agent's name) linking our session to the remote's context/task.
REMOTE_LINK_PREFIX = "hector:remote:"
#: How long a cancelled run waits for the remote to acknowledge `tasks/cancel`.
REMOTE_CANCEL_WAIT_S = 5.0


class RemoteAgentFailed(AgentError):
    """The remote call failed or the remote task ended badly; `code` keeps the client's code
    (`remote_agent_timeout`, `invalid_agent_response`, ...) when there is one."""

    code = "remote_agent_failed"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


@dataclass(slots=True)
class _RemoteTurn:
    """What the remote said so far: its task, status and artifacts (in first-seen order)."""

    task_id: str | None = None
    context_id: str | None = None
    status: TaskStatus | None = None
    artifacts: dict[str, list[Part]] = field(default_factory=dict)

    def see(self, task_id: str, context_id: str) -> None:
        self.task_id = task_id or self.task_id
        self.context_id = context_id or self.context_id

    def answer_parts(self) -> list[Part]:
        return [part for parts in self.artifacts.values() for part in parts]


@dataclass(frozen=True, slots=True)
class RemoteAgent:
    name: str
    config: AgentConfig
    client: A2AClient

    @property
    def link_key(self) -> str:
        return REMOTE_LINK_PREFIX + self.name

    async def run(self, ctx: InvocationContext) -> AsyncGenerator[RunEvent, None]:
        link = ctx.state.get(self.link_key)
        link = dict(link) if isinstance(link, Mapping) else {}
        resumes = link.get("state") in INTERRUPTED_STATES and isinstance(link.get("task_id"), str)
        message = TaskMessage(
            message_id=uuid.uuid4().hex,
            role="user",
            parts=_turn_parts(ctx),
            context_id=link.get("context_id") if isinstance(link.get("context_id"), str) else None,
            task_id=link["task_id"] if resumes else None,
        )
        if resumes:
            task = link["task_id"]
            yield StatusEvent(self.name, f"answering the remote's question (task {task})")
        turn = _RemoteTurn()
        try:
            async with aclosing(self.client.stream(message)) as updates:  # type: ignore[type-var]
                async for update in updates:
                    for event in self._absorb(turn, update):
                        yield event
        except asyncio.CancelledError:
            await self._cancel_remote(turn)
            with contextlib.suppress(Exception):
                await asyncio.shield(self._remember(ctx, turn, state="canceled"))
            raise
        except (RemoteAgentError, SSRFBlocked) as exc:
            await self._remember(ctx, turn)
            raise RemoteAgentFailed(f'remote agent "{self.name}": {exc}', code=exc.code) from exc
        for event in await self._conclude(ctx, turn):
            yield event

    def _absorb(
        self, turn: _RemoteTurn, update: Task | StatusUpdate | ArtifactUpdate
    ) -> list[RunEvent]:
        events: list[RunEvent] = []
        match update:
            case Task():
                if turn.task_id is None:
                    # Names the remote task in the trace (and tells a watcher it exists).
                    events.append(StatusEvent(self.name, f"remote task {update.id} started"))
                turn.see(update.id, update.context_id)
                turn.status = update.status
                for artifact in update.artifacts:
                    turn.artifacts[artifact.artifact_id] = list(artifact.parts)
            case ArtifactUpdate(artifact=artifact, append=append):
                turn.see(update.task_id, update.context_id)
                known = turn.artifacts.get(artifact.artifact_id)
                if append and known is not None:
                    known.extend(artifact.parts)
                else:
                    turn.artifacts[artifact.artifact_id] = list(artifact.parts)
                # A replacing chunk repeats text already streamed: only new text is a delta.
                text = text_of(artifact.parts)
                if text and (append or known is None):
                    events.append(TextDeltaEvent(self.name, text))
            case StatusUpdate(status=status, final=final):
                turn.see(update.task_id, update.context_id)
                turn.status = status
                said = text_of(status.message.parts) if status.message is not None else ""
                if said and not final:
                    events.append(StatusEvent(self.name, said))
        return events

    async def _conclude(self, ctx: InvocationContext, turn: _RemoteTurn) -> tuple[RunEvent, ...]:
        status = turn.status
        state = status.state if status is not None else "unknown"
        said = text_of(status.message.parts) if status and status.message else ""
        if state == "completed":
            parts = turn.answer_parts()
            text = text_of(parts) or said
            output = next((p.data for p in parts if isinstance(p, DataPart)), None)
            delta: dict[str, Any] = {self.link_key: self._link(turn, state)}
            if self.config.output_key:
                delta[self.config.output_key] = output if output is not None else text
            event = Event(
                author=self.name,
                role="agent",
                parts=(TextPart(text),),
                invocation_id=ctx.invocation_id,
                actions=EventActions(state_delta=delta),
            )
            stored = await ctx.append(event)
            return EventStored(stored), FinalEvent(self.name, text, ctx.session.id, output)
        if state in INTERRUPTED_STATES:
            question = said or f"the remote agent is waiting ({state})"
            event = Event(
                author=self.name,
                role="agent",
                parts=(TextPart(question),),
                invocation_id=ctx.invocation_id,
                actions=EventActions(state_delta={self.link_key: self._link(turn, state)}),
            )
            stored = await ctx.append(event)
            interrupted = InterruptedEvent(self.name, state, question, ctx.session.id)  # type: ignore[arg-type]
            return EventStored(stored), interrupted
        await self._remember(ctx, turn)
        reason = f": {said}" if said else ""
        raise RemoteAgentFailed(f'remote agent "{self.name}" ended {state}{reason}')

    def _link(self, turn: _RemoteTurn, state: str) -> dict[str, Any]:
        return {"task_id": turn.task_id, "context_id": turn.context_id, "state": state}

    async def _remember(
        self, ctx: InvocationContext, turn: _RemoteTurn, *, state: str | None = None
    ) -> None:
        """Keep the remote's ids even when the turn failed, so the next turn continues the same
        remote conversation (and never resumes a task that is over)."""
        if turn.task_id is None:
            return
        if state is None:
            state = turn.status.state if turn.status is not None else "unknown"
        event = Event(
            author=self.name,
            role="agent",
            invocation_id=ctx.invocation_id,
            actions=EventActions(state_delta={self.link_key: self._link(turn, state)}),
        )
        await ctx.append(event)

    async def _cancel_remote(self, turn: _RemoteTurn) -> None:
        """SPEC 7.3: a cancel propagates to remote agents. Best effort and bounded: the local
        cancel must not wait on a remote that does not answer."""
        if turn.task_id is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(REMOTE_CANCEL_WAIT_S):
                await asyncio.shield(self.client.cancel(turn.task_id))
        logger.info("agent=%s remote task=%s cancel requested", self.name, turn.task_id)


def _turn_parts(ctx: InvocationContext) -> tuple[Part, ...]:
    """What this turn asks: the newest user message on this branch (for an agent called as a
    tool, the caller's request)."""
    for event in reversed(ctx.events):
        if event.role == "user" and event.author != RUNTIME_AUTHOR:
            return event.parts
    return (TextPart(""),)
