"""The transport under an MCP session, watched: when it ends, and whether a request went out.

The SDK does not say when a connection died; pending requests just fail with "Connection
closed". The toolset needs both facts: the end of the read stream tells the connection task to
tear down (so the next call restarts the server), and a mark set when the transport accepted a
request tells a failed call whether the server could have seen it (only a call that never went
out is retried).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TextIO

import anyio
import httpx2
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCRequest

from tools.config import MCPToolConfig

__all__ = ["SendMark", "StderrTail", "open_transport", "sending"]

logger = logging.getLogger(__name__)

#: HTTP limits (seconds): connecting and posting are quick; a server may hold an event stream
#: open and silent for long, and the SDK reconnects nothing, so a dropped stream ends the session.
HTTP_TIMEOUT_S = 30.0
STREAM_READ_TIMEOUT_S = 300.0
STDERR_LINES = 20
LINE_MAX = 2000


@dataclass(slots=True)
class SendMark:
    """Set once the transport accepted a `method` request written by the task owning the mark."""

    method: str = "tools/call"
    sent: bool = False


_send_mark: contextvars.ContextVar[SendMark | None] = contextvars.ContextVar(
    "mcp_send_mark", default=None
)


def sending(mark: SendMark) -> contextvars.Token[SendMark | None]:
    """Mark requests written from the current task (the SDK writes in the caller's task)."""
    return _send_mark.set(mark)


class _WatchedRead:
    """The session's read stream; calls `on_end` when the dispatcher stops reading it."""

    def __init__(self, inner: Any, on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end = on_end

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)  # e.g. `last_context` of context-carrying streams

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    def __aiter__(self) -> _WatchedRead:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self._on_end()
        await self._inner.aclose()

    async def __aenter__(self) -> _WatchedRead:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        self._on_end()
        return await self._inner.__aexit__(exc_type, exc_val, exc_tb)  # type: ignore[no-any-return]


class _MarkingWrite:
    """The session's write stream; marks the writing task's request as sent once accepted."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def send(self, item: SessionMessage, /) -> None:
        await self._inner.send(item)
        mark = _send_mark.get()
        message = item.message
        if (
            mark is not None
            and isinstance(message, JSONRPCRequest)
            and message.method == mark.method
        ):
            mark.sent = True

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _MarkingWrite:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        return await self._inner.__aexit__(exc_type, exc_val, exc_tb)  # type: ignore[no-any-return]


def open_transport(
    config: MCPToolConfig,
    *,
    stack: AsyncExitStack,
    on_end: Callable[[], None],
    cwd: str | os.PathLike[str] | None,
    errlog: TextIO | None,
) -> AbstractAsyncContextManager[Any]:
    """The SDK transport for `config`, watched; HTTP clients it needs are closed by `stack`."""
    inner: AbstractAsyncContextManager[Any]
    if config.transport == "stdio":
        assert config.command is not None  # MCPToolConfig guarantees it for stdio
        params = StdioServerParameters(
            command=config.command, args=list(config.args), env=dict(config.env) or None, cwd=cwd
        )
        inner = stdio_client(params, errlog=errlog) if errlog is not None else stdio_client(params)
    elif config.transport == "sse":
        assert config.url is not None
        inner = sse_client(
            config.url,
            headers=dict(config.headers) or None,
            timeout=HTTP_TIMEOUT_S,
            sse_read_timeout=STREAM_READ_TIMEOUT_S,
        )
    else:
        assert config.url is not None
        # The SDK takes headers only through a client it does not own: close it ourselves.
        http = httpx2.AsyncClient(
            headers=dict(config.headers),
            timeout=httpx2.Timeout(HTTP_TIMEOUT_S, read=STREAM_READ_TIMEOUT_S),
        )
        stack.push_async_callback(http.aclose)
        inner = streamable_http_client(config.url, http_client=http)
    return _watched(inner, on_end)


@asynccontextmanager
async def _watched(
    inner: AbstractAsyncContextManager[Any], on_end: Callable[[], None]
) -> AsyncIterator[tuple[_WatchedRead, _MarkingWrite]]:
    async with inner as (read_stream, write_stream):
        yield _WatchedRead(read_stream, on_end), _MarkingWrite(write_stream)


class StderrTail:
    """A stdio server's stderr: the last lines, for the error that says why it failed or died.

    Read from a pipe (a file would grow for as long as a chatty server runs); each line is also
    logged at debug level.
    """

    def __init__(self, server: str, *, lines: int = STDERR_LINES) -> None:
        self._server = server
        self._lines: deque[str] = deque(maxlen=lines)
        read_fd, write_fd = os.pipe()
        self.writer: TextIO = os.fdopen(write_fd, "w")
        self._reader = os.fdopen(read_fd, "rb", buffering=0)
        self._done = asyncio.Event()

    def close_writer(self) -> None:
        """After the spawn: the child has its own copy; ours would keep the pipe from ending."""
        if not self.writer.closed:
            self.writer.close()

    async def pump(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport: asyncio.ReadTransport | None = None
        try:
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), self._reader
            )
            pending = b""
            while chunk := await reader.read(65536):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self._add(line)
                pending = pending[-LINE_MAX:]  # a line that never ends stays bounded
            self._add(pending)
        finally:
            if transport is not None:
                transport.close()
            else:
                self._reader.close()
            self._done.set()

    def _add(self, line: bytes) -> None:
        text = line[:LINE_MAX].decode(errors="replace").rstrip()
        if text:
            self._lines.append(text)
            logger.debug("mcp server=%s stderr: %s", self._server, text)

    async def settled(self, timeout_s: float = 0.5) -> str:
        """The tail once the server's last words are in (bounded: a grandchild may hold the
        pipe open)."""
        with anyio.move_on_after(timeout_s):
            await self._done.wait()
        return " | ".join(self._lines)
