"""One run of an agent tree on one session: the `InvocationContext` every agent receives, and the
`Agent` interface every agent type implements.

An invocation has one session and one event log, but its agents may run on different branches of
it (SPEC 4.2, 4.3): a parallel agent's children and an agent called as a tool each get a *fork*
with its own branch (`parent.child`), its own view of the history and its own copy of the state,
so siblings never see each other's turns and never race on state. Forks still append to the same
session, in real time, so nothing a child did is lost when another fails.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agents.events import RunEvent
from agents.sessions import Artifact, Event, Session, SessionService
from tools.approvals import ApprovalGate
from tools.base import ToolContext, ToolOutput

__all__ = ["Agent", "Emit", "InvocationContext", "InvocationTool", "resume"]

Emit = Callable[[RunEvent], None]


@dataclass(slots=True)
class InvocationContext:
    """One run of one agent (tree) on one session.

    `events` is the history this context's agent sees (its branch and the branches above it),
    read once and extended as the context appends, so it is never re-read per LLM call. `log` is
    every event of the session this invocation knows of, on any branch; forks share it, so a fork
    made later sees what earlier branches stored. `state` is the merged state the run sees: read
    when the invocation started, plus every delta it wrote since, `temp:` keys included. `temp:`
    keys live only here (the store drops them), which is exactly their scope (SPEC 6).
    `written` collects the deltas this context appended, so a fork's changes can be merged into
    its parent deterministically. `approvals` holds tool calls for a person (None: calls that
    would need approval run without asking, e.g. an agent built directly in a unit test);
    `task_id` is the A2A task the invocation serves, when there is one.
    """

    store: SessionService
    session: Session
    invocation_id: str
    events: list[Event]
    state: dict[str, Any]
    branch: str = ""
    log: list[Event] | None = None
    written: dict[str, Any] = field(default_factory=dict)
    approvals: ApprovalGate | None = None
    task_id: str | None = None

    @property
    def user_id(self) -> str:
        return self.session.user_id

    async def append(self, event: Event) -> Event:
        if self.branch and not event.branch:
            event = dataclasses.replace(event, branch=self.branch)
        return self.adopt(event, await self.store.append_event(self.session, event))

    def adopt(self, event: Event, stored: Event) -> Event:
        """What `append` records of an event the store has already stored as `stored` (a new
        session's first, stored with it)."""
        self.state.update(event.actions.state_delta)
        self.written.update(event.actions.state_delta)
        self.events.append(stored)
        if self.log is not None and self.log is not self.events:
            self.log.append(stored)
        return stored

    async def load_artifact(self, name: str) -> Artifact | None:
        return await self.store.load_artifact(self.session, name=name)

    def fork(self, branch: str, *, events: list[Event] | None = None) -> InvocationContext:
        """A context for a child on `branch`: the history visible there (or `events`), a copy of
        the state, nothing written yet."""
        log = self.log if self.log is not None else self.events
        visible = events if events is not None else [e for e in log if e.visible_in(branch)]
        return InvocationContext(
            store=self.store,
            session=self.session,
            invocation_id=self.invocation_id,
            events=visible,
            state=dict(self.state),
            branch=branch,
            log=log,
            approvals=self.approvals,
            task_id=self.task_id,
        )

    def child_branch(self, parent: str, child: str) -> str:
        """SPEC 4.2: a child's branch is `parent.child`, below the branch the parent runs on."""
        return f"{self.branch or parent}.{child}"


class Agent(Protocol):
    """Anything the runner can run. `run` yields the agent's events and ends with its
    `FinalEvent` (or an `InterruptedEvent`); failures raise."""

    @property
    def name(self) -> str: ...

    def run(self, ctx: InvocationContext) -> AsyncGenerator[RunEvent, None]: ...


def resume(agent: Agent, ctx: InvocationContext) -> AsyncGenerator[RunEvent, None]:
    """The rest of `ctx`'s invocation of `agent`, which stopped early (a retry after a crash, an
    approval now decided): an agent that knows where it stopped (`resume`: `llm`, the
    workflows) goes on from there; any other runs again."""
    go_on = getattr(agent, "resume", None)
    return go_on(ctx) if go_on is not None else agent.run(ctx)


@runtime_checkable
class InvocationTool(Protocol):
    """A tool that needs the invocation it runs in, not just a `ToolContext`: an agent offered as
    a tool forks the caller's context and streams its child's events through `emit`."""

    async def call_in(
        self,
        invocation: InvocationContext,
        arguments: Mapping[str, Any],
        context: ToolContext,
        emit: Emit,
    ) -> ToolOutput: ...
