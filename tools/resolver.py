"""From an agent's `tools: [...]` to the tools it may call (SPEC 9).

A name in `tools` is a `tools.<name>` entry (a toolset: one tool for `function`, several for a
built-in type or an MCP server) or a tool registered through the Python API. Built-in toolsets
are built once per resolver (the config a resolver serves never changes); MCP toolsets hold a
connection (or a child process), so each is started once per event loop and kept until
`aclose()`. A server that is down leaves its
toolset empty with a warning (SPEC 9.2: the app still runs; `status()` shows it), and is tried
again on the next resolve.

Every resolved tool says whether a call waits for a person (`needs_approval(arguments)`) and the
prompt to show (`approval_prompt_for(arguments)`), from the config's `require_approval` /
`approval_prompt` or, for built-ins, their per-tool defaults (SPEC 9.3).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.errors import HectorError
from tools.base import DEFAULT_TOOL_TIMEOUT_S, Tool, timeout_of
from tools.builtin import BUILTIN_TOOLSET_TYPES, BuiltinEnvironment, build_builtin_tools
from tools.config import FunctionToolConfig, MCPToolConfig

__all__ = ["ResolvedTool", "ToolResolver", "ToolUnavailable"]

logger = logging.getLogger(__name__)


class ToolUnavailable(HectorError):
    code = "tool_unavailable"


@dataclass(frozen=True, slots=True)
class ResolvedTool:
    tool: Tool
    name: str
    description: str
    parameters: Mapping[str, Any]
    timeout_s: float | None
    approval: Callable[[Mapping[str, Any]], bool]
    prompt: Callable[[Mapping[str, Any]], str]


def _never(arguments: Mapping[str, Any]) -> bool:
    return False


def _always(arguments: Mapping[str, Any]) -> bool:
    return True


def _default_prompt(name: str, configured: str | None) -> Callable[[Mapping[str, Any]], str]:
    def prompt(arguments: Mapping[str, Any]) -> str:
        return configured or f'Allow the agent to call "{name}"?'

    return prompt


class ToolResolver:
    def __init__(
        self,
        tools_config: Mapping[str, Any],
        *,
        functions: Mapping[str, Tool] | None = None,
        environment: BuiltinEnvironment | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self.tools_config = tools_config
        self.functions = dict(functions or {})
        self.environment = environment
        self.base_dir = base_dir
        self._mcp: dict[tuple[str, asyncio.AbstractEventLoop], Any] = {}
        self._builtin: dict[str, list[ResolvedTool]] = {}
        self._mcp_lock: asyncio.Lock | None = None

    async def resolve(self, agent: str, names: Sequence[str]) -> list[ResolvedTool]:
        """The tools behind `names`, in order. Raises `ToolUnavailable` for a name that is
        neither configured nor registered, or a toolset that cannot be built here."""
        resolved: list[ResolvedTool] = []
        for name in names:
            resolved += await self._toolset(agent, name)
        return resolved

    def status(self) -> list[dict[str, Any]]:
        """Health of the MCP servers this resolver started."""
        return [toolset.status() for toolset in self._mcp.values()]

    async def aclose(self) -> None:
        """Stop the MCP toolsets of the running loop (others went with their loop)."""
        loop = asyncio.get_running_loop()
        mine = [(key, ts) for key, ts in self._mcp.items() if key[1] is loop]
        for key, toolset in mine:
            self._mcp.pop(key, None)
            try:
                await toolset.close()
            except Exception:
                logger.warning("mcp server=%s failed to close", key[0], exc_info=True)

    # --- toolsets -----------------------------------------------------------------------------

    async def _toolset(self, agent: str, name: str) -> list[ResolvedTool]:
        config = self.tools_config.get(name)
        if config is None:
            registered = self.functions.get(name)
            if registered is None:
                raise ToolUnavailable(f'agent "{agent}": tool "{name}" is not configured')
            return [self._plain(registered, name, None, None)]
        if not config.enabled:
            return []
        if isinstance(config, FunctionToolConfig):
            return [self._function(agent, name, config)]
        if config.type in BUILTIN_TOOLSET_TYPES:
            if name not in self._builtin:  # schemas and policies are built once, not per run
                self._builtin[name] = self._builtins(agent, name, config)
            return self._builtin[name]
        if isinstance(config, MCPToolConfig):
            return await self._mcp_tools(name, config)
        raise ToolUnavailable(
            f'agent "{agent}": tool "{name}" of type "{config.type}" is not available in this '
            "runtime"
        )

    def _function(self, agent: str, name: str, config: FunctionToolConfig) -> ResolvedTool:
        tool = self.functions.get(config.handler)
        if tool is None:
            raise ToolUnavailable(
                f'agent "{agent}": tool "{name}" needs handler "{config.handler}", which was '
                "not registered (pass it in tools=...)"
            )
        timeout = (
            float(config.timeout)
            if "timeout" in config.model_fields_set
            else timeout_of(tool) or float(config.timeout)
        )
        return ResolvedTool(
            tool,
            name,
            config.description or tool.description,
            config.parameters or tool.parameters,
            timeout,
            _always if config.require_approval else _never,
            _default_prompt(name, config.approval_prompt),
        )

    def _plain(
        self, tool: Tool, name: str, require: bool | None, prompt: str | None
    ) -> ResolvedTool:
        return ResolvedTool(
            tool,
            name,
            tool.description,
            tool.parameters,
            timeout_of(tool) or DEFAULT_TOOL_TIMEOUT_S,
            _always if require else _never,
            _default_prompt(name, prompt),
        )

    def _builtins(self, agent: str, name: str, config: Any) -> list[ResolvedTool]:
        if self.environment is None:
            raise ToolUnavailable(
                f'agent "{agent}": tool "{name}" ({config.type}) needs a workspace, and this '
                "runtime has none"
            )
        try:
            built = build_builtin_tools(name, config, self.environment)
        except HectorError as exc:
            raise ToolUnavailable(f'agent "{agent}": tool "{name}": {exc}') from None
        return [
            ResolvedTool(
                tool,
                tool.name,
                tool.description,
                tool.parameters,
                tool.timeout_s,
                tool.needs_approval,
                tool.approval_prompt_for,
            )
            for tool in built
        ]

    async def _mcp_tools(self, name: str, config: MCPToolConfig) -> list[ResolvedTool]:
        from tools.mcp import MCPToolset  # the mcp SDK loads only for apps that use it

        loop = asyncio.get_running_loop()
        if self._mcp_lock is None:
            self._mcp_lock = asyncio.Lock()
        async with self._mcp_lock:
            toolset = self._mcp.get((name, loop))
            if toolset is None:
                toolset = MCPToolset(name, config, cwd=self.base_dir)
                self._mcp[(name, loop)] = toolset
                await toolset.start()
            elif not toolset.healthy:
                await toolset.refresh()
        return [
            ResolvedTool(
                tool,
                tool.name,
                tool.description,
                tool.parameters,
                tool.timeout_s,
                _always if config.require_approval else _never,
                _default_prompt(tool.name, config.approval_prompt),
            )
            for tool in toolset.tools()
        ]
