"""Starting real MCP servers for the toolset tests: our lab server, and npm servers installed
once per checkout under `.hector/npm` (gitignored, like the rest of `.hector/`)."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from agents.sessions import InMemorySessionService
from tools.base import ToolContext
from tools.config import MCPToolConfig
from tools.mcp import MCPTool, MCPToolset

REPO = Path(__file__).resolve().parents[3]
LAB_SERVER = Path(__file__).with_name("lab_server.py")
NPM_PREFIX = REPO / ".hector" / "npm"
#: Pinned like requirements.txt: a new release must not change what the tests exercise.
NPM_PACKAGES = {
    "@modelcontextprotocol/server-everything": "2026.8.31",
    "@modelcontextprotocol/server-filesystem": "2026.8.31",
}


def mcp_config(**keys: Any) -> MCPToolConfig:
    return MCPToolConfig.model_validate({"type": "mcp", **keys})


def lab_stdio(**keys: Any) -> MCPToolConfig:
    return mcp_config(command=sys.executable, args=[str(LAB_SERVER)], **keys)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def http_server(
    command: list[str], port: int, *, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run an HTTP MCP server until the block ends; ready once its port accepts connections."""
    process = subprocess.Popen(
        command,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def lab_http(transport: str, port: int) -> list[str]:
    return [sys.executable, str(LAB_SERVER), "--transport", transport, "--port", str(port)]


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s:g}s")


def npm_bin(name: str) -> Path:
    """The path of an installed npm server binary, installing the pinned packages on first use
    (one `npm install` for all of them: a later one without them would prune the others)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the npm MCP servers cannot be fetched")
    if not _npm_installed():
        command = ["npm", "install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error"]
        command += ["--prefix", str(NPM_PREFIX)]
        command += [f"{package}@{version}" for package, version in NPM_PACKAGES.items()]
        NPM_PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(command, check=True, timeout=300, capture_output=True)
    return NPM_PREFIX / "node_modules" / ".bin" / name


def _npm_installed() -> bool:
    for package, version in NPM_PACKAGES.items():
        manifest = NPM_PREFIX / "node_modules" / package / "package.json"
        if not manifest.is_file() or json.loads(manifest.read_text())["version"] != version:
            return False
    return True


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, timeout_s: float = 5.0
) -> None:
    """Poll until check() is true; the timeout error points at the waiting test."""
    async with asyncio.timeout(timeout_s):
        while True:
            result = check()
            if await result if inspect.isawaitable(result) else result:
                return
            await asyncio.sleep(0.01)


def process_gone(pid: int) -> bool:
    """True once the process is dead: exited, or a zombie nobody has reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


async def make_context() -> ToolContext:
    store = InMemorySessionService()
    session = await store.create(user_id="u1", agent="assistant")
    return ToolContext(
        agent="assistant", user_id="u1", session=session, invocation_id="inv-1", store=store
    )


def tool_named(toolset: MCPToolset, name: str) -> MCPTool:
    return next(tool for tool in toolset.tools() if tool.name == name)
