"""The built-in toolsets of SPEC 9.3: `build_builtin_tools` turns one `tools.<name>` entry into
the tools it exposes.

Each produced tool is a `BuiltinTool`: the `Tool` protocol plus what the runner needs to pause
it for a human (`requires_approval`, `needs_approval(arguments)`, `approval_prompt`,
`approval_prompt_for(arguments)`) and its deadline (`timeout_s`). Approval defaults follow
SPEC 9.3 when `require_approval` is unset: file writes and `web_request` ask, reads do not,
commands ask, `request_approval` always asks; a set `require_approval` applies to every tool of
the toolset.

Paths: a relative `working_directory` is resolved under the app's workspace
(`<data dir>/apps/<app>/workspace`), and must stay inside it: app configs come from app
administrators, and a working directory elsewhere would hand one app another's files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.errors import HectorError
from tools.builtin.approval import approval_tool
from tools.builtin.base import BuiltinTool, ToolRefusal
from tools.builtin.command import (
    CommandArgs,
    CommandRunner,
    command_policy,
    describe,
    scrubbed_environment,
)
from tools.builtin.files import (
    ApplyPatchArgs,
    FileTools,
    GrepSearchArgs,
    ReadFileArgs,
    TextEditorArgs,
    Workspace,
    WriteFileArgs,
    is_inside,
)
from tools.builtin.memory import (
    ForgetArgs,
    InMemoryMemoryStore,
    MemoryEntry,
    MemoryStore,
    MemoryTools,
    RecallArgs,
    RememberArgs,
)
from tools.builtin.todo import DESCRIPTION as TODO_DESCRIPTION
from tools.builtin.todo import TodoWriteArgs, todo_write
from tools.builtin.web import (
    TAVILY_SEARCH_URL,
    WebFetchArgs,
    WebPolicy,
    WebRequestArgs,
    WebSearchArgs,
    WebTools,
)
from tools.config import (
    ApprovalToolConfig,
    CommandToolConfig,
    FileToolConfig,
    MemoryToolConfig,
    TodoToolConfig,
    WebToolConfig,
)

__all__ = [
    "BUILTIN_TOOLSET_TYPES",
    "BuiltinEnvironment",
    "BuiltinTool",
    "BuiltinToolUnavailable",
    "BuiltinToolsetConfig",
    "InMemoryMemoryStore",
    "MemoryEntry",
    "MemoryStore",
    "ToolRefusal",
    "app_workspace",
    "build_builtin_tools",
]

BuiltinToolsetConfig = (
    FileToolConfig
    | WebToolConfig
    | CommandToolConfig
    | MemoryToolConfig
    | TodoToolConfig
    | ApprovalToolConfig
)

#: The `type`s `build_builtin_tools` builds (`searchtool` and `agenttool` are built elsewhere).
BUILTIN_TOOLSET_TYPES = frozenset(
    {"filetool", "webtool", "command", "commandtool", "memorytool", "todotool", "approvaltool"}
)

#: Extra time a tool's own deadline gives its inner limit, so that the inner limit's message
#: (`timed out after 30s`, `request timed out`) is what the model reads.
_INNER_LIMIT_GRACE_S = 5.0
_APP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class BuiltinToolUnavailable(HectorError):
    """A built-in toolset cannot be built from its config in this environment."""

    code = "tool_unavailable"


@dataclass(frozen=True, slots=True)
class BuiltinEnvironment:
    """What built-in tools get from the process: where the app's files are, its memory store,
    the server environment (for `TAVILY_API_KEY` and the `PATH`/`HOME`/`LANG` of commands)."""

    app: str
    workspace: Path
    memory: MemoryStore | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    search_url: str = TAVILY_SEARCH_URL

    @classmethod
    def for_app(cls, data_dir: Path, app: str, **kwargs: Any) -> BuiltinEnvironment:
        """The environment of `app` under the server's data dir (`HECTOR_DATA_DIR`)."""
        return cls(app=app, workspace=app_workspace(data_dir, app), **kwargs)


