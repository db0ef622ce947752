"""`Runner`: runs one agent turn on a session and yields normalised run events.

The runner owns the invocation: it opens (or creates) the session, stores the user's message,
builds the agent tree (workflow children, agent tools, transfer targets, control tools) and runs
it, and guarantees the ending: exactly one `final`, `interrupted` or `error` event, or, when the
consuming task is cancelled, a stored "canceled" status and the `CancelledError` re-raised.
Every event is persisted as soon as it exists, so whatever happened before a failure stays in
the session. LLM clients are built once per `llms.<name>` and reused across runs; `aclose()`
releases them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, assert_never

from agents.a2a_client import A2AClient
from agents.config import AgentConfig, HectorConfig
from agents.content import Part, TextPart, ToolCallPart, ToolResultPart
from agents.control import active_agent_key, escalate_tool, exit_loop_tool, transfer_tool
from agents.delegation import AGENT_TOOL_TIMEOUT_S, AgentTool, TransferDriver
from agents.errors import HectorError
from agents.events import ErrorEvent, EventStored, FinalEvent, InterruptedEvent, RunEvent
from agents.invocation import Agent
from agents.invocation import resume as resume_agent
from agents.llm.base import (
    LLM,
    AuthenticationError,
    BadRequestError,
    ContextTooLongError,
    LLMError,
    MalformedResponseError,
    Message,
    ProviderUnavailableError,
    RateLimitError,
)
from agents.llm.config import LLMConfig
from agents.llm.factory import RemoteLLMRefused, build_llm
from agents.llm_agent import (
    AgentError,
    BoundTool,
    InvocationContext,
    LLMAgent,
    approval_pause,
    status_event,
    status_of,
)
from agents.remote_agent import RemoteAgent
from agents.sessions import TEMP_PREFIX, Event, EventActions, Opened, SessionService
from agents.steps_agent import StepsAgent
from agents.workflow import ConditionalAgent, LoopAgent, ParallelAgent, SequentialAgent
from tools.approvals import (
    Approval,
    ApprovalGate,
    ApprovalNotPending,
    ApprovalStore,
    InMemoryApprovalStore,
)
from tools.approvals import parse_decision as parse_approval_decision
from tools.base import Tool
from tools.builtin import BuiltinEnvironment, InMemoryMemoryStore
from tools.resolver import ResolvedTool, ToolResolver, ToolUnavailable

__all__ = ["AgentCycle", "AgentNotFound", "Runner", "SessionForbidden", "ToolUnavailable"]

logger = logging.getLogger(__name__)

LLMFactory = Callable[[LLMConfig], LLM]
UserMessage = str | Message | tuple[Part, ...]


class AgentNotFound(AgentError):
    code = "agent_not_found"


class AgentCycle(AgentError):
    """An agent reaches itself through sub-agents or agent tools; config validation reports it
    first, this guards configs built in code."""

    code = "agent_cycle"


class SessionForbidden(AgentError):
    """The session id exists but belongs to another user. Worded as "not found" so ids do not
    leak between users (STYLE.md section 3)."""

    code = "session_not_found"


#: Stable codes for the provider failures a caller may want to tell apart.
_LLM_ERROR_CODES: tuple[tuple[type[LLMError], str], ...] = (
    (AuthenticationError, "llm_authentication"),
    (RateLimitError, "llm_rate_limited"),
    (ContextTooLongError, "llm_context_too_long"),
    (BadRequestError, "llm_bad_request"),
    (ProviderUnavailableError, "llm_unavailable"),
    (MalformedResponseError, "llm_malformed_response"),
)


class Runner:
    """Runs agents of one validated config against a session store.

    `tools` maps names to tools: an agent's `tools:` entry is looked up there directly, or, for
    a `type: function` entry of the config, by its `handler`. `llms` are clients the caller owns,
    by LLM name (used as they are and never closed); others come from `llm_factory` and are
    closed by `aclose()`. `base_dir` is where `instruction_file` paths are relative to.
    """

    def __init__(
        self,
        config: HectorConfig,
        *,
        sessions: SessionService,
        tools: Mapping[str, Tool] | None = None,
        llm_factory: LLMFactory = build_llm,
        llms: Mapping[str, LLM] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        tool_environment: BuiltinEnvironment | None = None,
        approvals: ApprovalStore | None = None,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self._tools = dict(tools or {})
        environment = tool_environment or BuiltinEnvironment.for_app(
            Path(os.environ.get("HECTOR_DATA_DIR") or ".hector"),
            "default",
            memory=InMemoryMemoryStore(),
        )
        self._resolver = ToolResolver(
            config.tools,
            functions=self._tools,
            environment=environment,
            base_dir=Path(base_dir) if base_dir is not None else None,
        )
        policy = config.server.approval
        self.approvals = ApprovalGate(
            approvals if approvals is not None else InMemoryApprovalStore(),
            timeout_s=float(policy.timeout) if policy.timeout else None,
            webhook_url=policy.webhook_url,
        )
        self._llm_factory = llm_factory
        self._given_llms = dict(llms or {})
        # SDK clients hold connections bound to the event loop that opened them, so a client is
        # reused only on its own loop (a worker may run each task on a fresh loop).
        self._built_llms: dict[tuple[str, asyncio.AbstractEventLoop], LLM] = {}
        self._base_dir = Path(base_dir) if base_dir is not None else None
        self._instruction_files: dict[str, str] = {}
        self._remotes: dict[tuple[str, asyncio.AbstractEventLoop], A2AClient] = {}

    def tool_status(self) -> list[dict[str, Any]]:
        """Health of the MCP servers this runner connected (SPEC 9.2: shown by /health)."""
        return self._resolver.status()

    async def aclose(self) -> None:
        """Close the LLM and remote-agent clients and the MCP servers this runner started; the
        next run starts fresh ones."""
        await self._resolver.aclose()
        built, self._built_llms = self._built_llms, {}
        remotes, self._remotes = self._remotes, {}
        # Clients of other loops are skipped: their loop is gone or elsewhere, with their
        # connections.
        await self._close_clients(built, remotes, asyncio.get_running_loop())

    async def release_loop(self) -> None:
        """Close the LLM and remote-agent clients bound to the running loop, before that loop
        ends (a worker runs each task on a loop of its own). Unclosed, their connections would
        only be dropped by the garbage collector, with an error logged for each aiohttp session."""
        loop = asyncio.get_running_loop()
        built = {key: self._built_llms.pop(key) for key in list(self._built_llms) if key[1] is loop}
        remotes = {key: self._remotes.pop(key) for key in list(self._remotes) if key[1] is loop}
        await self._close_clients(built, remotes, loop)

    @staticmethod
    async def _close_clients(
        built: Mapping[tuple[str, asyncio.AbstractEventLoop], LLM],
        remotes: Mapping[tuple[str, asyncio.AbstractEventLoop], A2AClient],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """Close those of `loop`."""
        clients: list[tuple[str, Any]] = [
            (f"llm={n}", c) for (n, owner), c in built.items() if owner is loop
        ]
        clients += [(f"remote={n}", c) for (n, owner), c in remotes.items() if owner is loop]
        for name, client in clients:
            try:
                await client.aclose()
            except Exception:
                logger.warning("%s failed to close", name, exc_info=True)

    async def run(
        self,
        *,
        agent: str,
        user_id: str,
        message: UserMessage,
        session_id: str | None = None,
        state_delta: Mapping[str, Any] | None = None,
        invocation_id: str | None = None,
        resume: bool = False,
        task_id: str | None = None,
    ) -> AsyncGenerator[RunEvent, None]:
        """One turn of `agent` on the session; ends with `final`, `interrupted` (a remote agent
        waits for the caller's next message) or `error`.

        `state_delta` is stored with the user's message (`temp:` keys only live for this
        invocation). Cancelling the consuming task stops the LLM stream and running tools,
        stores a "canceled" status event and re-raises. `resume` continues invocation
        `invocation_id` where the session says it stopped (a retry, or a run whose process died)
        instead of storing `message` again; without stored events of it, the turn starts anew.

        A session whose last model turn waits for approval (SPEC 8) takes `message` as the
        decision (`parse_decision`): it is not stored as a turn of the conversation, the calls
        are decided and the waiting invocation resumes; a message that decides nothing asks
        again. `task_id` names the A2A task the turn serves, kept with approval requests.
        """
        invocation_id = invocation_id or uuid.uuid4().hex
        delta = dict(state_delta or {})
        user_event = Event(
            author="user",
            role="user",
            parts=_user_parts(message),
            invocation_id=invocation_id,
            actions=EventActions(state_delta=delta),
        )
        try:
            root = await self._agent(agent)
            # A new session is created with the message as its first event, in one step.
            session, first = await self._open_session(agent, user_id, session_id, user_event)
            # A session created just now has no history: skip the round trip.
            history = await self.sessions.list_events(session.id) if session.event_count else []
        except Exception as exc:
            yield self._error_event(agent, exc, session_id)
            return
        temp = {k: v for k, v in delta.items() if k.startswith(TEMP_PREFIX)}
        ctx = InvocationContext(
            store=self.sessions,
            session=session,
            invocation_id=invocation_id,
            # The root sees the conversation; children's branches are theirs (forks read `log`).
            events=[e for e in history if e.visible_in("")],
            state={**session.state, **temp},
            log=history,
            approvals=self.approvals,
            task_id=task_id,
        )
        finished = False
        try:
            awaiting = await self._awaiting_approval(ctx)
            if awaiting:
                turn = self._decide_and_resume(root, ctx, awaiting, _user_parts(message))
            elif resume and any(e.invocation_id == invocation_id for e in history):
                turn = resume_agent(root, ctx)
            else:
                stored = (
                    ctx.adopt(user_event, first)
                    if first is not None
                    else await ctx.append(user_event)
                )
                yield EventStored(stored)
                turn = root.run(ctx)
            async with aclosing(turn) as events:
                async for event in events:
                    finished = isinstance(event, FinalEvent | InterruptedEvent)
                    yield event
        except (asyncio.CancelledError, GeneratorExit):
            # A consumer that stops reading after `final` has not cancelled anything.
            if not finished:
                await self._record_status(ctx, agent, "canceled", "canceled")
            raise
        except Exception as exc:
            error = self._error_event(agent, exc, session.id)
            await self._record_status(ctx, agent, "failed", error.message)
            yield error

    # --- approvals -----------------------------------------------------------------------

    async def _awaiting_approval(self, ctx: InvocationContext) -> list[Approval]:
        """The approvals asked for the calls of the conversation's last model turn that have no
        results yet; [] when that turn is answered (the common case costs no query)."""
        calls = _unanswered_calls(ctx.events)
        if not calls:
            return []
        found = [await self.approvals.store.for_call(ctx.session.id, c.call_id) for c in calls]
        return [approval for approval in found if approval is not None]

    async def _decide_and_resume(
        self,
        root: Agent,
        ctx: InvocationContext,
        awaiting: list[Approval],
        parts: tuple[Part, ...],
    ) -> AsyncGenerator[RunEvent, None]:
        for approval in awaiting:
            if approval.state == "pending" and approval.current_state() == "expired":
                with contextlib.suppress(ApprovalNotPending):  # record the expiry: a denial
                    await self.approvals.store.decide(
                        approval.id, approved=False, reason="expired", decided_by="timeout"
                    )
        pending = [a for a in awaiting if a.current_state() == "pending"]
        if pending:
            decision = parse_approval_decision(parts)
            targets = [
                a for a in pending if decision is not None and decision.approval_id in (None, a.id)
            ]
            if decision is None or not targets:
                note = (
                    f'no pending approval "{decision.approval_id}"; '
                    if decision is not None
                    else "that was not a decision; "
                )
                yield approval_pause(awaiting[0].agent, ctx.session.id, pending, note)
                return
            for approval in targets:
                # Decided meanwhile (the admin, a webhook): that decision stands.
                with contextlib.suppress(ApprovalNotPending):
                    await self.approvals.store.decide(
                        approval.id,
                        approved=decision.approved,
                        reason=decision.reason,
                        decided_by=ctx.user_id,
                    )
            remaining = [a for a in pending if a not in targets]
            if remaining:
                yield approval_pause(awaiting[0].agent, ctx.session.id, remaining)
                return
        ctx.invocation_id = awaiting[0].invocation_id or ctx.invocation_id
        async with aclosing(resume_agent(root, ctx)) as events:
            async for event in events:
                yield event

    # --- agents --------------------------------------------------------------------------

    async def _agent(self, name: str) -> Agent:
        """The agent `name` as a tree ready to run: workflow children, agent tools, transfer
        targets and control tools included. Built per run (cheap: LLM clients and instruction
        files are cached), so a run always uses the config it started with."""
        return await self._build(name, _Place())

    async def _build(self, name: str, place: _Place) -> Agent:
        config = self.config.agents.get(name)
        if config is None:
            known = ", ".join(self.config.agents) or "none"
            raise AgentNotFound(f'agent "{name}" not found (configured: {known})')
        if name in place.path:
            chain = " -> ".join([*place.path[place.path.index(name) :], name])
            raise AgentCycle(f"agent cycle: {chain}")
        inner = dataclasses.replace(place, path=(*place.path, name))
        match config.type:
            case "llm":
                if config.sub_agents and place.transfer_root is None:
                    return self._transfer_driver(name, place)
                return await self._llm_agent(name, config, inner)
            case "sequential":
                children = [await self._build(c, inner.in_workflow()) for c in config.sub_agents]
                return SequentialAgent(name, config, children)
            case "parallel":
                children = [await self._build(c, inner.in_workflow()) for c in config.sub_agents]
                return ParallelAgent(name, config, children)
            case "loop":
                step = inner.in_workflow(loop=True)
                children = [await self._build(c, step) for c in config.sub_agents]
                return LoopAgent(name, config, children, config.max_iterations or 3)
            case "conditional":
                return await self._conditional(name, config, inner)
            case "runner":
                return StepsAgent(name, config, await self._agent_tools(name, config))
            case "remote":
                return RemoteAgent(name, config, self._remote_client(name, config))
            case _:
                assert_never(config.type)

    async def _llm_agent(self, name: str, config: AgentConfig, place: _Place) -> LLMAgent:
        llm_name = config.llm or self.config.default_llm_name()
        if llm_name is None or llm_name not in self.config.llms:
            raise AgentError(f'agent "{name}" has no LLM (llm: {llm_name or "unset"})')
        llm_config = self.config.llms[llm_name]
        tools = await self._agent_tools(name, config)
        tools.update(await self._delegation_tools(name, config, place))
        return LLMAgent(
            name=name,
            config=config,
            llm=self._llm(llm_name, llm_config),
            llm_config=llm_config,
            tools=tools,
            instruction=await self._instruction(name, config),
        )

    async def _conditional(self, name: str, config: AgentConfig, place: _Place) -> ConditionalAgent:
        # Validation guarantees condition_agent; a config built in code may still lack it.
        if not config.condition_agent:
            raise AgentError(f'conditional agent "{name}" has no condition_agent')
        branch = place.plain()
        condition = await self._build(config.condition_agent, branch)
        on_true = await self._build(config.on_true_agent, branch) if config.on_true_agent else None
        on_false = (
            await self._build(config.on_false_agent, branch) if config.on_false_agent else None
        )
        return ConditionalAgent(name, config, condition, on_true, on_false)

    def _transfer_driver(self, root: str, place: _Place) -> TransferDriver:
        """`root` and every agent reachable through llm agents' `sub_agents`, as one agent that
        runs whichever is active (SPEC 4.3)."""
        parents: dict[str, str | None] = {root: None}
        queue = [root]
        while queue:
            current = queue.pop(0)
            if self.config.agents[current].type != "llm":
                continue  # a workflow target answers; it does not hand over further
            for child in self.config.agents[current].sub_agents:
                if child not in parents and child in self.config.agents:
                    parents[child] = current
                    queue.append(child)

        async def build(member: str) -> Agent:
            member_place = dataclasses.replace(
                place, transfer_root=root, transfer_parent=parents[member]
            )
            return await self._build(member, member_place)

        return TransferDriver(root, frozenset(parents), build)

    async def _delegation_tools(
        self, name: str, config: AgentConfig, place: _Place
    ) -> dict[str, BoundTool]:
        """Agent tools, transfer tools and the control tools of the agent's place."""
        bound: dict[str, BoundTool] = {}
        for child in config.agent_tools:
            agent = await self._build(child, _Place(path=place.path))
            child_config = self.config.agents[child]
            timeout = (
                float(child_config.timeout)
                if child_config.timeout is not None
                else AGENT_TOOL_TIMEOUT_S
            )
            description = child_config.description or f"Ask the {child} agent to do something."
            tool = AgentTool(agent, caller=name, description=description, timeout_s=timeout)
            bound[child] = BoundTool(tool, child, description, tool.parameters, timeout)
        if place.transfer_root is not None:
            key = active_agent_key(place.transfer_root)
            targets = [*config.sub_agents]
            if place.transfer_parent is not None:
                targets.append(place.transfer_parent)
            for target in targets:
                target_config = self.config.agents.get(target)
                if target_config is None:
                    continue  # validation reports it
                # An llm target can hand back later; any other answers once, then we are active.
                active = target if target_config.type == "llm" else name
                tool = transfer_tool(target, target_config.description, state={key: active})
                bound[tool.name] = BoundTool(
                    tool, tool.name, tool.description, tool.parameters, None
                )
        controls = [exit_loop_tool()] if place.in_loop else []
        if place.is_in_workflow:
            controls.append(escalate_tool())
        for control in controls:
            bound[control.name] = BoundTool(
                control, control.name, control.description, control.parameters, None
            )
        return bound

    def _remote_client(self, name: str, config: AgentConfig) -> A2AClient:
        """One client per remote agent and event loop (its connections belong to the loop)."""
        loop = asyncio.get_running_loop()
        for key in [k for k in self._remotes if k[1].is_closed()]:
            del self._remotes[key]
        client = self._remotes.get((name, loop))
        if client is None:
            card_file = config.agent_card_file
            if card_file and self._base_dir is not None and not Path(card_file).is_absolute():
                card_file = str(self._base_dir / card_file)
            client = A2AClient(
                url=config.url,
                agent_card_url=config.agent_card_url,
                agent_card_file=card_file,
                headers=config.headers,
                timeout_s=float(config.timeout) if config.timeout is not None else 30.0,
                allowed_hosts=self.config.server.remote_allowed_hosts,
            )
            self._remotes[(name, loop)] = client
        return client

    def _llm(self, name: str, config: LLMConfig) -> LLM:
        if name in self._given_llms:
            return self._given_llms[name]
        loop = asyncio.get_running_loop()
        for key in [k for k in self._built_llms if k[1].is_closed()]:
            del self._built_llms[key]
        client = self._built_llms.get((name, loop))
        if client is None:
            client = self._built_llms[(name, loop)] = self._llm_factory(config)
        return client

    async def _agent_tools(self, agent: str, config: AgentConfig) -> dict[str, BoundTool]:
        """The configured tools an agent uses: its `tools` (each a toolset: one tool, or all of
        a built-in type or an MCP server), plus those its `steps` call by name."""
        bound: dict[str, BoundTool] = {}
        for resolved in await self._resolver.resolve(agent, list(dict.fromkeys(config.tools))):
            bound[resolved.name] = _bind(resolved)
        extra = [s.tool for s in config.steps if s.tool not in bound]
        for resolved in await self._resolver.resolve(agent, list(dict.fromkeys(extra))):
            bound.setdefault(resolved.name, _bind(resolved))
        return bound

    async def _instruction(self, name: str, config: AgentConfig) -> str:
        """`instruction_file` (front matter dropped) wins over `instruction`; read once."""
        path = config.instruction_file
        if not path:
            return config.instruction or ""
        if path not in self._instruction_files:
            file = Path(path)
            if not file.is_absolute() and self._base_dir is not None:
                file = self._base_dir / file
            try:
                text = await asyncio.to_thread(file.read_text, encoding="utf-8")
            except OSError as exc:
                raise AgentError(
                    f'agent "{name}": cannot read instruction_file {path}: {exc.strerror}'
                ) from None
            self._instruction_files[path] = _without_front_matter(text)
        return self._instruction_files[path]

    # --- sessions ------------------------------------------------------------------------

    async def _open_session(
        self, agent: str, user_id: str, session_id: str | None, first: Event
    ) -> Opened:
        """The session, with `first` stored as its first event when it is created here (a
        session that already has events may be waiting for an approval decision instead)."""
        if session_id is None:
            session = await self.sessions.create(user_id=user_id, agent=agent)
            return Opened(session, None)
        opened = await self.sessions.open_or_start(
            session_id, user_id=user_id, agent=agent, first=first
        )
        if opened.session.user_id != user_id:
            raise SessionForbidden(f'session "{session_id}" not found')
        return opened

    async def _record_status(
        self, ctx: InvocationContext, agent: str, state: str, message: str
    ) -> None:
        """Store how the run ended; shielded so a second cancel cannot lose the write."""
        event = status_event(
            agent=agent, invocation_id=ctx.invocation_id, state=state, message=message
        )
        try:
            await asyncio.shield(ctx.append(event))
        except Exception:
            logger.warning(
                "session=%s could not record %s status", ctx.session.id, state, exc_info=True
            )

    # --- errors --------------------------------------------------------------------------

    def _error_event(self, agent: str, exc: Exception, session_id: str | None) -> ErrorEvent:
        if isinstance(exc, LLMError):
            code = next((c for cls, c in _LLM_ERROR_CODES if isinstance(exc, cls)), "llm_error")
            logger.warning("agent=%s session=%s llm failed: %s", agent, session_id, exc)
            return ErrorEvent(agent, str(exc), code, session_id)
        if isinstance(exc, RemoteLLMRefused):
            return ErrorEvent(agent, str(exc), "llm_refused", session_id)
        if isinstance(exc, HectorError):
            return ErrorEvent(agent, str(exc), exc.code, session_id)
        return self._unexpected(agent, exc, session_id)

    def _unexpected(self, agent: str, exc: Exception, session_id: str | None) -> ErrorEvent:
        logger.exception("agent=%s session=%s run failed", agent, session_id, exc_info=exc)
        message = f"internal error: {type(exc).__name__}"
        return ErrorEvent(agent, message, "internal_error", session_id)


