"""Cross-reference and whole-document checks (SPEC 2.3, 4.2, 4.3, 12.2).

These run on the plain (interpolated) document rather than on validated models, so one load
reports broken references together with schema errors, even when some section did not validate.
Every check therefore tolerates values of the wrong type (pydantic reports those).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from agents.config_yaml import Path
from agents.triggers import default_webhook_path
from tools.config import BUILTIN_TOOL_NAMES

__all__ = [
    "Issue",
    "check_references",
    "referenced_embedders",
    "referenced_llms",
    "referenced_vector_stores",
]

Issue = tuple[Path, str]

_AGENT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$")
_WORKFLOW = ("sequential", "parallel", "loop")
_TYPE_ONLY_KEYS: dict[str, tuple[str, ...]] = {
    "max_iterations": ("loop",),
    "continue_on_error": ("parallel",),
    "url": ("remote",),
    "agent_card_url": ("remote",),
    "agent_card_file": ("remote",),
    "headers": ("remote",),
    "condition_agent": ("conditional",),
    "condition_field": ("conditional",),
    "condition_value": ("conditional",),
    "on_true_agent": ("conditional",),
    "on_false_agent": ("conditional",),
    "on_true_response": ("conditional",),
    "on_false_response": ("conditional",),
    "steps": ("runner",),
    # Only an llm agent calls tools (agent tools) or hands the conversation over (sub_agents);
    # workflows run their sub_agents; the other types would silently ignore them.
    "agent_tools": ("llm",),
    "sub_agents": ("llm", "sequential", "parallel", "loop"),
}
#: Agent keys naming other agents: edges of the agent graph (cycles are errors).
_AGENT_LIST_KEYS = ("sub_agents", "agent_tools")
_AGENT_REF_KEYS = ("condition_agent", "on_true_agent", "on_false_agent")


def _section(doc: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def _entries(doc: Mapping[str, Any], key: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, value in _section(doc, key).items():
        if isinstance(value, dict):
            yield str(name), value


def _strings(value: Any) -> Iterator[tuple[int, str]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield index, item


def _unknown(kind: str, value: str, defined: list[str]) -> str:
    listing = f"defined: {', '.join(defined)}" if defined else "none defined"
    return f'unknown {kind} "{value}" ({listing})'


def _implicit(names: list[str], explicit: Any) -> str | None:
    if isinstance(explicit, str) and explicit:
        return explicit
    if "default" in names:
        return "default"
    return names[0] if len(names) == 1 else None


class _Doc:
    """Names defined in each section, in document order."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self.agents = dict(_entries(doc, "agents"))
        self.llms = [str(n) for n in _section(doc, "llms")]
        self.embedders = [str(n) for n in _section(doc, "embedders")]
        self.vector_stores = [str(n) for n in _section(doc, "vector_stores")]
        self.document_stores = [str(n) for n in _section(doc, "document_stores")]
        self.guardrails = [str(n) for n in _section(doc, "guardrails")]
        self.databases = [str(n) for n in _section(doc, "databases")]
        self.tools = dict(_entries(doc, "tools"))
        self.tool_names = [str(n) for n in _section(doc, "tools")]
        self.defaults = _section(doc, "defaults")

    def ref(self, path: Path, kind: str, value: Any, defined: list[str]) -> list[Issue]:
        if isinstance(value, str) and value not in defined:
            return [(path, _unknown(kind, value, defined))]
        return []


# --- agents ------------------------------------------------------------------------------


def _agent_type(agent: Mapping[str, Any]) -> str:
    kind = agent.get("type", "llm")
    return kind if isinstance(kind, str) else "llm"


def _check_agent_names(d: _Doc) -> list[Issue]:
    return [
        (("agents", name), f'invalid agent name "{name}" (must match {_AGENT_NAME.pattern})')
        for name in _section(d.doc, "agents")
        if not isinstance(name, str) or not _AGENT_NAME.match(name)
    ]


def _check_agent_llm(d: _Doc, name: str, agent: Mapping[str, Any]) -> list[Issue]:
    path: Path = ("agents", name, "llm")
    if agent.get("llm") is not None:
        return d.ref(path, "llm", agent.get("llm"), d.llms)
    if _agent_type(agent) != "llm":
        return []
    if not d.llms:
        return [(path, "no llm configured (add one under llms)")]
    if _implicit(d.llms, d.defaults.get("llm")) is None:
        return [
            (path, 'no llm given and no default (set llm, defaults.llm, or name an llm "default")')
        ]
    return []


