"""``tools.<name>``: one toolset, discriminated on ``type`` (SPEC 9).

Every variant shares the keys of SPEC 9.1 (``enabled``, ``description``, ``require_approval``,
``approval_prompt``, ``timeout``). ``require_approval`` left unset means "the built-in default"
(SPEC 9.3): resolved to a boolean here where the whole toolset has one answer, and left ``None``
for ``filetool``/``webtool``, whose tools differ (writes and ``web_request`` ask, reads do not).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self, get_args

from pydantic import Discriminator, Field, field_validator, model_validator

from agents.config_base import NonEmptyStr, PositiveInt, StrictModel, set_defaults
from agents.durations import Duration

__all__ = [
    "BUILTIN_TOOL_NAMES",
    "AgentToolConfig",
    "ApprovalToolConfig",
    "CommandToolConfig",
    "FileToolConfig",
    "FunctionToolConfig",
    "MCPToolConfig",
    "MemoryToolConfig",
    "SearchToolConfig",
    "TodoToolConfig",
    "ToolConfig",
    "WebToolConfig",
    "detect_mcp_transport",
    "exposed_tool_names",
]

MIB = 1024 * 1024

#: The tools each built-in toolset type exposes (SPEC 9.3); ``filter`` picks a subset.
BUILTIN_TOOL_NAMES: dict[str, tuple[str, ...]] = {
    "filetool": ("text_editor", "grep_search", "apply_patch", "read_file", "write_file"),
    "webtool": ("web_fetch", "web_request", "web_search"),
    "command": ("bash", "execute_command"),
    "commandtool": ("bash", "execute_command"),
    "memorytool": ("remember", "recall", "forget"),
    "searchtool": ("search",),
    "todotool": ("todo_write",),
    "approvaltool": ("request_approval",),
}


def detect_mcp_transport(command: str | None, url: str | None) -> str | None:
    """SPEC 9.2: ``command`` -> stdio; URL ending ``/sse`` -> sse; other URL -> streamable-http."""
    if command:
        return "stdio"
    if url:
        return "sse" if url.split("?", 1)[0].rstrip("/").endswith("/sse") else "streamable-http"
    return None


class _ToolBase(StrictModel):
    #: ``require_approval`` when unset; None = decided per tool inside the toolset.
    approval_default: ClassVar[bool | None] = False

    type: str  # narrowed to a Literal by every variant; declared here so it is listed first
    enabled: bool = True
    description: str | None = None
    require_approval: bool | None = Field(
        default=None, description="Default per tool type (SPEC 9.3)."
    )
    approval_prompt: str | None = None
    timeout: Duration = Duration.of("60s")

    @model_validator(mode="after")
    def _approval_default(self) -> Self:
        if self.require_approval is None and self.approval_default is not None:
            set_defaults(self, require_approval=self.approval_default)
        return self


class _FilteredBuiltin(_ToolBase):
    """A built-in toolset whose exposed tools can be narrowed with ``filter``."""

    filter: list[NonEmptyStr] | None = Field(
        default=None, description="Exposed tool names; others hidden. Default: all."
    )

    @field_validator("filter")
    @classmethod
    def _known_filter_names(cls, names: list[str] | None) -> list[str] | None:
        kind = get_args(cls.model_fields["type"].annotation)[0]
        known = BUILTIN_TOOL_NAMES[kind]
        unknown = [name for name in names or () if name not in known]
        if unknown:
            raise ValueError(f'unknown tool "{unknown[0]}" (available: {", ".join(known)})')
        return names


class MCPToolConfig(_ToolBase):
    type: Literal["mcp"]
    transport: Literal["stdio", "sse", "streamable-http"] | None = Field(
        default=None, description="Auto: command -> stdio; URL ending /sse -> sse; else HTTP."
    )
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    filter: list[NonEmptyStr] | None = Field(
        default=None, description="Exposed tool names; others hidden. Default: all."
    )
    prefix: str | None = Field(default=None, description="Prepended to every tool name.")

    @model_validator(mode="after")
    def _transport(self) -> Self:
        if not self.command and not self.url:
            raise ValueError("mcp tool requires url or command")
        transport = self.transport or detect_mcp_transport(self.command, self.url)
        if transport == "stdio" and not self.command:
            raise ValueError("transport stdio requires command")
        if transport in ("sse", "streamable-http") and not self.url:
            raise ValueError(f"transport {transport} requires url")
        set_defaults(self, transport=transport)
        return self


class FunctionToolConfig(_ToolBase):
    type: Literal["function"]
    handler: NonEmptyStr = Field(description="Name registered through the programmatic API.")
    parameters: dict[str, object] | None = Field(
        default=None, description="JSON Schema of the arguments (default: from type hints)."
    )


class CommandToolConfig(_FilteredBuiltin):
    approval_default: ClassVar[bool | None] = True

    type: Literal["command", "commandtool"]
    allowed_commands: list[NonEmptyStr] | None = Field(
        default=None, description="First token of every pipeline segment must match."
    )
    denied_commands: list[NonEmptyStr] = Field(default_factory=list)
    deny_by_default: bool | None = Field(
        default=None, description="Default: true when allowed_commands is set."
    )
    working_directory: str = "./"
    max_execution_time: Duration = Duration.of("30s")
    env: dict[str, str] = Field(
        default_factory=dict, description="Only these plus PATH, HOME, LANG reach the process."
    )

    @model_validator(mode="after")
    def _deny_by_default(self) -> Self:
        set_defaults(
            self,
            deny_by_default=(
                self.allowed_commands is not None
                if self.deny_by_default is None
                else self.deny_by_default
            ),
        )
        return self


class FileToolConfig(_FilteredBuiltin):
    approval_default: ClassVar[bool | None] = None

    type: Literal["filetool"]
    working_directory: str = Field(
        default="./", description="Relative to the app workspace .hector/apps/<app>/workspace."
    )
    max_file_size: PositiveInt = Field(default=10 * MIB, description="Bytes.")


class WebToolConfig(_FilteredBuiltin):
    approval_default: ClassVar[bool | None] = None

    type: Literal["webtool"]
    timeout: Duration = Duration.of("30s")
    allowed_hosts: list[NonEmptyStr] = Field(
        default_factory=list, description="Exempt from the SSRF policy (e.g. internal APIs)."
    )
    allowed_domains: list[NonEmptyStr] = Field(default_factory=list)
    denied_domains: list[NonEmptyStr] = Field(default_factory=list)
    max_response_size: PositiveInt = Field(default=5 * MIB, description="Bytes.")
    max_redirects: int = Field(default=5, ge=0)
    api_key: str | None = Field(default=None, description="Search API key (Tavily).")


class MemoryToolConfig(_FilteredBuiltin):
    type: Literal["memorytool"]


class SearchToolConfig(_FilteredBuiltin):
    type: Literal["searchtool"]
    document_stores: list[NonEmptyStr] | None = Field(
        default=None, description="Stores searched; default: the agent's stores."
    )
    top_k: PositiveInt | None = Field(default=None, description="Default: the store's top_k.")


class TodoToolConfig(_FilteredBuiltin):
    type: Literal["todotool"]


class ApprovalToolConfig(_FilteredBuiltin):
    approval_default: ClassVar[bool | None] = None

    type: Literal["approvaltool"]
    prompt: str | None = Field(default=None, description="Default question shown to the user.")

    @field_validator("require_approval")
    @classmethod
    def _not_applicable(cls, value: bool | None) -> bool | None:
        if value is not None:
            raise ValueError("require_approval does not apply to approvaltool (it always asks)")
        return value


class AgentToolConfig(_ToolBase):
    """An agent as a tool under an explicit name (``agent_tools`` creates these implicitly)."""

    type: Literal["agenttool"]
    agent: NonEmptyStr


ToolConfig = Annotated[
    MCPToolConfig
    | FunctionToolConfig
    | CommandToolConfig
    | FileToolConfig
    | WebToolConfig
    | MemoryToolConfig
    | SearchToolConfig
    | TodoToolConfig
    | ApprovalToolConfig
    | AgentToolConfig,
    Discriminator("type"),
]


def exposed_tool_names(name: str, tool: object) -> tuple[str, ...] | None:
    """Tool names a toolset puts in front of the model, or None when unknown until connect.

    An MCP server without ``filter`` lists its tools only at runtime; ``function`` and
    ``agenttool`` expose one tool named after the config key.
    """
    kind = getattr(tool, "type", None)
    if kind == "mcp":
        names = getattr(tool, "filter", None)
        if names is None:
            return None
        prefix = getattr(tool, "prefix", None) or ""
        return tuple(prefix + n for n in names)
    if kind in ("function", "agenttool"):
        return (name,)
    if kind in BUILTIN_TOOL_NAMES:
        names = getattr(tool, "filter", None)
        return tuple(names) if names else BUILTIN_TOOL_NAMES[kind]
    return ()
