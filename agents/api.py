"""The programmatic Python API (SPEC 16): `Hector.from_config(...)` / `Hector.new(...)`, then
`generate`, `generate_sync`, `stream` and `close`.

It is a thin shell over `Runner` and needs no Django, database or network of its own: sessions
are in memory unless a session factory was installed with `set_default_session_factory` (the
Django side installs its Postgres store there, so `agents` never imports Django).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable, Mapping
from contextlib import aclosing
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from pydantic import ValidationError

from agents.config import HectorConfig
from agents.config_errors import pydantic_issues, to_config_issues
from agents.config_loader import load_config_data, load_config_file
from agents.errors import ConfigError, HectorError
from agents.events import ErrorEvent, FinalEvent, InterruptedEvent, RunEvent
from agents.llm.base import LLM
from agents.llm.config import LLMConfig
from agents.llm.factory import build_llm
from agents.runner import LLMFactory, Runner
from agents.sessions import SessionService, default_sessions, set_default_session_factory
from tools.base import FunctionTool, Tool

__all__ = ["Hector", "RunFailed", "set_default_session_factory"]

ToolsArg = Mapping[str, Tool] | Iterable[Tool | Callable[..., Any]] | None

T = TypeVar("T")


class RunFailed(HectorError):
    """`generate` ended with an `error` event; `code` is the event's code."""

    def __init__(self, message: str, *, code: str, session_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.session_id = session_id


class Hector:
    """Agents from one configuration, ready to run.

    Use it from async code (`await h.generate(...)`, `async with`) or from sync code
    (`h.generate_sync(...)`, `with`), not both on one instance: LLM clients bind to the event
    loop they first ran on, and sync calls share one private loop for that reason.
    """

    def __init__(
        self,
        config: HectorConfig,
        *,
        sessions: SessionService | None = None,
        tools: ToolsArg = None,
        llms: Mapping[str, LLM] | None = None,
        llm_factory: LLMFactory = build_llm,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.config = config
        if sessions is None:
            sessions = default_sessions()
        self.sessions = sessions
        self.runner = Runner(
            config,
            sessions=sessions,
            tools=_tool_map(tools),
            llm_factory=llm_factory,
            llms=llms,
            base_dir=base_dir,
        )
        self._sync_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_config(
        cls,
        source: str | os.PathLike[str] | Mapping[str, Any],
        *,
        sessions: SessionService | None = None,
        tools: ToolsArg = None,
    ) -> Hector:
        """Load a YAML file (path) or an already-parsed document, with the CLI's rules;
        raises `ConfigError` listing every problem. `tools` supplies `type: function`
        handlers (by name) and tools named directly in an agent's `tools:`."""
        if isinstance(source, Mapping):
            loaded = load_config_data(source)
            return cls(loaded.config, sessions=sessions, tools=tools)
        loaded = load_config_file(source)
        return cls(loaded.config, sessions=sessions, tools=tools, base_dir=Path(source).parent)

    @classmethod
    def new(
        cls,
        *,
        llm: LLMConfig | LLM,
        instruction: str,
        tools: ToolsArg = (),
        name: str = "assistant",
        sessions: SessionService | None = None,
        **agent_kwargs: Any,
    ) -> Hector:
        """One `llm` agent. `llm` is an `LLMConfig` (see `agents.llms`) or any object with the
        `LLM` interface, used as is (and not closed by `close()`: the caller owns it).
        `agent_kwargs` are further `agents.<name>` keys (output_key, output_schema, ...)."""
        tool_map = _tool_map(tools)
        given: dict[str, LLM] = {}
        if isinstance(llm, LLMConfig):
            llm_config = llm
        else:
            given["default"] = llm
            # Only temperature/max_tokens/thinking of this entry are used; the client is `llm`.
            llm_config = LLMConfig.model_validate(
                {"provider": "ollama", "model": getattr(llm, "model", None) or "custom"},
                context={"env": {}},
            )
        agent = {"llm": "default", "instruction": instruction, "tools": list(tool_map)}
        document = {"llms": {"default": llm_config}, "agents": {name: agent | agent_kwargs}}
        try:
            config = HectorConfig.model_validate(document)
        except ValidationError as exc:
            issues = to_config_issues(pydantic_issues(exc), None)
            raise ConfigError(issues, source="Hector.new") from None
        return cls(config, sessions=sessions, tools=tool_map, llms=given)

    # --- running -------------------------------------------------------------------------

    async def stream(
        self,
        text: str,
        *,
        agent: str | None = None,
        session_id: str | None = None,
        user_id: str = "default",
        state_delta: Mapping[str, Any] | None = None,
    ) -> AsyncGenerator[RunEvent, None]:
        """The run's events as they happen; the last is `final` or `error`."""
        async with aclosing(
            self.runner.run(
                agent=agent or self.config.default_agent_name() or "",
                user_id=user_id,
                message=text,
                session_id=session_id,
                state_delta=state_delta,
            )
        ) as events:
            async for event in events:
                yield event

    async def generate(
        self,
        text: str,
        *,
        agent: str | None = None,
        session_id: str | None = None,
        user_id: str = "default",
        state_delta: Mapping[str, Any] | None = None,
    ) -> str:
        """One turn; the final text. Raises `RunFailed` when the run ends with an error."""
        async with aclosing(
            self.stream(
                text, agent=agent, session_id=session_id, user_id=user_id, state_delta=state_delta
            )
        ) as events:
            async for event in events:
                if isinstance(event, FinalEvent):
                    return event.text
                if isinstance(event, ErrorEvent):
                    raise RunFailed(event.message, code=event.code, session_id=event.session_id)
                if isinstance(event, InterruptedEvent):
                    # A remote agent asks something: the caller answers on the same session.
                    raise RunFailed(
                        f"the agent needs input: {event.message}",
                        code=event.state.replace("-", "_"),
                        session_id=event.session_id,
                    )
        raise RunFailed("the run ended without an answer", code="no_answer")

    def generate_sync(
        self,
        text: str,
        *,
        agent: str | None = None,
        session_id: str | None = None,
        user_id: str = "default",
        state_delta: Mapping[str, Any] | None = None,
    ) -> str:
        """`generate` for sync callers (not from inside a running event loop)."""
        return self._run_sync(
            self.generate(
                text, agent=agent, session_id=session_id, user_id=user_id, state_delta=state_delta
            )
        )

    def _run_sync(self, coroutine: Coroutine[Any, Any, T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coroutine.close()
            raise RuntimeError("generate_sync() called from a running event loop; await generate()")
        if self._sync_loop is None or self._sync_loop.is_closed():
            self._sync_loop = asyncio.new_event_loop()
        return self._sync_loop.run_until_complete(coroutine)

    # --- lifecycle -----------------------------------------------------------------------

    async def close(self) -> None:
        """Release the LLM clients built from config (MCP processes join later)."""
        await self.runner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop = self._sync_loop
        if loop is None or loop.is_closed():
            self._sync_loop = loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.close())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _tool_map(tools: ToolsArg) -> dict[str, Tool]:
    """Tools by name; plain functions become `FunctionTool`s."""
    if tools is None:
        return {}
    if isinstance(tools, Mapping):
        return dict(tools)
    result: dict[str, Tool] = {}
    for item in tools:
        built = item if isinstance(item, Tool) else FunctionTool(item)
        if built.name in result:
            raise ValueError(f'two tools are named "{built.name}"')
        result[built.name] = built
    return result
