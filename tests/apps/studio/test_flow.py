"""Flow view: the agents graph from the config; edges drawn in it are saved as config (AC 15.b)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from django.test import Client

from apps.studio.flow import build_graph
from apps.tenancy.models import App

WORKFLOWS: dict[str, Any] = {
    "llms": {"default": {"provider": "ollama"}},
    "tools": {"search": {"type": "mcp", "url": "http://127.0.0.1:9/mcp"}},
    "agents": {
        "pipeline": {"type": "sequential", "sub_agents": ["draft", "review"]},
        "draft": {"instruction": "Draft.", "tools": ["search"], "agent_tools": ["review"]},
        "review": {"sub_agents": ["draft"]},
        "router": {
            "type": "conditional",
            "condition_agent": "draft",
            "on_true_agent": "review",
            "on_false_response": "Redirecting to support...",
        },
        "peer": {"type": "remote", "url": "http://127.0.0.1:9/a2a"},
        "broken": {"tools": ["nowhere"]},
    },
}


def edges(graph: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {(e["source"], e["target"], e["kind"], e["label"]) for e in graph["edges"]}


def test_graph_has_every_kind_of_edge() -> None:
    graph = build_graph(WORKFLOWS)
    assert edges(graph) == {
        ("agent:pipeline", "agent:draft", "child", "step 1"),
        ("agent:pipeline", "agent:review", "child", "step 2"),
        ("agent:draft", "tool:search", "tool", ""),
        ("agent:draft", "agent:review", "agent_tool", "as tool"),
        ("agent:review", "agent:draft", "transfer", "transfer"),
        ("agent:router", "agent:draft", "branch", "condition"),
        ("agent:router", "agent:review", "branch", "true"),
        ("agent:router", "response:router:false", "branch", "false"),
        ("agent:broken", "tool:nowhere", "tool", ""),
    }
    nodes = {node["id"]: node for node in graph["nodes"]}
    assert nodes["agent:draft"]["subtitle"] == "llm · default"
    assert nodes["agent:draft"]["yaml_path"] == "agents.draft"
    assert nodes["agent:draft"]["form_url"] == "/studio/resources/agents/draft/"
    assert nodes["agent:peer"]["subtitle"] == "remote · http://127.0.0.1:9/a2a"
    assert nodes["tool:search"]["kind"] == "tool"
    assert nodes["tool:nowhere"]["kind"] == "missing"
    assert nodes["response:router:false"]["kind"] == "response"


def test_edges_name_the_yaml_key_that_makes_them() -> None:
    graph = build_graph(WORKFLOWS)
    keys = {(e["source"], e["target"]): e["source_key"] for e in graph["edges"]}
    assert keys[("agent:pipeline", "agent:draft")] == "sub_agents"
    assert keys[("agent:draft", "agent:review")] == "agent_tools"
    assert keys[("agent:router", "agent:review")] == "on_true_agent"


def test_flow_page_embeds_the_graph(selected: Client) -> None:
    response = selected.get("/studio/flow/")
    assert response.status_code == 200
    graph = response.context["graph"]
    assert {node["id"] for node in graph["nodes"]} == {
        "agent:helper",
        "agent:writer",
        "tool:lookup",
    }
    assert b'id="flow-graph"' in response.content
    assert b"studio/flow.js" in response.content


def test_adding_an_edge_adds_the_sub_agent_to_the_yaml(selected: Client, app: App) -> None:
    response = selected.post(
        "/studio/flow/edges/",
        {"agent": "helper", "key": "sub_agents", "target": "writer"},
        follow=True,
    )
    assert b"Added writer in agents.helper.sub_agents" in response.content
    app.refresh_from_db()
    assert json.loads(app.config_json)["agents"]["helper"]["sub_agents"] == ["writer"]
    assert ("agent:helper", "agent:writer", "transfer", "transfer") in edges(
        response.context["graph"]
    )

    # Editing the YAML to remove it removes the edge.
    document = json.loads(app.config_json)
    del document["agents"]["helper"]["sub_agents"]
    selected.post("/studio/config/", {"config": yaml.safe_dump(document)})
    graph = selected.get("/studio/flow/").context["graph"]
    assert ("agent:helper", "agent:writer", "transfer", "transfer") not in edges(graph)


def test_removing_an_edge(selected: Client, app: App) -> None:
    selected.post(
        "/studio/flow/edges/",
        {"agent": "helper", "key": "tools", "target": "lookup", "remove": "1"},
    )
    app.refresh_from_db()
    assert "tools" not in json.loads(app.config_json)["agents"]["helper"]


def test_an_edge_to_an_unknown_agent_is_refused(selected: Client, app: App) -> None:
    response = selected.post(
        "/studio/flow/edges/",
        {"agent": "helper", "key": "sub_agents", "target": "ghost"},
        follow=True,
    )
    assert b"Not saved" in response.content
    assert b"ghost" in response.content
    app.refresh_from_db()
    assert app.active_revision == 1


def test_an_edge_with_an_unknown_key_is_refused(selected: Client) -> None:
    response = selected.post(
        "/studio/flow/edges/", {"agent": "helper", "key": "instruction", "target": "x"}, follow=True
    )
    assert b"key: must be one of" in response.content
