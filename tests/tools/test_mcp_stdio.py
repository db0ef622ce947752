"""MCP toolsets over stdio, against real servers: our lab server and `mcp-server-time`."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from agents.config import HectorConfig
from agents.content import FilePart, ToolResultPart
from agents.events import FinalEvent
from agents.runner import Runner
from agents.sessions import InMemorySessionService
from tests.fakes.script import Reply, ScriptedToolCall
from tests.fakes.scripted_llm import ScriptedLLM
from tests.tools.mcp_servers.lab_server import PIXEL_PNG
from tests.tools.mcp_servers.support import (
    eventually,
    lab_stdio,
    make_context,
    mcp_config,
    process_gone,
    tool_named,
)
from tools.base import run_tool
from tools.mcp import MCPToolset

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lab() -> AsyncIterator[MCPToolset]:
    """One lab server for the module's read-mostly tests."""
    toolset = MCPToolset("lab", lab_stdio(prefix="lab_", timeout="10s"))
    assert await toolset.start(), toolset.last_error
    yield toolset
    await toolset.close()


async def server_pid(toolset: MCPToolset) -> int:
    output = await toolset.call("pid", {})
    assert not output.is_error, output.content
    return int(output.content if not isinstance(output.content, dict) else output.content["result"])


async def test_tools_are_listed_with_prefix_description_and_schema(lab: MCPToolset) -> None:
    names = {tool.name for tool in lab.tools()}
    assert {"lab_echo", "lab_forecast", "lab_snapshot", "lab_slow", "lab_crash"} <= names
    echo = tool_named(lab, "lab_echo")
    assert echo.server_name == "echo"
    assert echo.description == "Repeat text."
    assert echo.parameters["type"] == "object"
    assert set(echo.parameters["properties"]) == {"text", "times"}
    assert echo.timeout_s > lab.timeout_s == 10.0
    assert lab.healthy
    assert lab.status() == {
        "name": "lab",
        "transport": "stdio",
        "healthy": True,
        "last_error": None,
        "tools": sorted(names, key=[t.name for t in lab.tools()].index),
    }


async def test_call_returns_the_text(lab: MCPToolset) -> None:
    echo = tool_named(lab, "lab_echo")
    output = await echo.call({"text": "hi", "times": 2}, await make_context())
    assert not output.is_error
    assert output.content == "hi hi"


async def test_structured_content_replaces_text_that_only_repeats_it(lab: MCPToolset) -> None:
    output = await tool_named(lab, "lab_forecast").call({"city": "Oslo"}, await make_context())
    expected = {"city": "Oslo", "temperature_c": 21.5, "conditions": "sunny"}
    assert output.content == expected
    assert output.structured == expected
    assert output.files == ()


async def test_images_and_binary_resources_become_files_beside_text_and_structure(
    lab: MCPToolset,
) -> None:
    output = await tool_named(lab, "lab_snapshot").call({}, await make_context())
    assert not output.is_error
    assert output.content == "a single red pixel"
    assert output.structured == {"width": 1, "height": 1}
    assert [(f.mime_type, f.data, f.name) for f in output.files] == [
        ("image/png", PIXEL_PNG, None),
        ("image/png", PIXEL_PNG, "lab://pixel.png"),
    ]


