"""Run events (`agents.events`) -> task updates (`agents.tasks`), for one run of one task.

Pure and stateful per run: it remembers what text it streamed so the last chunk can tell a client
whether its appended chunks already are the answer (then an empty appended last chunk closes the
artifact) or not (text of earlier tool rounds, of a repaired structured output, or of the inner
agents of a workflow was streamed: then the last chunk replaces the artifact with the answer).

Every update says which agent it comes from (`metadata["hector:agent"]`, on the update and on its
status message), so a client can follow the inner steps of a workflow or a delegation.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import assert_never

from agents.content import DataPart, Part, TextPart, ThinkingPart, ToolCallPart, ToolResultPart
from agents.events import (
    ErrorEvent,
    EventStored,
    FinalEvent,
    InterruptedEvent,
    RunEvent,
    StatusEvent,
    TextDeltaEvent,
    ThinkingEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from agents.sessions import now
from agents.tasks import (
    ArtifactUpdate,
    StatusUpdate,
    TaskArtifact,
    TaskMessage,
    TaskStatus,
    TaskUpdate,
)

RESPONSE_ARTIFACT = "response"
AGENT_KEY = "hector:agent"


def agent_message(
    parts: tuple[Part, ...], *, task_id: str, context_id: str, agent: str | None = None
) -> TaskMessage:
    message_id = uuid.uuid4().hex
    metadata = {AGENT_KEY: agent} if agent else {}
    return TaskMessage(
        message_id, "agent", parts, context_id=context_id, task_id=task_id, metadata=metadata
    )


def answer_parts(event: FinalEvent) -> tuple[Part, ...]:
    """The answer: its text, plus the parsed object as a data part for structured output."""
    if event.output is None:
        return (TextPart(event.text),)
    data = event.output if isinstance(event.output, Mapping) else {"value": event.output}
    return (TextPart(event.text), DataPart(data))


@dataclass
class RunTranslator:
    task_id: str
    context_id: str
    include_thinking: bool = False
    _streamed: list[str] = field(default_factory=list)

    def status(
        self,
        state: str,
        parts: tuple[Part, ...] = (),
        *,
        final: bool = False,
        agent: str | None = None,
    ) -> StatusUpdate:
        message = (
            agent_message(parts, task_id=self.task_id, context_id=self.context_id, agent=agent)
            if parts
            else None
        )
        return StatusUpdate(
            task_id=self.task_id,
            context_id=self.context_id,
            status=TaskStatus(state=state, timestamp=now(), message=message),  # type: ignore[arg-type]
            final=final,
            metadata={AGENT_KEY: agent} if agent else {},
        )

    def working(self) -> StatusUpdate:
        return self.status("working")

    def updates(self, event: RunEvent) -> tuple[TaskUpdate, ...]:
        """What subscribers see of one run event (often nothing)."""
        match event:
            case TextDeltaEvent(agent=agent, text=text):
                return (self._chunk(text, agent),) if text else ()
            case ThinkingEvent(agent=agent, text=text, signature=signature):
                if not self.include_thinking:
                    return ()
                return (self.status("working", (ThinkingPart(text, signature),), agent=agent),)
            case ToolCallEvent(agent=agent, call_id=call_id, name=name, arguments=arguments):
                part = ToolCallPart(call_id, name, dict(arguments))
                return (self.status("working", (part,), agent=agent),)
            case ToolResultEvent(call_id=call_id, name=name, result=result, is_error=is_error):
                part = ToolResultPart(call_id, name, result, is_error)
                return (self.status("working", (part,), agent=event.agent),)
            case StatusEvent(agent=agent, message=message):
                # Shaped like the stored status events, so clients treat it as progress.
                data = {"hector_type": "status", "message": message}
                return (self.status("working", (DataPart(data),), agent=agent),)
            case FinalEvent():
                return (self.last_chunk(event),)
            case EventStored() | ErrorEvent() | InterruptedEvent():
                return ()  # the task's final status says how it ended
            case _:
                assert_never(event)

    def _chunk(self, text: str, agent: str) -> ArtifactUpdate:
        first = not self._streamed
        self._streamed.append(text)
        return ArtifactUpdate(
            task_id=self.task_id,
            context_id=self.context_id,
            artifact=TaskArtifact(RESPONSE_ARTIFACT, (TextPart(text),), name=RESPONSE_ARTIFACT),
            append=not first,
            metadata={AGENT_KEY: agent},
        )

    def final_artifact(self, event: FinalEvent) -> TaskArtifact:
        return TaskArtifact(RESPONSE_ARTIFACT, answer_parts(event), name=RESPONSE_ARTIFACT)

    def last_chunk(self, event: FinalEvent) -> ArtifactUpdate:
        artifact = self.final_artifact(event)
        metadata = {AGENT_KEY: event.agent}
        if self._streamed and "".join(self._streamed) == event.text:
            rest = artifact.parts[1:] or (TextPart(""),)
            return ArtifactUpdate(
                task_id=self.task_id,
                context_id=self.context_id,
                artifact=replace(artifact, parts=rest),
                append=True,
                last_chunk=True,
                metadata=metadata,
            )
        return ArtifactUpdate(
            task_id=self.task_id,
            context_id=self.context_id,
            artifact=artifact,
            append=False,
            last_chunk=True,
            metadata=metadata,
        )


def is_final_update(update: TaskUpdate) -> bool:
    return isinstance(update, StatusUpdate) and update.final