def app_workspace(data_dir: Path, app: str) -> Path:
    """`<data_dir>/apps/<app>/workspace`; the app name must be a plain name, never a path."""
    if not _APP_NAME.match(app):
        raise BuiltinToolUnavailable(f"app name {app!r} cannot name a workspace directory")
    return data_dir / "apps" / app / "workspace"


def build_builtin_tools(
    name: str, config: BuiltinToolsetConfig, env: BuiltinEnvironment
) -> list[BuiltinTool[Any]]:
    """The tools `tools.<name>` exposes: none when disabled, those in `filter` when set.

    `description`, when set, replaces the description of a toolset's only tool, or is put in
    front of each tool's own when there are several. `timeout` becomes each tool's
    `timeout_s`; `commandtool` and `webtool` also have an inner limit (`max_execution_time`,
    the HTTP deadline) and get a few seconds more so that limit reports first.
    """
    if not config.enabled:
        return []
    match config:
        case FileToolConfig():
            tools = _file_tools(name, config, env)
        case WebToolConfig():
            tools = _web_tools(config, env)
        case CommandToolConfig():
            tools = _command_tools(name, config, env)
        case MemoryToolConfig():
            tools = _memory_tools(name, config, env)
        case TodoToolConfig():
            tools = [_tool(config, "todo_write", TODO_DESCRIPTION, TodoWriteArgs, todo_write)]
        case ApprovalToolConfig():
            tools = [
                approval_tool(
                    prompt=config.prompt or config.approval_prompt,
                    timeout_s=float(config.timeout),
                )
            ]
        case _:
            kind = getattr(config, "type", type(config).__name__)
            raise BuiltinToolUnavailable(f'tools.{name}: "{kind}" is not a built-in toolset')
    if config.filter:
        tools = [tool for tool in tools if tool.name in config.filter]
    if config.description:
        for tool in tools:
            tool.description = (
                config.description
                if len(tools) == 1
                else f"{config.description}\n\n{tool.description}"
            )
    return tools


def _tool(
    config: BuiltinToolsetConfig,
    name: str,
    description: str,
    arguments: Any,
    handler: Any,
    *,
    asks_by_default: bool = False,
    timeout_s: float | None = None,
    exempt_commands: frozenset[str] = frozenset(),
) -> BuiltinTool[Any]:
    """One tool with the toolset's approval settings: `require_approval` when set, else the
    tool's SPEC 9.3 default (read-only commands are exempt only from the default)."""
    explicit = config.require_approval
    return BuiltinTool(
        name,
        description,
        arguments,
        handler,
        requires_approval=asks_by_default if explicit is None else explicit,
        approval_prompt=config.approval_prompt,
        approval_exempt_commands=exempt_commands if explicit is None else frozenset(),
        timeout_s=float(config.timeout) if timeout_s is None else timeout_s,
    )


def _working_directory(name: str, configured: str, env: BuiltinEnvironment) -> Workspace:
    """The toolset's root under the app workspace (a lexical check: no I/O at build time;
    what lies below is resolved, symlinks included, on every call)."""
    workspace = os.path.abspath(env.workspace)
    root = os.path.normpath(os.path.join(workspace, configured))
    if not is_inside(root, workspace):
        raise BuiltinToolUnavailable(
            f"tools.{name}.working_directory {configured!r} is outside the app workspace"
        )
    return Workspace(Path(root))