async def test_the_model_sees_the_image_a_tool_returned(lab: MCPToolset) -> None:
    """Through the runner: the result goes back as text, the image as a file beside it, and both
    are stored, so a later turn replays them too."""
    llm = ScriptedLLM(
        [Reply(tool_calls=[ScriptedToolCall("lab_snapshot", {}, "c1")]), Reply(text="A pixel.")]
    )
    config = HectorConfig.model_validate(
        {
            "llms": {"default": {"provider": "ollama", "model": "qwen3"}},
            "agents": {"assistant": {"instruction": "Look.", "tools": ["lab_snapshot"]}},
        },
        context={"env": {}},
    )
    sessions = InMemorySessionService()
    runner = Runner(
        config,
        sessions=sessions,
        tools={"lab_snapshot": tool_named(lab, "lab_snapshot")},
        llms={"default": llm},
    )

    events = [e async for e in runner.run(agent="assistant", message="Show me", user_id="u1")]

    final = events[-1]
    assert isinstance(final, FinalEvent)
    assert final.text == "A pixel."
    sent = llm.requests[1].messages[-1].parts
    assert sent == (
        ToolResultPart("c1", "lab_snapshot", "a single red pixel"),
        FilePart("image/png", data=PIXEL_PNG),
        FilePart("image/png", data=PIXEL_PNG, name="lab://pixel.png"),
    )
    stored = await sessions.list_events(final.session_id)
    assert any(isinstance(part, FilePart) for event in stored for part in event.parts)


async def test_arguments_failing_the_schema_name_the_field(lab: MCPToolset) -> None:
    echo = tool_named(lab, "lab_echo")
    context = await make_context()

    too_many = await echo.call({"text": "hi", "times": 9}, context)
    missing = await echo.call({"times": 1}, context)
    wrong_type = await echo.call({"text": 5}, context)

    assert too_many.is_error
    assert missing.is_error
    assert wrong_type.is_error
    assert too_many.content.startswith('invalid arguments for tool "lab_echo": times: 9 is greater')
    assert missing.content == 'invalid arguments for tool "lab_echo": text: required field missing'
    assert wrong_type.content.startswith('invalid arguments for tool "lab_echo": text: 5 is not')


async def test_tool_errors_from_the_server_reach_the_model_as_errors(lab: MCPToolset) -> None:
    output = await lab.call("no_such_tool", {})
    assert output.is_error
    assert "no_such_tool" in output.content


async def slow_counters(toolset: MCPToolset) -> dict[str, int]:
    output = await toolset.call("stats", {})
    assert isinstance(output.content, dict), output.content
    return output.content


async def test_timeout_is_an_error_and_cancels_the_call_on_the_server(lab: MCPToolset) -> None:
    before = await slow_counters(lab)
    started = time.monotonic()

    output = await lab.call("slow", {"seconds": 30}, timeout_s=0.5)

    assert time.monotonic() - started < 2
    assert output.is_error
    assert output.content == 'MCP server "lab": tool "slow" timed out after 0.5s'

    async def cancelled_on_server() -> bool:
        return (await slow_counters(lab))["slow_cancelled"] == before["slow_cancelled"] + 1

    await eventually(cancelled_on_server)


async def test_runner_deadline_cancels_the_call_on_the_server(lab: MCPToolset) -> None:
    """The runner's own timeout (or a cancelled run) cancels the task: the server hears of it."""
    before = await slow_counters(lab)
    slow = tool_named(lab, "lab_slow")

    output = await run_tool(slow, {"seconds": 30}, await make_context(), timeout_s=0.5)

    assert output.content == 'tool "lab_slow" timed out after 0.5s'

    async def cancelled_on_server() -> bool:
        return (await slow_counters(lab))["slow_cancelled"] == before["slow_cancelled"] + 1

    await eventually(cancelled_on_server)


async def test_list_changed_refreshes_the_tools(lab: MCPToolset) -> None:
    changes: list[list[str]] = []
    lab.on_tools_changed = lambda toolset: changes.append([t.name for t in toolset.tools()])
    try:

        async def listed(present: bool) -> bool:
            return ("lab_extra" in {t.name for t in lab.tools()}) is present

        assert (await lab.call("toggle_extra", {})).content == "added"
        await eventually(lambda: listed(True))
        extra = tool_named(lab, "lab_extra")
        assert (await extra.call({}, await make_context())).content == "extra"

        assert (await lab.call("toggle_extra", {})).content == "removed"
        await eventually(lambda: listed(False))
        assert ["lab_extra" in names for names in changes] == [True, False]
    finally:
        lab.on_tools_changed = None


