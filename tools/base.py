"""The tool interface the runner calls, and `FunctionTool` for typed Python callables.

A tool never raises at the model: bad arguments, exceptions and timeouts all come back as an
error `ToolOutput`, which the runner feeds to the model so it can correct itself (SPEC 4.2, 9).
`run_tool` is the one place that enforces this for every `Tool` implementation (function, MCP,
built-in); `FunctionTool.call` does the same for its own validation and exceptions so it can be
used directly as well. Cancellation is the exception that is never swallowed.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import logging
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, overload, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import to_jsonable_python

from agents.content import FilePart
from agents.sessions import Artifact, Session, SessionService

__all__ = [
    "DEFAULT_TOOL_TIMEOUT_S",
    "FunctionTool",
    "Tool",
    "ToolContext",
    "ToolOutput",
    "run_tool",
    "tool",
]

logger = logging.getLogger(__name__)

#: SPEC 9.1: `tools.<name>.timeout` defaults to 60s.
DEFAULT_TOOL_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """What a tool call produced: JSON-able `content`, or an error message for the model.

    `content` is what the model reads. `structured` keeps a machine-readable result beside it
    (MCP `structuredContent`) for code that wants the value rather than its text; `files` are
    binary parts (images, audio) the model receives together with the results.
    """

    content: Any
    is_error: bool = False
    structured: Mapping[str, Any] | None = None
    files: tuple[FilePart, ...] = ()

    @classmethod
    def error(cls, message: str) -> ToolOutput:
        return cls(content=message, is_error=True)


def _ignore_progress(text: str) -> None:
    """No one is listening: progress is optional, so tools never need to check."""


@dataclass(slots=True)
class ToolContext:
    """What a running tool may see and change.

    `state` is a read-only snapshot of the merged state (session keys bare, `app:`/`user:`/`temp:`
    prefixed) at call start. Writes go to `state_delta` (scoped keys such as `user:lang` are
    allowed); the runner stores them with the tool results, so parallel calls never race on state.
    Artifacts are saved straight to the session store; the versions land in `artifact_delta`.
    """

    agent: str
    user_id: str
    session: Session
    invocation_id: str
    store: SessionService
    call_id: str = ""
    state: Mapping[str, Any] = field(default_factory=dict)
    state_delta: dict[str, Any] = field(default_factory=dict)
    artifact_delta: dict[str, int] = field(default_factory=dict)
    #: Partial output while the call runs (a command's stdout, say). Synchronous so a tool can
    #: call it from anywhere without awaiting; the runner decides what to do with the text.
    progress: Callable[[str], None] = field(default=_ignore_progress)

    def __post_init__(self) -> None:
        self.state = MappingProxyType(dict(self.state))

    def get_state(self, key: str, default: Any = None) -> Any:
        """The value as this call sees it: its own writes first, then the snapshot."""
        if key in self.state_delta:
            return self.state_delta[key]
        return self.state.get(key, default)

    async def save_artifact(
        self, name: str, data: bytes | str, *, mime_type: str = "text/plain"
    ) -> int:
        version = await self.store.save_artifact(
            self.session, name=name, data=data, mime_type=mime_type
        )
        self.artifact_delta[name] = version
        return version

    async def load_artifact(self, name: str, *, version: int | None = None) -> Artifact | None:
        return await self.store.load_artifact(self.session, name=name, version=version)


@runtime_checkable
class Tool(Protocol):
    """A tool the model can call. May also have `timeout_s: float | None` (read with getattr:
    optional, so simple tools need not declare it); the runner's default is 60 s."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> Mapping[str, Any]:
        """JSON Schema of the arguments object."""

    async def call(self, arguments: Mapping[str, Any], context: ToolContext) -> ToolOutput: ...


def timeout_of(tool: Tool) -> float | None:
    value = getattr(tool, "timeout_s", None)
    return float(value) if value is not None else None


async def run_tool(
    tool: Tool, arguments: Mapping[str, Any], context: ToolContext, *, timeout_s: float | None
) -> ToolOutput:
    """Call `tool` under a deadline; every failure but cancellation becomes an error output."""
    deadline = asyncio.timeout(timeout_s)
    try:
        async with deadline:
            output = await tool.call(arguments, context)
    except TimeoutError as exc:
        if deadline.expired():
            return ToolOutput.error(f'tool "{tool.name}" timed out after {timeout_s:g}s')
        return _exception_output(tool.name, exc)
    except Exception as exc:
        return _exception_output(tool.name, exc)
    if not isinstance(output, ToolOutput):
        return ToolOutput(jsonable(output))
    return output


