"""A small MCP server written with the `mcp` SDK, for the toolset tests.

It has one tool per behaviour the client must cope with: a list that changes, structured content
with an image, a slow call that records whether it was cancelled, and a call that kills the
process. Run it as a script: `python lab_server.py --transport stdio|sse|streamable-http --port N`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import (
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    TextContent,
)
from pydantic import BaseModel, Field

#: A 1x1 PNG.
PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

server = MCPServer("lab")
calls: dict[str, int] = {"slow_started": 0, "slow_cancelled": 0, "slow_finished": 0}


class Forecast(BaseModel):
    city: str
    temperature_c: float
    conditions: str


@server.tool()
def echo(text: str, times: int = Field(default=1, ge=1, le=5)) -> str:
    """Repeat text."""
    return " ".join([text] * times)


@server.tool()
def forecast(city: str) -> Forecast:
    """Structured weather for a city (the text block repeats the JSON)."""
    return Forecast(city=city, temperature_c=21.5, conditions="sunny")


@server.tool()
def snapshot() -> CallToolResult:
    """A caption, an image, an embedded binary resource and structured metadata."""
    encoded = base64.b64encode(PIXEL_PNG).decode()
    return CallToolResult(
        content=[
            TextContent(type="text", text="a single red pixel"),
            ImageContent(type="image", data=encoded, mime_type="image/png"),
            EmbeddedResource(
                type="resource",
                resource=BlobResourceContents(
                    uri="lab://pixel.png", mime_type="image/png", blob=encoded
                ),
            ),
        ],
        structured_content={"width": 1, "height": 1},
    )


@server.tool()
def pid() -> int:
    """The server's process id (a restart changes it)."""
    return os.getpid()


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep; counts calls that were cancelled before they finished."""
    calls["slow_started"] += 1
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        calls["slow_cancelled"] += 1
        raise
    calls["slow_finished"] += 1
    return f"slept {seconds}s"


@server.tool()
def stats() -> dict[str, Any]:
    """Counters of the slow tool."""
    return dict(calls)


@server.tool()
def header(name: str, ctx: Context) -> str:
    """The value of one HTTP request header (empty over stdio)."""
    return (ctx.headers or {}).get(name.lower(), "")


@server.tool()
def crash() -> str:
    """Exit the process in the middle of the call, without answering."""
    os._exit(3)


def extra() -> str:
    """A tool that comes and goes."""
    return "extra"


@server.tool()
async def toggle_extra(ctx: Context) -> str:
    """Add or remove the `extra` tool and tell the client the list changed."""
    if any(tool.name == "extra" for tool in await server.list_tools()):
        server.remove_tool("extra")
        state = "removed"
    else:
        server.add_tool(extra)
        state = "added"
    await ctx.notify_tools_changed()  # 2026-07-28 clients, through subscriptions/listen
    await ctx.session.send_tool_list_changed()  # earlier protocol versions (dropped on 2026's)
    return state


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", default="stdio")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.transport == "stdio":
        server.run("stdio")
    elif args.transport == "sse":
        server.run("sse", host="127.0.0.1", port=args.port)
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
