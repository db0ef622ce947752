"""Resource forms write config sections without YAML; a bad value comes back on its field."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from apps.studio.forms import AgentForm, LLMForm, _set
from apps.tenancy.models import App


def config(app: App) -> dict[str, Any]:
    app.refresh_from_db()
    return json.loads(app.config_json)


def test_overview_lists_every_section(selected: Client) -> None:
    response = selected.get("/studio/resources/")
    assert response.status_code == 200
    titles = [section["title"] for section in response.context["sections"]]
    assert titles == ["LLM providers", "Tools and MCP servers", "Guardrails", "Agents"]
    agents = response.context["sections"][3]["entries"]
    assert [name for name, _ in agents] == ["helper", "writer"]


def test_add_llm_provider_writes_a_new_revision(selected: Client, app: App) -> None:
    response = selected.post(
        "/studio/resources/llms/new/",
        {
            "name": "fast",
            "provider": "openai",
            "model": "gpt-4o-mini",
            "api_key": "${OPENAI_API_KEY:sk-test}",
            "base_url": "http://127.0.0.1:9/v1",
            "api": "chat",
            "temperature": "0.2",
            "thinking_budget": "",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/studio/resources/llms/fast/"
    assert config(app)["llms"]["fast"] == {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "api_key": "${OPENAI_API_KEY:sk-test}",
        "base_url": "http://127.0.0.1:9/v1",
        "api": "chat",
        "temperature": 0.2,
    }
    assert app.active_revision == 2


def test_out_of_range_value_is_reported_on_its_field(selected: Client, app: App) -> None:
    response = selected.post(
        "/studio/resources/llms/new/", {"name": "hot", "provider": "ollama", "temperature": "5"}
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["temperature"]
    assert "less than or equal to 2" in errors["temperature"][0]
    assert b"Temperature: " in response.content
    assert config(app)["llms"].keys() == {"default"}


def test_not_a_number_is_reported_on_its_field(selected: Client) -> None:
    response = selected.post(
        "/studio/resources/llms/new/", {"name": "x", "provider": "ollama", "max_tokens": "many"}
    )
    assert response.status_code == 400
    assert "max_tokens" in response.context["form"].errors


def test_nested_key_errors_land_on_their_field(selected: Client) -> None:
    response = selected.post(
        "/studio/resources/llms/new/",
        {"name": "deep", "provider": "anthropic", "max_tokens": "100", "thinking_budget": "500"},
    )
    assert response.status_code == 400
    assert "thinking_budget" in response.context["form"].errors


def test_editing_keeps_keys_the_form_does_not_show(selected: Client, app: App) -> None:
    selected.post(
        "/studio/config/",
        {"config": "llms:\n  default: {provider: ollama, max_tool_output_length: 50}\n"},
    )
    page = selected.get("/studio/resources/llms/default/")
    assert page.context["form"]["provider"].value() == "ollama"
    response = selected.post(
        "/studio/resources/llms/default/", {"provider": "ollama", "model": "llama3"}
    )
    assert response.status_code == 302
    assert config(app)["llms"]["default"] == {
        "provider": "ollama",
        "model": "llama3",
        "max_tool_output_length": 50,
    }


def test_add_mcp_server_tool(selected: Client, app: App) -> None:
    response = selected.post(
        "/studio/resources/tools/new/",
        {
            "name": "docs",
            "type": "mcp",
            "url": "http://127.0.0.1:9/mcp",
            "headers": "Authorization: Bearer ${DOCS_TOKEN:x}",
            "filter": "search, fetch",
            "require_approval": "unknown",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert config(app)["tools"]["docs"] == {
        "type": "mcp",
        "url": "http://127.0.0.1:9/mcp",
        "headers": {"Authorization": "Bearer ${DOCS_TOKEN:x}"},
        "filter": ["search", "fetch"],
    }


def test_mcp_server_without_url_or_command_is_refused(selected: Client, app: App) -> None:
    response = selected.post("/studio/resources/tools/new/", {"name": "broken", "type": "mcp"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "mcp tool requires url or command" in str(errors)
    assert "broken" not in config(app)["tools"]


def test_bad_env_line_names_the_field(selected: Client) -> None:
    response = selected.post(
        "/studio/resources/tools/new/",
        {"name": "local", "type": "mcp", "command": "server", "env": "NOEQUALS"},
    )
    assert response.status_code == 400
    assert "env" in response.context["form"].errors


def test_add_guardrail_set(selected: Client, app: App) -> None:
    response = selected.post(
        "/studio/resources/guardrails/new/",
        {
            "name": "strict",
            "max_length": "2000",
            "injection_action": "block",
            "block_patterns": "(?i)password\n",
            "pii_redact_mode": "mask",
            "blocked_tools": "bash",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert config(app)["guardrails"]["strict"] == {
        "input": {
            "length": {"max_length": 2000},
            "injection": {"action": "block"},
            "pattern": {"block_patterns": ["(?i)password"]},
        },
        "output": {"pii": {"redact_mode": "mask"}},
        "tool": {"authorization": {"blocked_tools": ["bash"]}},
    }


def test_bad_regular_expression_is_on_its_field(selected: Client) -> None:
    response = selected.post(
        "/studio/resources/guardrails/new/", {"name": "oops", "block_patterns": "(unclosed"}
    )
    assert response.status_code == 400
    assert "invalid regular expression" in response.context["form"].errors["block_patterns"][0]


def test_add_agent_with_tools_and_sub_agents(selected: Client, app: App) -> None:
    response = selected.post(
        "/studio/resources/agents/new/",
        {
            "name": "triage",
            "llm": "default",
            "instruction": "Route the request.",
            "tools": ["lookup"],
            "sub_agents": "writer, helper",
            "agent_tools": ["writer"],
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert config(app)["agents"]["triage"] == {
        "llm": "default",
        "instruction": "Route the request.",
        "tools": ["lookup"],
        "sub_agents": ["writer", "helper"],
        "agent_tools": ["writer"],
    }


def test_agent_referencing_an_unknown_sub_agent_is_refused(selected: Client) -> None:
    response = selected.post(
        "/studio/resources/agents/new/", {"name": "boss", "sub_agents": "ghost"}
    )
    assert response.status_code == 400
    assert "ghost" in response.context["form"].errors["sub_agents"][0]


def test_duplicate_name_is_refused(selected: Client) -> None:
    response = selected.post("/studio/resources/agents/new/", {"name": "helper"})
    assert response.status_code == 400
    assert b"already exists" in response.content


def test_deleting_a_referenced_llm_is_refused_naming_the_reference(
    selected: Client, app: App
) -> None:
    response = selected.post("/studio/resources/llms/default/delete/", follow=True)
    assert b"Not deleted" in response.content
    assert b"agents.helper.llm" in response.content
    assert "default" in config(app)["llms"]


def test_deleting_an_agent(selected: Client, app: App) -> None:
    response = selected.post("/studio/resources/agents/writer/delete/", follow=True)
    assert b"Deleted agent" in response.content
    assert list(config(app)["agents"]) == ["helper"]


def test_unknown_section_and_entry_are_404(selected: Client) -> None:
    assert selected.get("/studio/resources/widgets/new/").status_code == 404
    assert selected.get("/studio/resources/agents/ghost/").status_code == 404


def test_set_removes_empty_parents() -> None:
    entry: dict[str, Any] = {"input": {"length": {"max_length": 5}}, "keep": 1}
    _set(entry, ("input", "length", "max_length"), None)
    assert entry == {"keep": 1}
    _set(entry, ("a", "b"), [])
    assert entry == {"keep": 1}


def test_config_errors_outside_the_entry_stay_above_the_form() -> None:
    form = LLMForm({"name": "x", "provider": "ollama"})
    assert form.is_valid()
    form.add_config_errors(
        [
            {"path": "llms.x.temperature", "message": "too hot"},
            {"path": "agents.a.llm", "message": 'unknown llm "x"'},
        ],
        "x",
    )
    assert form.errors["temperature"] == ["too hot"]
    assert form.non_field_errors() == ['agents.a.llm: unknown llm "x"']


def test_agent_form_offers_other_agents_only() -> None:
    lean = {"agents": {"a": {}, "b": {}}, "llms": {"default": {}}, "tools": {"t": {}}}
    form = AgentForm(name="a", entry={}, config=lean)
    assert [value for value, _ in form.fields["agent_tools"].choices] == ["b"]
    assert form.fields["name"].disabled
