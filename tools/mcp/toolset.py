"""`MCPToolset`: one MCP server's tools (SPEC 9.2), through the official `mcp` SDK client.

One background asyncio task per toolset owns the connection: the SDK's transports and session
are anyio context managers that must be entered and left in one task, while calls come from
many runner tasks. A call runs as a child of the connection's task group and the caller awaits
its result; a cancelled caller cancels that child, and the SDK then sends
`notifications/cancelled` so the server stops too.

Nothing here raises at the agent. A server that will not start, dies mid-call or misbehaves
yields an error `ToolOutput` naming it (`MCP server "fs" ...`); at start it only costs a warning,
its tools are absent, and `healthy` / `last_error` say why. A dead connection (a crashed stdio
server, a dropped event stream) is reopened on next use; consecutive failures back off
exponentially, and calls arriving during the pause fail fast instead of waiting it out. A call
is sent again on the new connection only when the old one was gone before it went out (a stdio
call is preceded by a cheap probe for exactly that); one that may have reached the server is
reported, never repeated, since the tool may have acted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

import anyio
import anyio.abc
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import (
    CONNECTION_CLOSED,
    CallToolResult,
    Implementation,
    ServerNotification,
    Tool,
    ToolListChangedNotification,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tools.base import DEFAULT_TOOL_TIMEOUT_S, ToolContext, ToolOutput
from tools.config import MCPToolConfig
from tools.mcp.results import argument_error, arguments_validator, input_schema, to_output
from tools.mcp.transport import SendMark, StderrTail, open_transport, sending

__all__ = ["MCPTool", "MCPToolset"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

CLIENT_INFO = Implementation(name="hector", version="0.1.0")
#: Restart pauses after consecutive failures: none after the first, then 0.5 s doubling to 30 s.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
#: Our own deadline fires this much before the runner's, so the error names the server.
RUNNER_GRACE_S = 1.0
#: A stdio server gets 2 s to exit after stdin closes, then SIGTERM, then SIGKILL (the SDK's).
CLOSE_TIMEOUT_S = 10.0
MAX_LIST_PAGES = 100


class _Unavailable(Exception):
    """The server cannot be reached now; the message completes `MCP server "x" ...`."""


class _NotSent(Exception):
    """The connection was gone before the request went out: safe to send again."""


class _Lost(Exception):
    """The connection ended after the request went out: the server may have acted on it."""


@dataclass(slots=True)
class _Live:
    """One open session, owned by the connection task."""

    client: Client
    group: anyio.abc.TaskGroup
    ended: asyncio.Event
    changed: asyncio.Event

    @property
    def is_open(self) -> bool:
        return not self.ended.is_set()


@dataclass(slots=True)
class _Request:
    operation: Callable[[Client], Awaitable[Any]]
    future: asyncio.Future[Any]
    mark: SendMark = field(default_factory=SendMark)
    scope: anyio.CancelScope | None = None


class MCPTool:
    """One server tool as the runner sees it: exposed name (with `prefix`), the server's
    description and input schema, and the toolset's timeout."""

    def __init__(self, toolset: MCPToolset, tool: Tool) -> None:
        self.toolset = toolset
        self.server_name: str = tool.name
        self.name: str = (toolset.config.prefix or "") + tool.name
        self.description: str = tool.description or tool.title or tool.name
        self.parameters: Mapping[str, Any] = input_schema(tool.input_schema)
        self.output_schema: Mapping[str, Any] | None = tool.output_schema
        self._validator = arguments_validator(toolset.name, tool.name, self.parameters)

    @property
    def timeout_s(self) -> float:
        """The runner's deadline: a little past ours, so ours (which names the server) fires."""
        return self.toolset.timeout_s + RUNNER_GRACE_S

    def __repr__(self) -> str:
        return f"MCPTool({self.toolset.name!r}, {self.name!r})"

    async def call(self, arguments: Mapping[str, Any], context: ToolContext) -> ToolOutput:
        if self._validator is not None:
            problem = argument_error(self._validator, arguments)
            if problem is not None:
                return ToolOutput.error(f'invalid arguments for tool "{self.name}": {problem}')
        return await self.toolset.call(self.server_name, arguments)