async def test_crash_mid_call_is_an_error_and_the_next_call_restarts_the_server() -> None:
    async with MCPToolset("crashy", lab_stdio(timeout="10s")) as toolset:
        first_pid = await server_pid(toolset)

        output = await toolset.call("crash", {})

        assert output.is_error
        assert output.content.startswith('MCP server "crashy" went away')
        assert output.content.endswith('during the call to "crash"; it may or may not have run')
        await eventually(lambda: not toolset.healthy)
        assert toolset.last_error is not None
        assert "connection closed" in toolset.last_error

        assert await server_pid(toolset) != first_pid
        assert toolset.healthy
        assert toolset.last_error is None


async def test_a_server_killed_between_calls_is_restarted_and_the_call_sent_once() -> None:
    """The call finds the process dead before its request is written: it goes to a new server."""
    async with MCPToolset("killed", lab_stdio(timeout="10s")) as toolset:
        first_pid = await server_pid(toolset)
        os.kill(first_pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while not process_gone(first_pid):  # no await: the toolset cannot notice before the call
            assert time.monotonic() < deadline
            time.sleep(0.01)  # noqa: ASYNC251 - yielding to the loop would let it see the EOF

        second_pid = await server_pid(toolset)

        assert second_pid != first_pid
        assert toolset.healthy


async def test_a_server_that_cannot_start_costs_a_warning_not_the_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    toolset = MCPToolset("ghost", mcp_config(command="no-such-mcp-server-xyz"))
    try:
        assert await toolset.start() is False
        assert not toolset.healthy
        assert toolset.last_error == "command not found: no-such-mcp-server-xyz"
        assert toolset.tools() == []
        assert "ghost" in caplog.text

        output = await toolset.call("anything", {})
        assert output.is_error
        assert output.content == (
            'MCP server "ghost" failed to start: command not found: no-such-mcp-server-xyz'
        )
    finally:
        await toolset.close()


async def test_a_server_dying_at_start_reports_its_stderr_and_backs_off() -> None:
    script = "import sys; sys.stderr.write('bad config: no API key\\n'); sys.exit(2)"
    toolset = MCPToolset("broken", mcp_config(command=sys.executable, args=["-c", script]))
    try:
        assert await toolset.start() is False
        assert toolset.last_error is not None
        assert "stderr: bad config: no API key" in toolset.last_error

        retried = await toolset.call("x", {})  # the first retry is immediate
        paused = await toolset.call("x", {})  # the second failure in a row pauses retries

        assert retried.content.startswith('MCP server "broken" failed to start:')
        assert paused.content.startswith('MCP server "broken" is unavailable (')
        assert "next attempt in" in paused.content
    finally:
        await toolset.close()


async def test_close_stops_the_server_process() -> None:
    toolset = MCPToolset("closing", lab_stdio())
    assert await toolset.start()
    pid = await server_pid(toolset)

    await toolset.close()

    assert process_gone(pid)
    assert not toolset.healthy
    output = await toolset.call("pid", {})
    assert output.content == 'MCP server "closing" is closed'


def time_server_command() -> str:
    found = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("mcp-server-time is missing: pip install -r requirements-dev.txt")
    return found


async def test_time_server_from_pypi() -> None:
    config = mcp_config(
        command=time_server_command(), args=["--local-timezone", "UTC"], filter=["get_current_time"]
    )
    async with MCPToolset("time", config) as toolset:
        assert [tool.name for tool in toolset.tools()] == ["get_current_time"]
        tool = toolset.tools()[0]

        output = await tool.call({"timezone": "Europe/Oslo"}, await make_context())
        unknown = await tool.call({"timezone": "Mars/Olympus"}, await make_context())

    assert not output.is_error, output.content
    assert output.structured is not None
    assert output.structured["timezone"] == "Europe/Oslo"
    assert unknown.is_error
    assert "Mars/Olympus" in str(unknown.content)
