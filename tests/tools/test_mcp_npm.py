"""MCP toolsets against the reference servers from npm (installed once under `.hector/npm`):
`server-everything` over stdio, SSE and streamable HTTP, and `server-filesystem` (SPEC AC 9.d).

These servers speak the handshake-era protocol, so they also cover the client's fallback from
`server/discover` to `initialize`. Never call everything's `gzip-file-as-resource` with its
defaults: it fetches a file from the web.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.tools.mcp_servers.support import (
    free_port,
    http_server,
    make_context,
    mcp_config,
    npm_bin,
    tool_named,
)
from tools.mcp import MCPToolset

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def everything_bin() -> Path:
    return npm_bin("mcp-server-everything")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def everything(everything_bin: Path) -> AsyncIterator[MCPToolset]:
    config = mcp_config(command=str(everything_bin), args=["stdio"], timeout="20s")
    toolset = MCPToolset("everything", config)
    assert await toolset.start(), toolset.last_error
    yield toolset
    await toolset.close()


async def test_everything_echoes(everything: MCPToolset) -> None:
    output = await tool_named(everything, "echo").call({"message": "hi"}, await make_context())
    assert output.content == "Echo: hi"


async def test_everything_image_arrives_as_a_file(everything: MCPToolset) -> None:
    output = await tool_named(everything, "get-tiny-image").call({}, await make_context())
    assert not output.is_error
    assert "Here's the image you requested:" in output.content
    assert [file.mime_type for file in output.files] == ["image/png"]
    assert output.files[0].data is not None
    assert output.files[0].data.startswith(b"\x89PNG")


async def test_everything_structured_content(everything: MCPToolset) -> None:
    tool = tool_named(everything, "get-structured-content")
    output = await tool.call({"location": "Chicago"}, await make_context())
    assert output.structured == {
        "temperature": 36,
        "conditions": "Light rain / drizzle",
        "humidity": 82,
    }
    assert output.content == output.structured  # its text block only repeats the JSON


async def test_everything_embedded_resource_is_text_with_its_uri(everything: MCPToolset) -> None:
    tool = tool_named(everything, "get-resource-reference")
    output = await tool.call({"resourceType": "Text", "resourceId": 1}, await make_context())
    assert "[resource demo://resource/dynamic/text/1]\nResource 1:" in output.content


async def test_everything_enum_violation_names_the_field(everything: MCPToolset) -> None:
    tool = tool_named(everything, "get-structured-content")
    output = await tool.call({"location": "Paris"}, await make_context())
    assert output.is_error
    assert output.content.startswith(
        "invalid arguments for tool \"get-structured-content\": location: 'Paris' is not one of"
    )


@pytest.mark.parametrize(("mode", "path"), [("sse", "/sse"), ("streamableHttp", "/mcp")])
async def test_everything_over_http(everything_bin: Path, mode: str, path: str) -> None:
    port = free_port()
    with http_server([str(everything_bin), mode], port, env={"PORT": str(port)}):
        config = mcp_config(url=f"http://127.0.0.1:{port}{path}", prefix="ev_", timeout="20s")
        async with MCPToolset("everything", config) as toolset:
            assert toolset.healthy, toolset.last_error
            tool = tool_named(toolset, "ev_get-sum")
            output = await tool.call({"a": 2, "b": 3}, await make_context())
    assert output.content == "The sum of 2 and 3 is 5."


async def test_filesystem_filter_exposes_exactly_one_tool(tmp_path: Path) -> None:
    """SPEC AC 9.d."""
    (tmp_path / "notes.txt").write_text("remember the milk")
    config = mcp_config(
        command=str(npm_bin("mcp-server-filesystem")), args=[str(tmp_path)], filter=["read_file"]
    )
    async with MCPToolset("fs", config) as toolset:
        assert [tool.name for tool in toolset.tools()] == ["read_file"]
        read_file = toolset.tools()[0]

        inside = await read_file.call({"path": str(tmp_path / "notes.txt")}, await make_context())
        outside = await read_file.call({"path": "/etc/passwd"}, await make_context())

    assert inside.content == "remember the milk"
    assert outside.is_error
    assert "outside allowed directories" in outside.content