def _file_tools(
    name: str, config: FileToolConfig, env: BuiltinEnvironment
) -> list[BuiltinTool[Any]]:
    files = FileTools(
        _working_directory(name, config.working_directory, env),
        max_file_size=config.max_file_size,
    )
    return [
        _tool(
            config,
            "text_editor",
            "View, create and edit text files in the working directory: view (a file with "
            "line numbers, or a directory listing), create, str_replace (a unique string), "
            "insert (after a line), undo_edit (the last edit of a file).",
            TextEditorArgs,
            files.text_editor,
            asks_by_default=True,
            exempt_commands=frozenset({"view"}),
        ),
        _tool(
            config,
            "grep_search",
            "Search files in the working directory for a regular expression; prints "
            "path:line: text for each matching line.",
            GrepSearchArgs,
            files.grep_search,
        ),
        _tool(
            config,
            "apply_patch",
            "Replace one exact, unique block of text in a file. Include a few unchanged "
            "lines around the change in both old_string and new_string.",
            ApplyPatchArgs,
            files.apply_patch,
            asks_by_default=True,
        ),
        _tool(
            config,
            "read_file",
            "Read a text file in the working directory, optionally a range of lines.",
            ReadFileArgs,
            files.read_file,
        ),
        _tool(
            config,
            "write_file",
            "Create a file, or replace a file's whole content, in the working directory.",
            WriteFileArgs,
            files.write_file,
            asks_by_default=True,
        ),
    ]


def _web_tools(config: WebToolConfig, env: BuiltinEnvironment) -> list[BuiltinTool[Any]]:
    web = WebTools(
        WebPolicy(
            allowed_hosts=config.allowed_hosts,
            allowed_domains=config.allowed_domains,
            denied_domains=config.denied_domains,
        ),
        timeout_s=float(config.timeout),
        max_response_bytes=config.max_response_size,
        max_redirects=config.max_redirects,
        api_key=config.api_key or env.environ.get("TAVILY_API_KEY") or None,
        search_url=env.search_url,
    )
    timeout_s = float(config.timeout) + _INNER_LIMIT_GRACE_S
    return [
        _tool(
            config,
            "web_fetch",
            "Fetch a public web page and return its readable text.",
            WebFetchArgs,
            web.web_fetch,
            timeout_s=timeout_s,
        ),
        _tool(
            config,
            "web_request",
            "Send an HTTP request (any method, headers, body) to a public URL and return the "
            "status, headers and body.",
            WebRequestArgs,
            web.web_request,
            asks_by_default=True,
            timeout_s=timeout_s,
        ),
        _tool(
            config,
            "web_search",
            "Search the web; returns result titles, URLs and snippets, and a short answer.",
            WebSearchArgs,
            web.web_search,
            timeout_s=timeout_s,
        ),
    ]


def _command_tools(
    name: str, config: CommandToolConfig, env: BuiltinEnvironment
) -> list[BuiltinTool[Any]]:
    workspace = _working_directory(name, config.working_directory, env)
    policy = command_policy(
        config.allowed_commands, config.denied_commands, bool(config.deny_by_default)
    )
    limit_s = float(config.max_execution_time)
    timeout_s = float(config.timeout)
    if "timeout" not in config.model_fields_set:
        timeout_s = max(timeout_s, limit_s + _INNER_LIMIT_GRACE_S)
    environment = scrubbed_environment(config.env, env.environ)
    tools = []
    for tool_name, simple_only in (("bash", False), ("execute_command", True)):
        runner = CommandRunner(
            workspace,
            policy,
            max_execution_time_s=limit_s,
            env=environment,
            simple_only=simple_only,
        )
        description = describe(policy, simple_only=simple_only)
        tools.append(
            _tool(config, tool_name, description, CommandArgs, runner, timeout_s=timeout_s)
        )
    return tools


def _memory_tools(
    name: str, config: MemoryToolConfig, env: BuiltinEnvironment
) -> list[BuiltinTool[Any]]:
    if env.memory is None:
        raise BuiltinToolUnavailable(f"tools.{name}: no memory store in this runtime")
    memory = MemoryTools(env.memory)
    return [
        _tool(
            config,
            "remember",
            "Save a fact about the user or their work for future conversations.",
            RememberArgs,
            memory.remember,
        ),
        _tool(
            config,
            "recall",
            "Search what you remembered about this user in earlier conversations.",
            RecallArgs,
            memory.recall,
        ),
        _tool(
            config,
            "forget",
            "Delete a remembered fact by its id (from remember or recall).",
            ForgetArgs,
            memory.forget,
        ),
    ]