def _exception_output(name: str, exc: Exception) -> ToolOutput:
    logger.warning("tool=%s failed: %s: %s", name, type(exc).__name__, exc)
    message = str(exc)
    return ToolOutput.error(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def jsonable(value: Any) -> Any:
    """Results are stored in the session and replayed to providers: make them plain JSON."""
    return to_jsonable_python(value, serialize_unknown=True)


# --- FunctionTool ---------------------------------------------------------------------------


class FunctionTool:
    """A tool from a typed Python function.

    The arguments schema comes from the type hints (pydantic, so nested models, optionals,
    enums and `Annotated[..., Field(...)]` work) and the parameter descriptions from the
    docstring (Google `Args:`, Sphinx `:param x:` or NumPy `Parameters`). A parameter annotated
    `ToolContext` receives the call context and is hidden from the model. Sync functions run in
    a worker thread so they never block the event loop (a timed-out thread cannot be stopped;
    its result is dropped).
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        description: str | None = None,
        *,
        timeout_s: float | None = None,
    ) -> None:
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", type(fn).__name__))
        summary, arg_docs = parse_docstring(inspect.getdoc(fn) or "")
        self.description: str = description or summary or self.name
        self.timeout_s = timeout_s
        self._signature = inspect.signature(fn)
        self._context_params, self._model = _arguments_model(
            self.name, fn, self._signature, arg_docs
        )
        self.parameters: Mapping[str, Any] = clean_schema(self._model.model_json_schema())
        self._is_async = _is_async_callable(fn)
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The decorated function stays callable as before."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"FunctionTool({self.name!r})"

    async def call(self, arguments: Mapping[str, Any], context: ToolContext) -> ToolOutput:
        try:
            validated = self._model.model_validate(dict(arguments))
        except ValidationError as exc:
            return ToolOutput.error(f'invalid arguments for tool "{self.name}": {_errors(exc)}')
        values = {name: getattr(validated, name) for name in type(validated).model_fields}
        values.update(dict.fromkeys(self._context_params, context))
        args, kwargs = self._bind(values)
        try:
            if self._is_async:
                result = await self.fn(*args, **kwargs)
            else:
                result = await asyncio.to_thread(self.fn, *args, **kwargs)
        except Exception as exc:
            return _exception_output(self.name, exc)
        if isinstance(result, ToolOutput):
            return result
        return ToolOutput(jsonable(result))

    def _bind(self, values: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for name, param in self._signature.parameters.items():
            if name not in values:
                continue
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                args.append(values[name])
            else:
                kwargs[name] = values[name]
        return args, kwargs


@overload
def tool(fn: Callable[..., Any], /) -> FunctionTool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, timeout_s: float | None = None
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float | None = None,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """`@tool` or `@tool(name=..., description=..., timeout_s=...)`: a `FunctionTool`."""
    if fn is not None:
        return FunctionTool(fn, name, description, timeout_s=timeout_s)

    def decorate(target: Callable[..., Any]) -> FunctionTool:
        return FunctionTool(target, name, description, timeout_s=timeout_s)

    return decorate


def _is_async_callable(fn: Callable[..., Any]) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with `async def __call__`
    )


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    target = fn.func if isinstance(fn, functools.partial) else fn
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        target = getattr(target, "__call__", target)  # noqa: B004
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:
        pass
    # Some annotation does not resolve (e.g. a class local to a function): keep the others.
    namespace = getattr(target, "__globals__", {})
    hints: dict[str, Any] = {}
    for key, value in getattr(target, "__annotations__", {}).items():
        if not isinstance(value, str):
            hints[key] = value
            continue
        try:
            hints[key] = eval(value, namespace)  # what get_type_hints does, one at a time
        except Exception:
            logger.warning(
                "tool %s: cannot resolve annotation %r of %s; accepting any value",
                getattr(fn, "__name__", fn),
                value,
                key,
            )
    return hints


def _arguments_model(
    name: str,
    fn: Callable[..., Any],
    signature: inspect.Signature,
    arg_docs: Mapping[str, str],
) -> tuple[list[str], type[BaseModel]]:
    hints = _type_hints(fn)
    context_params: list[str] = []
    fields: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue  # *args/**kwargs cannot be described to a model
        annotation = hints.get(param.name, Any)
        if annotation is ToolContext:
            context_params.append(param.name)
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        doc = arg_docs.get(param.name)
        fields[param.name] = (annotation, Field(default, description=doc) if doc else default)
    model_name = re.sub(r"\W", "_", name) + "_arguments"
    config = ConfigDict(extra="forbid", protected_namespaces=(), arbitrary_types_allowed=True)
    model = create_model(model_name, __config__=config, **fields)
    return context_params, model


def _errors(exc: ValidationError) -> str:
    """`city: Field required; days: Input should be a valid integer`."""
    parts = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(p) for p in error["loc"]) or "arguments"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


# --- docstrings -----------------------------------------------------------------------------

_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Params|Keyword Args|Returns?|Yields?|Raises|Examples?|Notes?|"
    r"Attributes|See Also|Warnings?|Todo)\s*:?\s*$",
    re.IGNORECASE,
)
_ARG_SECTIONS = {"args", "arguments", "parameters", "params", "keyword args"}
_GOOGLE_ARG = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_ARG = re.compile(r"^(\w+)\s*(?::.*)?$")
_SPHINX_ARG = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(description, {argument: description}) from a Google, Sphinx or NumPy docstring.

    The description is the text before the first section or `:param`, so the model reads what
    the function does without the argument list it already gets as a schema.
    """
    lines = doc.expandtabs().splitlines()
    cut = next(
        (i for i, line in enumerate(lines) if _SECTION.match(line) or line.startswith(":")),
        len(lines),
    )
    description = "\n".join(lines[:cut]).strip()
    args: dict[str, str] = {}
    section: list[str] | None = None
    numpy = False
    current: str | None = None
    for index in range(cut, len(lines)):
        line = lines[index]
        sphinx = _SPHINX_ARG.match(line.strip())
        if sphinx:
            current, section = sphinx[1], None
            args[current] = sphinx[2].strip()
        elif line.startswith(":"):
            current, section = None, None
        elif _SECTION.match(line):
            following = lines[index + 1].strip() if index + 1 < len(lines) else ""
            is_args = line.strip().rstrip(":").lower() in _ARG_SECTIONS
            section, numpy, current = ([] if is_args else None), following.startswith("---"), None
        elif section is not None:
            section.append(line)
        elif current is not None and line.strip():
            args[current] = f"{args[current]} {line.strip()}".strip()  # Sphinx continuation
        if section is not None and (index + 1 == len(lines) or _SECTION.match(lines[index + 1])):
            args.update(_argument_section(section, numpy=numpy))
            section = None
    return description, args


def _argument_section(lines: list[str], *, numpy: bool) -> dict[str, str]:
    """Entries start at the section's first indent; deeper lines continue the entry above."""
    body = [line for line in lines if line.strip() and not set(line.strip()) <= {"-"}]
    if not body:
        return {}
    entry_indent = min(len(line) - len(line.lstrip()) for line in body)
    args: dict[str, str] = {}
    current: str | None = None
    for line in body:
        text = line.strip()
        if len(line) - len(line.lstrip()) == entry_indent:
            match = (_NUMPY_ARG if numpy else _GOOGLE_ARG).match(text)
            current = match[1] if match else None
            if current is not None:
                args[current] = "" if numpy else match[2].strip()  # type: ignore[index]
        elif current is not None:
            args[current] = f"{args[current]} {text}".strip()
    return args


# --- schemas --------------------------------------------------------------------------------

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SCHEMA_VALUES = ("items", "additionalProperties", "not", "contains", "if", "then", "else")


def clean_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Pydantic's schema, made friendly to every provider: `$ref`s into `$defs` inlined (Gemini
    and some OpenAI-compatible servers reject them) unless recursive, and `title`s dropped."""
    result = copy.deepcopy(dict(schema))
    defs = result.get("$defs", {})
    recursive = False

    def inline(node: Any, stack: tuple[str, ...]) -> Any:
        nonlocal recursive
        if isinstance(node, list):
            return [inline(item, stack) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in stack or name not in defs:
                recursive = True
                return node
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            return inline({**defs[name], **siblings}, (*stack, name))
        return {key: _inline_child(key, value, stack, inline) for key, value in node.items()}

    inlined = inline({k: v for k, v in result.items() if k != "$defs"}, ())
    if recursive and defs:
        inlined["$defs"] = defs
    cleaned: dict[str, Any] = _drop_titles(inlined)
    return cleaned


def _inline_child(
    key: str, value: Any, stack: tuple[str, ...], inline: Callable[[Any, tuple[str, ...]], Any]
) -> Any:
    if key in _SCHEMA_MAPS and isinstance(value, dict):
        return {name: inline(sub, stack) for name, sub in value.items()}
    if key in _SCHEMA_LISTS or key in _SCHEMA_VALUES:
        return inline(value, stack)
    return value


def _drop_titles(node: Any) -> Any:
    """Remove the `title` keyword (never a property that happens to be called title)."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _drop_titles(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_drop_titles(sub) for sub in value]
        elif key in _SCHEMA_VALUES:
            out[key] = _drop_titles(value)
        else:
            out[key] = value
    return out