class MCPToolset:
    """The tools of one MCP server, kept connected.

    Lifecycle: `await start()` once (connects and lists; never raises, returns `healthy`), then
    `tools()` as often as needed, `await close()` at shutdown (also `async with`). The list is
    refreshed when the server announces `notifications/tools/list_changed` and on every
    reconnect; `on_tools_changed(toolset)` is called when the exposed tools changed.
    """

    def __init__(
        self,
        name: str,
        config: MCPToolConfig,
        *,
        cwd: str | os.PathLike[str] | None = None,
        on_tools_changed: Callable[[MCPToolset], None] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.cwd = cwd
        self.on_tools_changed = on_tools_changed
        self.timeout_s = float(config.timeout) if config.timeout else DEFAULT_TOOL_TIMEOUT_S
        self._tools: tuple[MCPTool, ...] = ()
        self._last_error: str | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._closing = False
        self._live: _Live | None = None
        self._attempt: asyncio.Future[_Live] | None = None
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unknown_filter_warned = False

    def __repr__(self) -> str:
        return f"MCPToolset({self.name!r}, transport={self.config.transport!r})"

    # --- public -------------------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """A session is open. False before `start()`, after a failure and after `close()`."""
        return self._live is not None and self._live.is_open

    @property
    def last_error(self) -> str | None:
        """Why the server was last unreachable; None once it answered again."""
        return self._last_error

    def status(self) -> dict[str, Any]:
        """What a health check shows for this server."""
        return {
            "name": self.name,
            "transport": self.config.transport,
            "healthy": self.healthy,
            "last_error": self._last_error,
            "tools": [tool.name for tool in self._tools],
        }

    def tools(self) -> list[MCPTool]:
        """The exposed tools as last listed (empty until a successful start)."""
        return list(self._tools)

    async def start(self) -> bool:
        """Connect and list the tools. A failure is logged, not raised: the app runs without
        this server's tools, and the next call tries again."""
        try:
            await self._connection()
        except _Unavailable as exc:
            logger.warning("mcp server=%s %s", self.name, exc)
            return False
        return True

    async def refresh(self) -> bool:
        """Reconnect if needed (respecting the backoff) and list the tools again."""
        try:
            live = await self._connection()
            await self._forward(live, self._list_tools)
        except (_Unavailable, _NotSent, _Lost) as exc:
            logger.warning("mcp server=%s tools not refreshed: %s", self.name, exc)
            return False
        except Exception as exc:
            self._last_error = f"listing tools failed: {_describe(exc)}"
            logger.warning("mcp server=%s %s", self.name, self._last_error)
            return False
        return True

    async def call(
        self, tool: str, arguments: Mapping[str, Any], *, timeout_s: float | None = None
    ) -> ToolOutput:
        """Call `tool` (the server's name for it). Every failure is an error output."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        deadline = asyncio.timeout(limit)
        try:
            async with deadline:
                return await self._call(tool, dict(arguments))
        except TimeoutError:
            if not deadline.expired():
                raise
            return ToolOutput.error(
                f'MCP server "{self.name}": tool "{tool}" timed out after {limit:g}s'
            )

    async def close(self) -> None:
        """Stop the connection (and a stdio server's process). Idempotent; a closed toolset
        stays closed (its calls answer `MCP server "x" is closed`)."""
        self._closing = True
        if self._live is not None:
            self._live.ended.set()
        if self._attempt is not None and not self._attempt.done():
            self._attempt.set_exception(_Unavailable("is closed"))
        self._wake.set()
        worker, self._worker = self._worker, None
        if worker is not None and not worker.done():
            done, _ = await asyncio.wait([worker], timeout=CLOSE_TIMEOUT_S)
            if not done:
                logger.warning("mcp server=%s did not shut down in time", self.name)
                worker.cancel()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- calls --------------------------------------------------------------------------------

    async def _call(self, tool: str, arguments: dict[str, Any]) -> ToolOutput:
        async def operation(client: Client) -> CallToolResult:
            if self.config.transport == "stdio":
                await _probe(client)
            return await client.call_tool(tool, arguments)

        for attempt in range(2):
            try:
                live = await self._connection()
                result = await self._forward(live, operation)
            except _Unavailable as exc:
                return ToolOutput.error(f'MCP server "{self.name}" {exc}')
            except _NotSent:
                if attempt == 0:
                    continue  # the server never saw it: send it on the new connection
                return ToolOutput.error(f'MCP server "{self.name}" {self._down_message()}')
            except _Lost:
                return ToolOutput.error(
                    f'MCP server "{self.name}" {self._down_message()} during the call to "{tool}";'
                    " it may or may not have run"
                )
            except Exception as exc:
                logger.warning("mcp server=%s tool=%s failed: %s", self.name, tool, exc)
                return ToolOutput.error(
                    f'MCP server "{self.name}": tool "{tool}" failed: {_describe(exc)}'
                )
            self._failures = 0
            return to_output(result)
        raise AssertionError("unreachable")

    def _down_message(self) -> str:
        return f"went away ({self._last_error})" if self._last_error else "went away"

    async def _forward(self, live: _Live, operation: Callable[[Client], Awaitable[T]]) -> T:
        """Run `operation` inside the connection's task group and wait for it."""
        request = _Request(operation, asyncio.get_running_loop().create_future())
        try:
            live.group.start_soon(self._serve, request, live)
        except RuntimeError:
            raise _NotSent from None  # the task group is already shutting down
        try:
            result: T = await request.future
        except asyncio.CancelledError:
            if request.scope is not None:
                request.scope.cancel()  # the SDK tells the server (notifications/cancelled)
            raise
        return result

    async def _serve(self, request: _Request, live: _Live) -> None:
        """The child task of one request. Settles the future however it ends: also when the
        connection's teardown cancels it from outside."""
        future = request.future
        try:
            with anyio.CancelScope() as request.scope:
                if future.done():
                    return  # the caller gave up before we started
                sending(request.mark)
                value = await request.operation(live.client)
                if not future.done():
                    future.set_result(value)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                live.ended.set()
            elif not future.done():
                future.set_exception(exc)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        finally:
            if not future.done():
                # The connection went down around this request.
                future.set_exception(_Lost() if request.mark.sent else _NotSent())

    # --- the connection task ------------------------------------------------------------------

    async def _connection(self) -> _Live:
        """The open session, connecting first if needed. Concurrent callers share one attempt."""
        if self._closing:
            raise _Unavailable("is closed")
        self._bind_loop()
        live = self._live
        if live is not None and live.is_open:
            return live
        loop = asyncio.get_running_loop()
        if self._attempt is None or self._attempt.done():
            pause = self._retry_at - loop.time()
            if pause > 0:
                raise _Unavailable(
                    f"is unavailable ({self._last_error}); next attempt in {pause:.1f}s"
                )
            self._attempt = loop.create_future()
            self._ensure_worker()
            self._wake.set()
        return await asyncio.shield(self._attempt)

    def _bind_loop(self) -> None:
        """The connection task lives on one event loop. What a closed loop left behind is
        dropped (its tasks were cancelled, so a stdio server was stopped), so code that runs each
        job in a fresh loop can keep one toolset."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        if self._loop is not None and not self._loop.is_closed():
            raise _Unavailable("is in use on another event loop")
        self._loop = loop
        self._live, self._attempt, self._worker = None, None, None
        self._wake = asyncio.Event()

    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name=f"mcp {self.name}")

    async def _run(self) -> None:
        """Open a session whenever one is wanted; keep it until it ends or `close()`."""
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            attempt = self._attempt
            if self._closing or attempt is None or attempt.done():
                continue
            try:
                await self._session(attempt)
            except Exception as exc:
                self._failed(exc)
            finally:
                self._live = None
            if not attempt.done():
                attempt.set_exception(_Unavailable(f"failed to start: {self._last_error}"))
                attempt.exception()  # retrieved: nobody may be waiting on this attempt

    async def _session(self, attempt: asyncio.Future[_Live]) -> None:
        """One connection, start to end. Raises `_Unavailable` saying why it failed or ended
        (with a stdio server's last stderr lines); returns only when `close()` ended it."""
        stderr = StderrTail(self.name) if self.config.transport == "stdio" else None
        async with anyio.create_task_group() as outer:
            if stderr is not None:
                outer.start_soon(stderr.pump)
            try:
                await self._hold(attempt, stderr)
                problem = None if self._closing else "connection closed"
            except Exception as exc:
                problem = _describe(exc)
            finally:
                if stderr is not None:
                    stderr.close_writer()
            if problem is not None and stderr is not None:
                problem = _with_tail(problem, await stderr.settled())
            outer.cancel_scope.cancel()
        if problem is not None:
            raise _Unavailable(problem)

    async def _hold(self, attempt: asyncio.Future[_Live], stderr: StderrTail | None) -> None:
        ended, changed = asyncio.Event(), asyncio.Event()
        # The connect deadline is a scope around the whole session (anyio scopes must nest
        # with the SDK's task groups), lifted once the session is up.
        with anyio.CancelScope(deadline=anyio.current_time() + self.timeout_s) as connecting:
            async with AsyncExitStack() as stack:
                client = await self._open(stack, stderr, ended, changed)
                connecting.deadline = math.inf
                async with anyio.create_task_group() as group:
                    live = _Live(client, group, ended, changed)
                    self._live = live
                    self._last_error = None
                    group.start_soon(self._watch_tools, live)
                    if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                        group.start_soon(self._listen, live)
                    if not attempt.done():
                        attempt.set_result(live)
                    await ended.wait()
                    group.cancel_scope.cancel()
        if connecting.cancelled_caught:
            raise _Unavailable(f"did not answer within {self.timeout_s:g}s")

    async def _open(
        self,
        stack: AsyncExitStack,
        stderr: StderrTail | None,
        ended: asyncio.Event,
        changed: asyncio.Event,
    ) -> Client:
        """Connect, negotiate and list the tools, within the toolset's timeout."""

        async def on_message(message: ServerNotification | Exception) -> None:
            # Runs on the session's receive path: only signal, never await the session here.
            if isinstance(message, ToolListChangedNotification):
                changed.set()
            elif isinstance(message, Exception):
                logger.debug("mcp server=%s transport error: %s", self.name, message)

        def on_end() -> None:
            ended.set()
            if not self._closing and self._last_error is None:
                self._last_error = "connection closed"  # the details follow once it is torn down

        transport = open_transport(
            self.config,
            stack=stack,
            on_end=on_end,
            cwd=self.cwd,
            errlog=stderr.writer if stderr else None,
        )
        client = Client(transport, message_handler=on_message, client_info=CLIENT_INFO, cache=None)
        try:
            await stack.enter_async_context(client)
            changed.clear()  # the listing below sees any change announced so far
            await self._list_tools(client)
        finally:
            if stderr is not None:
                stderr.close_writer()
        return client

    async def _list_tools(self, client: Client) -> None:
        listed: list[Tool] = []
        cursor: str | None = None
        for _ in range(MAX_LIST_PAGES):
            page = await client.list_tools(cursor=cursor)
            listed.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        self._install(listed)

    def _install(self, listed: Sequence[Tool]) -> None:
        wanted = self.config.filter
        if wanted is not None and not self._unknown_filter_warned:
            unknown = sorted(set(wanted) - {tool.name for tool in listed})
            if unknown:
                self._unknown_filter_warned = True
                logger.warning(
                    "mcp server=%s does not offer filtered tool(s) %s", self.name, unknown
                )
        tools = tuple(
            MCPTool(self, tool) for tool in listed if wanted is None or tool.name in wanted
        )
        before = [(t.name, t.description, t.parameters) for t in self._tools]
        self._tools = tools
        if before != [(t.name, t.description, t.parameters) for t in tools]:
            logger.info("mcp server=%s tools: %s", self.name, [t.name for t in tools])
            if self.on_tools_changed is not None:
                try:
                    self.on_tools_changed(self)
                except Exception:
                    logger.exception("mcp server=%s on_tools_changed failed", self.name)

    async def _watch_tools(self, live: _Live) -> None:
        """List again after each `list_changed`; a burst of notices costs one listing."""
        while True:
            await live.changed.wait()
            live.changed.clear()
            try:
                await self._list_tools(live.client)
            except Exception as exc:
                logger.warning("mcp server=%s relisting tools failed: %s", self.name, exc)

    async def _listen(self, live: _Live) -> None:
        """2026-07-28 servers send change notices only on a `subscriptions/listen` stream."""
        try:
            async with live.client.listen(tools_list_changed=True) as subscription:
                async for _event in subscription:
                    live.changed.set()
        except Exception as exc:
            logger.debug("mcp server=%s change subscription ended: %s", self.name, exc)

    def _failed(self, exc: BaseException) -> None:
        if self._closing:
            return
        self._last_error = _describe(exc)
        self._failures += 1
        delay = 0.0
        if self._failures > 1:
            delay = min(BACKOFF_FIRST_S * 2 ** (self._failures - 2), BACKOFF_MAX_S)
        self._retry_at = asyncio.get_running_loop().time() + delay
        logger.warning(
            "mcp server=%s failed (%d in a row, next attempt in %.1fs): %s",
            self.name,
            self._failures,
            delay,
            self._last_error,
        )


async def _probe(client: Client) -> None:
    """A cheap request before a stdio call (`ping`; `server/discover` on 2026-07-28, which has no
    ping): a server that died since the last exchange fails here, before the call is written, so
    the call goes to a restarted server instead of being lost. (Once written into a dead
    process's pipe, a call cannot be told apart from one the server crashed on.)"""
    session = client.session
    try:
        if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            await session.send_discover(client.protocol_version)
        else:
            await session.send_ping()
    except MCPError as exc:
        if exc.code == CONNECTION_CLOSED:
            raise
        # Any other answer means the server is alive.


def _with_tail(message: str, tail: str) -> str:
    return f"{message} (stderr: {tail})" if tail else message


def _describe(exc: BaseException) -> str:
    """One line for a person: the innermost cause of an exception group, without class noise
    for our own messages."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, _Unavailable | MCPError):
        return str(exc)
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"command not found: {exc.filename}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