@dataclass(frozen=True, slots=True)
class _Place:
    """Where in the agent tree an agent is being built; decides the control tools it gets.

    `path` is the chain of agents above it (a guard against cycles). Inside a workflow an
    `llm` agent may `escalate`, inside a loop also `exit_loop`. `transfer_root` is set for the
    members of a transfer tree: they get `transfer_to_<sub-agent>` tools and one back to
    `transfer_parent`.
    """

    path: tuple[str, ...] = ()
    is_in_workflow: bool = False
    in_loop: bool = False
    transfer_root: str | None = None
    transfer_parent: str | None = None

    def in_workflow(self, *, loop: bool = False) -> _Place:
        """The place of a workflow's child: a new transfer scope, inside the workflow."""
        return _Place(self.path, True, self.in_loop or loop)

    def plain(self) -> _Place:
        """A conditional's branch: same workflow context, new transfer scope."""
        return _Place(self.path, self.is_in_workflow, self.in_loop)


def _bind(resolved: ResolvedTool) -> BoundTool:
    return BoundTool(
        resolved.tool,
        resolved.name,
        resolved.description,
        resolved.parameters,
        resolved.timeout_s,
        resolved.approval,
        resolved.prompt,
    )


def _unanswered_calls(events: list[Event]) -> list[ToolCallPart]:
    """Calls of the last model turn that no later event answers (a round paused for approval,
    or cut short by a crash)."""
    answered: set[str] = set()
    for event in reversed(events):
        if status_of(event) is not None:
            continue
        answered.update(p.call_id for p in event.parts if isinstance(p, ToolResultPart))
        calls = [p for p in event.parts if isinstance(p, ToolCallPart)]
        if calls:
            return [c for c in calls if c.call_id not in answered]
        if event.role == "user" and not answered:
            return []  # a user turn after the last model turn: nothing is waiting
    return []


def _user_parts(message: UserMessage) -> tuple[Part, ...]:
    if isinstance(message, str):
        return (TextPart(message),)
    if isinstance(message, Message):
        return message.parts
    return tuple(message)


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def _without_front_matter(text: str) -> str:
    """A SKILL.md's YAML front matter describes the skill; the body is the instruction."""
    return _FRONT_MATTER.sub("", text, count=1).strip()