def _tool_exposure(name: str, tool: Mapping[str, Any]) -> tuple[str, ...] | None:
    """Names a toolset exposes (None: an MCP server without filter, known only at runtime)."""
    kind = tool.get("type")
    names = [n for _, n in _strings(tool.get("filter"))]
    if kind == "mcp":
        if tool.get("filter") is None:
            return None
        prefix = tool.get("prefix") if isinstance(tool.get("prefix"), str) else ""
        return tuple(f"{prefix}{n}" for n in names)
    if kind in ("function", "agenttool"):
        return (name,)
    if isinstance(kind, str) and kind in BUILTIN_TOOL_NAMES:
        return tuple(names) if tool.get("filter") is not None else BUILTIN_TOOL_NAMES[kind]
    return ()


def _tool_known(d: _Doc, tool: str) -> bool:
    """A configured toolset, or a tool one of them exposes; anything when an MCP server is
    unfiltered (its tools are only listed when it connects)."""
    if tool in d.tools or tool in d.tool_names:
        return True
    for name, config in d.tools.items():
        exposed = _tool_exposure(name, config)
        if exposed is None or tool in exposed:
            return True
    return False


def _check_agent_tools(d: _Doc, name: str, agent: Mapping[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    for index, tool in _strings(agent.get("tools")):
        if not _tool_known(d, tool):
            issues.append((("agents", name, "tools", index), _unknown("tool", tool, d.tool_names)))
    steps = agent.get("steps")
    for index, step in enumerate(steps if isinstance(steps, list) else []):
        step_tool = step.get("tool") if isinstance(step, dict) else None
        if isinstance(step_tool, str) and not _tool_known(d, step_tool):
            path: Path = ("agents", name, "steps", index, "tool")
            issues.append((path, _unknown("tool", step_tool, d.tool_names)))
    issues.extend(_check_tool_conflicts(d, name, agent))
    return issues


def _check_tool_conflicts(d: _Doc, name: str, agent: Mapping[str, Any]) -> list[Issue]:
    """SPEC 9.2: two toolsets of one agent exposing the same tool name is an error."""
    issues: list[Issue] = []
    owner: dict[str, str] = {}
    for index, tool_name in _strings(agent.get("tools")):
        config = d.tools.get(tool_name)
        exposed = _tool_exposure(tool_name, config) if config is not None else None
        for exposed_name in exposed or ():
            first = owner.setdefault(exposed_name, tool_name)
            if first != tool_name:
                issues.append(
                    (
                        ("agents", name, "tools", index),
                        f'tool "{exposed_name}" is provided by both tools.{first} and '
                        f"tools.{tool_name} (narrow one with filter, or set an MCP prefix)",
                    )
                )
    return issues


def _check_agent_refs(d: _Doc, name: str, agent: Mapping[str, Any]) -> list[Issue]:
    agents = list(d.agents)
    issues = _check_agent_llm(d, name, agent) + _check_agent_tools(d, name, agent)
    for key in _AGENT_LIST_KEYS:
        for index, other in _strings(agent.get(key)):
            if other not in d.agents:
                issues.append((("agents", name, key, index), f'agent "{other}" not found in {key}'))
    for key in _AGENT_REF_KEYS:
        issues += d.ref(("agents", name, key), "agent", agent.get(key), agents)
    guardrails = agent.get("guardrails")
    issues += d.ref(("agents", name, "guardrails"), "guardrails", guardrails, d.guardrails)
    for index, store in _strings(agent.get("document_stores")):
        path: Path = ("agents", name, "document_stores", index)
        issues += d.ref(path, "document store", store, d.document_stores)
    context = agent.get("context")
    if isinstance(context, dict):
        path = ("agents", name, "context", "summarizer_llm")
        issues += d.ref(path, "llm", context.get("summarizer_llm"), d.llms)
    return issues


def _check_agent_type(name: str, agent: Mapping[str, Any]) -> list[Issue]:
    """Required keys per type (SPEC 4.2) and keys that only one type understands."""
    kind = _agent_type(agent)
    path = ("agents", name)
    issues: list[Issue] = [
        ((*path, key), f"only valid for type {' or '.join(types)} (this agent is {kind})")
        for key, types in _TYPE_ONLY_KEYS.items()
        if key in agent and kind not in types
    ]
    if kind in _WORKFLOW and not list(_strings(agent.get("sub_agents"))):
        issues.append(((*path, "sub_agents"), f"{kind} agent requires at least one sub-agent"))
    if kind == "conditional":
        if not agent.get("condition_agent"):
            message = "conditional agent requires condition_agent"
            issues.append(((*path, "condition_agent"), message))
        for side in ("true", "false"):
            target, response = f"on_{side}_agent", f"on_{side}_response"
            if agent.get(target) is None and agent.get(response) is None:
                issues.append(
                    ((*path, target), f"conditional agent requires {target} or {response}")
                )
            elif agent.get(target) is not None and agent.get(response) is not None:
                issues.append(((*path, response), f"set {target} or {response}, not both"))
    if kind == "remote" and not any(
        agent.get(k) for k in ("url", "agent_card_url", "agent_card_file")
    ):
        issues.append(
            ((*path, "url"), "remote agent requires url, agent_card_url or agent_card_file")
        )
    if kind == "runner" and not agent.get("steps") and not agent.get("tools"):
        issues.append(((*path, "steps"), "runner agent requires steps or tools"))
    return issues


def _check_notifications(name: str, agent: Mapping[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    seen: set[str] = set()
    notifications = agent.get("notifications")
    for index, item in enumerate(notifications if isinstance(notifications, list) else []):
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, str):
            if ident in seen:
                path: Path = ("agents", name, "notifications", index, "id")
                issues.append((path, f'duplicate notification id "{ident}"'))
            seen.add(ident)
    return issues


def _check_webhook_paths(d: _Doc) -> list[Issue]:
    issues: list[Issue] = []
    owners: dict[str, str] = {}
    for name, agent in d.agents.items():
        trigger = agent.get("trigger")
        if not isinstance(trigger, dict) or trigger.get("type") != "webhook":
            continue
        path = trigger.get("path") or default_webhook_path(name)
        if not isinstance(path, str):
            continue
        if path in owners:
            issues.append(
                (
                    ("agents", name, "trigger", "path"),
                    f'webhook path "{path}" is already used by agents.{owners[path]}',
                )
            )
        else:
            owners[path] = name
    return issues


def _agent_edges(agent: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, target) for every agent this agent runs or delegates to."""
    for key in _AGENT_LIST_KEYS:
        for _, other in _strings(agent.get(key)):
            yield key, other
    for key in _AGENT_REF_KEYS:
        target = agent.get(key)
        if isinstance(target, str):
            yield key, target


def _check_cycles(d: _Doc) -> list[Issue]:
    """One issue per cycle found, reported on the edge that leaves the cycle's first agent."""
    issues: list[Issue] = []
    reported: set[frozenset[str]] = set()
    done: set[str] = set()

    def visit(node: str, stack: list[tuple[str, str]]) -> None:
        # stack: (agent, field) pairs on the current path; field is the edge leaving that agent
        on_stack = [agent for agent, _ in stack]
        for field, target in _agent_edges(d.agents[node]):
            if target not in d.agents:
                continue
            if target == node or target in on_stack:
                start = len(on_stack) if target == node else on_stack.index(target)
                cycle = [*on_stack[start:], node]
                first_field = field if target == node else stack[start][1]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    text = " -> ".join([*cycle, cycle[0]])
                    issues.append((("agents", cycle[0], first_field), f"cycle detected: {text}"))
            elif target not in done:
                visit(target, [*stack, (node, field)])
        done.add(node)

    for name in d.agents:
        if name not in done:
            visit(name, [])
    return issues


# --- other sections ----------------------------------------------------------------------


def _check_defaults(d: _Doc) -> list[Issue]:
    defaults = d.defaults
    return (
        d.ref(("defaults", "llm"), "llm", defaults.get("llm"), d.llms)
        + d.ref(("defaults", "embedder"), "embedder", defaults.get("embedder"), d.embedders)
        + d.ref(
            ("defaults", "vector_store"),
            "vector store",
            defaults.get("vector_store"),
            d.vector_stores,
        )
        + d.ref(("defaults", "guardrails"), "guardrails", defaults.get("guardrails"), d.guardrails)
        + d.ref(("defaults", "agent"), "agent", defaults.get("agent"), list(d.agents))
    )


def _check_document_stores(d: _Doc) -> list[Issue]:
    issues: list[Issue] = []
    for name, store in _entries(d.doc, "document_stores"):
        path: Path = ("document_stores", name)
        issues += d.ref((*path, "embedder"), "embedder", store.get("embedder"), d.embedders)
        issues += d.ref(
            (*path, "vector_store"), "vector store", store.get("vector_store"), d.vector_stores
        )
        search = store.get("search")
        if isinstance(search, dict):
            for key in ("hyde_llm", "rerank_llm", "multi_query_llm"):
                issues += d.ref((*path, "search", key), "llm", search.get(key), d.llms)
        source = store.get("source")
        if isinstance(source, dict) and source.get("type") == "sql":
            db_path: Path = (*path, "source", "database")
            issues += d.ref(db_path, "database", source.get("database"), d.databases)
        parsers = store.get("mcp_parsers")
        toolset = parsers.get("toolset") if isinstance(parsers, dict) else None
        if isinstance(toolset, str):
            mcp_tools = [n for n, t in d.tools.items() if t.get("type") == "mcp"]
            issues += d.ref((*path, "mcp_parsers", "toolset"), "mcp tool", toolset, mcp_tools)
    return issues


def _check_tools(d: _Doc) -> list[Issue]:
    issues: list[Issue] = []
    for name, tool in d.tools.items():
        if tool.get("type") == "searchtool":
            for index, store in _strings(tool.get("document_stores")):
                path: Path = ("tools", name, "document_stores", index)
                issues += d.ref(path, "document store", store, d.document_stores)
        if tool.get("type") == "agenttool":
            issues += d.ref(("tools", name, "agent"), "agent", tool.get("agent"), list(d.agents))
    return issues


def _check_storage(d: _Doc) -> list[Issue]:
    storage = _section(d.doc, "storage")
    issues: list[Issue] = []
    for key in ("sessions", "tasks"):
        section = storage.get(key)
        if isinstance(section, dict):
            path: Path = ("storage", key, "database")
            issues += d.ref(path, "database", section.get("database"), d.databases)
    memory = storage.get("memory")
    if isinstance(memory, dict):
        path = ("storage", "memory", "embedder")
        issues += d.ref(path, "embedder", memory.get("embedder"), d.embedders)
    return issues


def _check_guardrails(d: _Doc) -> list[Issue]:
    issues: list[Issue] = []
    for name, config in _entries(d.doc, "guardrails"):
        moderation = config.get("moderation")
        prompt = moderation.get("prompt") if isinstance(moderation, dict) else None
        if isinstance(prompt, dict):
            path: Path = ("guardrails", name, "moderation", "prompt", "llm")
            issues += d.ref(path, "llm", prompt.get("llm"), d.llms)
    return issues


def check_references(data: Any) -> list[Issue]:
    """Every cross-reference and whole-document problem of an (interpolated) document."""
    d = _Doc(data if isinstance(data, Mapping) else {})
    issues = _check_agent_names(d)
    for name, agent in d.agents.items():
        issues += _check_agent_refs(d, name, agent)
        issues += _check_agent_type(name, agent)
        issues += _check_notifications(name, agent)
    issues += _check_cycles(d)
    issues += _check_webhook_paths(d)
    issues += _check_defaults(d)
    issues += _check_document_stores(d)
    issues += _check_tools(d)
    issues += _check_storage(d)
    issues += _check_guardrails(d)
    return issues


# --- what is in use (decides whether an unset api_key placeholder is an error) -----------


def referenced_llms(data: Any) -> set[str]:
    """LLMs an agent uses directly, or as the default LLM of an LLM agent without one."""
    d = _Doc(data if isinstance(data, Mapping) else {})
    used = {a["llm"] for a in d.agents.values() if isinstance(a.get("llm"), str)}
    if any(a.get("llm") is None and _agent_type(a) == "llm" for a in d.agents.values()):
        default = _implicit(d.llms, d.defaults.get("llm"))
        if default:
            used.add(default)
    return used


def referenced_embedders(data: Any) -> set[str]:
    """Embedders a document store or vector memory uses (explicitly or as the default)."""
    d = _Doc(data if isinstance(data, Mapping) else {})
    default = _implicit(d.embedders, d.defaults.get("embedder"))
    used: set[str] = set()
    for _, store in _entries(d.doc, "document_stores"):
        name = store.get("embedder") or default
        if isinstance(name, str):
            used.add(name)
    memory = _section(_section(d.doc, "storage"), "memory")
    if memory.get("backend") == "vector":
        name = memory.get("embedder") or default
        if isinstance(name, str):
            used.add(name)
    return used


def referenced_vector_stores(data: Any) -> set[str]:
    d = _Doc(data if isinstance(data, Mapping) else {})
    default = _implicit(d.vector_stores, d.defaults.get("vector_store"))
    used: set[str] = set()
    for _, store in _entries(d.doc, "document_stores"):
        name = store.get("vector_store") or default
        if isinstance(name, str):
            used.add(name)
    return used
