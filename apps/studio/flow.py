"""The app's agents as a graph, from the active (lean) config: what the flow view draws.

Nodes are agents, tools and canned responses; edges say how they are tied: workflow children in
order (`sub_agents` of sequential/parallel/loop agents), transfers (`sub_agents` of llm agents),
agent tools, conditional branches and tools. The graph is plain data (JSON to the page), each
edge naming the YAML key that makes it (`source_key`), so the page can turn a drawn edge back
into a config change, and so a later drag-and-drop editor needs no second source of truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

WORKFLOW_LABELS = {"sequential": "step", "parallel": "branch", "loop": "repeat"}
BRANCH_KEYS = (
    ("condition_agent", "condition"),
    ("on_true_agent", "true"),
    ("on_false_agent", "false"),
)


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # agent | tool | response | missing
    label: str
    subtitle: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    yaml_path: str = ""  # editor anchor, e.g. agents.triage
    form_url: str = ""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # child | transfer | agent_tool | branch | tool
    label: str = ""
    source_key: str = ""  # the YAML key of the source agent that holds this edge


def _default_llm(lean: Mapping[str, Any]) -> str:
    llms = list((lean.get("llms") or {}).keys())
    explicit = (lean.get("defaults") or {}).get("llm")
    if explicit:
        return str(explicit)
    if "default" in llms:
        return "default"
    return llms[0] if len(llms) == 1 else ""


def _entry(raw: Any) -> Mapping[str, Any]:
    return raw if isinstance(raw, Mapping) else {}


class _Graph:
    def __init__(self, lean: Mapping[str, Any]) -> None:
        self.agents: Mapping[str, Any] = lean.get("agents") or {}
        self.tools: Mapping[str, Any] = lean.get("tools") or {}
        self.default_llm = _default_llm(lean)
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []

    def agent_node(self, name: str, entry: Mapping[str, Any]) -> Node:
        kind = str(entry.get("type") or "llm")
        llm = str(entry.get("llm") or (self.default_llm if kind == "llm" else ""))
        subtitle = f"{kind} · {llm}" if llm else kind
        if kind == "remote":
            subtitle = f"remote · {entry.get('url') or entry.get('agent_card_url') or 'card file'}"
        return Node(
            id=f"agent:{name}",
            kind="agent",
            label=name,
            subtitle=subtitle,
            detail={
                "type": kind,
                "llm": llm,
                "description": entry.get("description") or "",
                "visibility": entry.get("visibility") or "public",
                "instruction": (entry.get("instruction") or "")[:400],
            },
            yaml_path=f"agents.{name}",
            form_url=f"/studio/resources/agents/{name}/",
        )

    def tool_node(self, name: str) -> Node:
        entry = _entry(self.tools[name])
        return Node(
            id=f"tool:{name}",
            kind="tool",
            label=name,
            subtitle=str(entry.get("type") or "tool"),
            detail={"type": entry.get("type"), "description": entry.get("description") or ""},
            yaml_path=f"tools.{name}",
            form_url=f"/studio/resources/tools/{name}/",
        )

    def target(self, section: str, name: str) -> str:
        """The node a reference points at; an unknown name gets a `missing` node."""
        node_id = f"{'agent' if section == 'agents' else 'tool'}:{name}"
        if node_id not in self.nodes:
            if section == "tools" and name in self.tools:
                self.nodes[node_id] = self.tool_node(name)
            else:
                self.nodes[node_id] = Node(node_id, "missing", name, "not found")
        return node_id

    def link(self, source: str, section: str, name: Any, kind: str, label: str, key: str) -> None:
        self.edges.append(Edge(source, self.target(section, str(name)), kind, label, key))

    def agent_edges(self, name: str, entry: Mapping[str, Any]) -> None:
        source = f"agent:{name}"
        kind = str(entry.get("type") or "llm")
        for index, child in enumerate(entry.get("sub_agents") or []):
            if kind == "sequential":
                self.link(source, "agents", child, "child", f"step {index + 1}", "sub_agents")
            elif kind in WORKFLOW_LABELS:
                self.link(source, "agents", child, "child", WORKFLOW_LABELS[kind], "sub_agents")
            else:
                self.link(source, "agents", child, "transfer", "transfer", "sub_agents")
        for child in entry.get("agent_tools") or []:
            self.link(source, "agents", child, "agent_tool", "as tool", "agent_tools")
        for key, label in BRANCH_KEYS:
            if entry.get(key):
                self.link(source, "agents", entry[key], "branch", label, key)
        for side in ("true", "false"):
            response = entry.get(f"on_{side}_response")
            if response:
                node_id = f"response:{name}:{side}"
                self.nodes[node_id] = Node(node_id, "response", f'"{str(response)[:40]}"', "answer")
                self.edges.append(Edge(source, node_id, "branch", side, f"on_{side}_response"))
        for tool in entry.get("tools") or []:
            self.link(source, "tools", tool, "tool", "", "tools")
        for step in entry.get("steps") or []:
            if isinstance(step, Mapping) and step.get("tool"):
                self.link(source, "tools", step["tool"], "tool", "step", "steps")


def build_graph(lean: Mapping[str, Any]) -> dict[str, Any]:
    """Nodes and edges of the config; references to unknown names become `missing` nodes."""
    graph = _Graph(lean)
    for name, raw in graph.agents.items():
        graph.nodes[f"agent:{name}"] = graph.agent_node(str(name), _entry(raw))
    for name, raw in graph.agents.items():
        graph.agent_edges(str(name), _entry(raw))
    return {
        "nodes": [asdict(node) for node in graph.nodes.values()],
        "edges": [asdict(edge) for edge in graph.edges],
    }
