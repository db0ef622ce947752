"""MCP toolsets over SSE and streamable HTTP, against our lab server (written with the `mcp`
SDK, so it speaks the 2026-07-28 protocol: change notices come on a `subscriptions/listen`
stream)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.tools.mcp_servers.lab_server import PIXEL_PNG
from tests.tools.mcp_servers.support import (
    eventually,
    free_port,
    http_server,
    lab_http,
    make_context,
    mcp_config,
    tool_named,
)
from tools.mcp import MCPToolset

pytestmark = pytest.mark.asyncio(loop_scope="module")

PATHS = {"sse": "/sse", "streamable-http": "/mcp"}


@pytest.fixture(scope="module", params=["sse", "streamable-http"])
def lab_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """One lab server per transport for the module."""
    transport: str = request.param
    port = free_port()
    with http_server(lab_http(transport, port), port):
        yield f"http://127.0.0.1:{port}{PATHS[transport]}"


@pytest_asyncio.fixture(loop_scope="module")
async def lab(lab_url: str) -> AsyncIterator[MCPToolset]:
    toolset = MCPToolset(
        "lab", mcp_config(url=lab_url, headers={"X-Hector-Test": "tea"}, timeout="10s")
    )
    assert await toolset.start(), toolset.last_error
    yield toolset
    await toolset.close()


async def test_transport_is_detected_from_the_url(lab: MCPToolset, lab_url: str) -> None:
    assert lab.config.transport == ("sse" if lab_url.endswith("/sse") else "streamable-http")
    assert lab.healthy


async def test_calls_carry_the_configured_headers(lab: MCPToolset) -> None:
    output = await tool_named(lab, "header").call({"name": "X-Hector-Test"}, await make_context())
    assert output.content == "tea"


async def test_structured_content_and_images_pass_through(lab: MCPToolset) -> None:
    output = await tool_named(lab, "snapshot").call({}, await make_context())
    assert output.structured == {"width": 1, "height": 1}
    assert [file.data for file in output.files] == [PIXEL_PNG, PIXEL_PNG]


async def test_list_changed_refreshes_the_tools(lab: MCPToolset) -> None:
    async def listed(present: bool) -> bool:
        return ("extra" in {t.name for t in lab.tools()}) is present

    assert (await lab.call("toggle_extra", {})).content == "added"
    await eventually(lambda: listed(True))
    assert (await lab.call("toggle_extra", {})).content == "removed"
    await eventually(lambda: listed(False))


async def test_timeout_cancels_the_call_on_the_server(lab: MCPToolset) -> None:
    before = (await lab.call("stats", {})).content["slow_cancelled"]

    output = await lab.call("slow", {"seconds": 30}, timeout_s=0.3)

    assert output.content == 'MCP server "lab": tool "slow" timed out after 0.3s'

    async def cancelled_on_server() -> bool:
        return bool((await lab.call("stats", {})).content["slow_cancelled"] == before + 1)

    await eventually(cancelled_on_server)


async def test_unreachable_server_is_reported_not_raised() -> None:
    toolset = MCPToolset("down", mcp_config(url=f"http://127.0.0.1:{free_port()}/mcp"))
    try:
        assert await toolset.start() is False
        assert not toolset.healthy
        assert toolset.last_error is not None
        assert "ConnectError" in toolset.last_error
        output = await toolset.call("echo", {"text": "hi"})
        assert output.is_error
        assert output.content.startswith('MCP server "down" failed to start: ConnectError')
    finally:
        await toolset.close()


async def test_a_restarted_server_is_reconnected_on_next_use() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/sse"
    toolset = MCPToolset("flaky", mcp_config(url=url, timeout="10s"))
    try:
        with http_server(lab_http("sse", port), port):
            assert await toolset.start()
            assert (await toolset.call("echo", {"text": "one"})).content == "one"
        await eventually(lambda: not toolset.healthy)
        assert toolset.last_error is not None

        with http_server(lab_http("sse", port), port):
            output = await toolset.call("echo", {"text": "two"})
            assert output.content == "two"
            assert toolset.healthy
    finally:
        await toolset.close()
