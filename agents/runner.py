"""`Runner`: runs one agent turn on a session and yields normalised run events.

The runner owns the invocation: it opens (or creates) the session, stores the user's message,
runs the agent, and guarantees the ending: exactly one `final` or `error` event, or, when the
consuming task is cancelled, a stored "canceled" status and the `CancelledError` re-raised.
Every event is persisted as soon as it exists, so whatever happened before a failure stays in
the session. LLM clients are built once per `llms.<name>` and reused across runs; `aclose()`
releases them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from pathlib import Path
from typing import Any

from agents.config import AgentConfig, HectorConfig
from agents.content import Part, TextPart
from agents.errors import HectorError
from agents.events import ErrorEvent, EventStored, FinalEvent, RunEvent
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
    status_event,
)
from agents.sessions import TEMP_PREFIX, Event, EventActions, Session, SessionService
from tools.base import DEFAULT_TOOL_TIMEOUT_S, Tool, timeout_of

__all__ = ["AgentNotFound", "Runner", "SessionForbidden", "ToolUnavailable", "UnsupportedAgent"]

logger = logging.getLogger(__name__)

LLMFactory = Callable[[LLMConfig], LLM]
UserMessage = str | Message | tuple[Part, ...]


class AgentNotFound(AgentError):
    code = "agent_not_found"


class UnsupportedAgent(AgentError):
    code = "agent_type_unsupported"


class ToolUnavailable(AgentError):
    code = "tool_unavailable"


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
    ) -> None:
        self.config = config
        self.sessions = sessions
        self._tools = dict(tools or {})
        self._llm_factory = llm_factory
        self._given_llms = dict(llms or {})
        # SDK clients hold connections bound to the event loop that opened them, so a client is
        # reused only on its own loop (a worker may run each task on a fresh loop).
        self._built_llms: dict[tuple[str, asyncio.AbstractEventLoop], LLM] = {}
        self._base_dir = Path(base_dir) if base_dir is not None else None
        self._instruction_files: dict[str, str] = {}

    async def aclose(self) -> None:
        """Close the LLM clients this runner built; the next run builds fresh ones."""
        built, self._built_llms = self._built_llms, {}
        loop = asyncio.get_running_loop()
        for (name, owner), client in built.items():
            if owner is not loop:
                continue  # its loop is gone or elsewhere; its connections went with it
            try:
                await client.aclose()
            except Exception:
                logger.warning("llm=%s failed to close", name, exc_info=True)

    async def run(
        self,
        *,
        agent: str,
        user_id: str,
        message: UserMessage,
        session_id: str | None = None,
        state_delta: Mapping[str, Any] | None = None,
        invocation_id: str | None = None,
    ) -> AsyncGenerator[RunEvent, None]:
        """One turn of `agent` on the session; ends with `final` or `error`.

        `state_delta` is stored with the user's message (`temp:` keys only live for this
        invocation). Cancelling the consuming task stops the LLM stream and running tools,
        stores a "canceled" status event and re-raises.
        """
        invocation_id = invocation_id or uuid.uuid4().hex
        try:
            llm_agent = await self._agent(agent)
            session = await self._open_session(agent, user_id, session_id)
            # A session created just now has no history: skip the round trip.
            history = await self.sessions.list_events(session.id) if session.event_count else []
        except Exception as exc:
            yield self._error_event(agent, exc, session_id)
            return
        delta = dict(state_delta or {})
        temp = {k: v for k, v in delta.items() if k.startswith(TEMP_PREFIX)}
        ctx = InvocationContext(
            store=self.sessions,
            session=session,
            invocation_id=invocation_id,
            events=history,
            state={**session.state, **temp},
        )
        user_event = Event(
            author="user",
            role="user",
            parts=_user_parts(message),
            invocation_id=invocation_id,
            actions=EventActions(state_delta=delta),
        )
        finished = False
        try:
            yield EventStored(await ctx.append(user_event))
            async with aclosing(llm_agent.run(ctx)) as events:
                async for event in events:
                    finished = isinstance(event, FinalEvent)
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

    # --- agents --------------------------------------------------------------------------

    async def _agent(self, name: str) -> LLMAgent:
        config = self.config.agents.get(name)
        if config is None:
            known = ", ".join(self.config.agents) or "none"
            raise AgentNotFound(f'agent "{name}" not found (configured: {known})')
        if config.type != "llm":
            raise UnsupportedAgent(
                f'agent "{name}" has type "{config.type}", which this runtime does not run yet '
                "(only llm agents are supported)"
            )
        llm_name = config.llm or self.config.default_llm_name()
        if llm_name is None or llm_name not in self.config.llms:
            raise AgentError(f'agent "{name}" has no LLM (llm: {llm_name or "unset"})')
        llm_config = self.config.llms[llm_name]
        return LLMAgent(
            name=name,
            config=config,
            llm=self._llm(llm_name, llm_config),
            llm_config=llm_config,
            tools=self._agent_tools(name, config),
            instruction=await self._instruction(name, config),
        )

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

    def _agent_tools(self, agent: str, config: AgentConfig) -> dict[str, BoundTool]:
        bound: dict[str, BoundTool] = {}
        for name in config.tools:
            tool_config = self.config.tools.get(name)
            if tool_config is not None and tool_config.type == "function":
                tool = self._tools.get(tool_config.handler)
                if tool is None:
                    raise ToolUnavailable(
                        f'agent "{agent}": tool "{name}" needs handler "{tool_config.handler}", '
                        "which was not registered (pass it in tools=...)"
                    )
                timeout = (
                    float(tool_config.timeout)
                    if "timeout" in tool_config.model_fields_set
                    else timeout_of(tool) or float(tool_config.timeout)
                )
                bound[name] = BoundTool(
                    tool,
                    name,
                    tool_config.description or tool.description,
                    tool_config.parameters or tool.parameters,
                    timeout,
                )
            elif name in self._tools:
                tool = self._tools[name]
                bound[name] = BoundTool(
                    tool,
                    name,
                    tool.description,
                    tool.parameters,
                    timeout_of(tool) or DEFAULT_TOOL_TIMEOUT_S,
                )
            else:
                kind = f' of type "{tool_config.type}"' if tool_config is not None else ""
                raise ToolUnavailable(
                    f'agent "{agent}": tool "{name}"{kind} is not available in this runtime'
                )
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

    async def _open_session(self, agent: str, user_id: str, session_id: str | None) -> Session:
        if session_id is not None:
            session = await self.sessions.get(session_id)
            if session is not None:
                if session.user_id != user_id:
                    raise SessionForbidden(f'session "{session_id}" not found')
                return session
        try:
            return await self.sessions.create(user_id=user_id, agent=agent, session_id=session_id)
        except ValueError:
            # Created concurrently by another run of the same client: use that one.
            assert session_id is not None
            session = await self.sessions.get(session_id, user_id=user_id)
            if session is None:
                raise SessionForbidden(f'session "{session_id}" not found') from None
            return session

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
