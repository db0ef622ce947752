"""`build_builtin_tools`: names, filter, enabled, description, timeout and approval defaults
(SPEC 9.1, 9.3); plus the two small toolsets, todotool and approvaltool."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from agents.sessions import InMemorySessionService
from tools.base import Tool, ToolContext
from tools.builtin import (
    BUILTIN_TOOLSET_TYPES,
    BuiltinEnvironment,
    BuiltinTool,
    BuiltinToolUnavailable,
    InMemoryMemoryStore,
    app_workspace,
    build_builtin_tools,
)
from tools.config import BUILTIN_TOOL_NAMES, SearchToolConfig, ToolConfig

CONFIG = TypeAdapter(ToolConfig)


def build(tmp_path: Path, **config: Any) -> dict[str, BuiltinTool[Any]]:
    env = BuiltinEnvironment(app="default", workspace=tmp_path, memory=InMemoryMemoryStore())
    tools = build_builtin_tools("set", CONFIG.validate_python(config), env)  # type: ignore[arg-type]
    return {tool.name: tool for tool in tools}


async def make_context(**state: Any) -> ToolContext:
    store = InMemorySessionService()
    session = await store.create(user_id="u1", agent="assistant")
    return ToolContext(
        agent="assistant",
        user_id="u1",
        session=session,
        invocation_id="i",
        store=store,
        state=state,
    )


@pytest.mark.parametrize("kind", sorted(BUILTIN_TOOLSET_TYPES))
def test_each_toolset_exposes_the_tools_the_config_names(tmp_path: Path, kind: str) -> None:
    tools = build(tmp_path, type=kind)
    assert tuple(tools) == BUILTIN_TOOL_NAMES[kind]
    for tool in tools.values():
        assert isinstance(tool, Tool)
        assert tool.parameters["type"] == "object"
        json.dumps(tool.parameters)  # plain JSON, ready for any provider
        assert tool.description


def test_filter_enabled_and_timeout(tmp_path: Path) -> None:
    assert list(build(tmp_path, type="filetool", filter=["read_file", "grep_search"])) == [
        "grep_search",
        "read_file",
    ]
    assert build(tmp_path, type="filetool", enabled=False) == {}
    assert {t.timeout_s for t in build(tmp_path, type="filetool", timeout="5s").values()} == {5.0}
    assert {t.timeout_s for t in build(tmp_path, type="todotool").values()} == {60.0}


def test_description_replaces_a_single_tool_and_prefixes_several(tmp_path: Path) -> None:
    single = build(tmp_path, type="filetool", filter=["read_file"], description="Read the docs.")
    assert single["read_file"].description == "Read the docs."
    several = build(tmp_path, type="memorytool", description="About the customer.")
    assert all(t.description.startswith("About the customer.\n\n") for t in several.values())


def test_approval_defaults_follow_the_spec(tmp_path: Path) -> None:
    files = build(tmp_path, type="filetool")
    asks = {name for name, tool in files.items() if tool.requires_approval}
    assert asks == {"text_editor", "apply_patch", "write_file"}
    editor = files["text_editor"]
    assert not editor.needs_approval({"command": "view", "path": "a"})
    assert editor.needs_approval({"command": "create", "path": "a"})
    web = build(tmp_path, type="webtool")
    assert {n for n, t in web.items() if t.requires_approval} == {"web_request"}
    assert all(t.requires_approval for t in build(tmp_path, type="commandtool").values())
    assert not any(t.requires_approval for t in build(tmp_path, type="memorytool").values())
    assert not any(t.requires_approval for t in build(tmp_path, type="todotool").values())
    assert build(tmp_path, type="approvaltool")["request_approval"].requires_approval


def test_an_explicit_require_approval_applies_to_every_tool(tmp_path: Path) -> None:
    never = build(tmp_path, type="filetool", require_approval=False)
    assert not any(t.needs_approval({"command": "create"}) for t in never.values())
    always = build(tmp_path, type="filetool", require_approval=True, approval_prompt="Sure?")
    assert all(t.needs_approval({"command": "view"}) for t in always.values())
    assert always["read_file"].approval_prompt_for({"path": "a"}) == "Sure?"
    quiet = build(tmp_path, type="commandtool", require_approval=False)
    assert not quiet["bash"].requires_approval


def test_command_timeout_leaves_room_for_max_execution_time(tmp_path: Path) -> None:
    roomy = build(tmp_path, type="commandtool", max_execution_time="2m")
    assert roomy["bash"].timeout_s == 125.0
    explicit = build(tmp_path, type="commandtool", max_execution_time="2m", timeout="10s")
    assert explicit["bash"].timeout_s == 10.0


@pytest.mark.parametrize("directory", ["../other-app", "/etc", "a/../../.."])
def test_working_directory_must_stay_in_the_app_workspace(tmp_path: Path, directory: str) -> None:
    for kind in ("filetool", "commandtool"):
        with pytest.raises(BuiltinToolUnavailable, match="outside the app workspace"):
            build(tmp_path, type=kind, working_directory=directory)


def test_app_workspace_is_under_the_data_dir(tmp_path: Path) -> None:
    assert app_workspace(tmp_path, "shop") == tmp_path / "apps" / "shop" / "workspace"
    env = BuiltinEnvironment.for_app(tmp_path, "shop")
    assert env.workspace == tmp_path / "apps" / "shop" / "workspace"
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(BuiltinToolUnavailable):
            app_workspace(tmp_path, bad)


def test_memorytool_needs_a_store(tmp_path: Path) -> None:
    config = CONFIG.validate_python({"type": "memorytool"})
    env = BuiltinEnvironment(app="default", workspace=tmp_path)
    with pytest.raises(BuiltinToolUnavailable, match="no memory store"):
        build_builtin_tools("memory", config, env)  # type: ignore[arg-type]


def test_other_tool_types_are_not_built_here(tmp_path: Path) -> None:
    config = SearchToolConfig.model_validate({"type": "searchtool"})
    env = BuiltinEnvironment(app="default", workspace=tmp_path)
    with pytest.raises(BuiltinToolUnavailable, match="not a built-in toolset"):
        build_builtin_tools("search", config, env)  # type: ignore[arg-type]


async def test_invalid_arguments_are_an_error_for_the_model(tmp_path: Path) -> None:
    tool = build(tmp_path, type="filetool")["read_file"]
    out = await tool.call({"path": "a", "colour": "red"}, await make_context())
    assert out.is_error
    assert out.content.startswith('invalid arguments for tool "read_file": colour:')


async def test_progress_is_a_no_op_by_default() -> None:
    context = await make_context()
    context.progress("nobody listens")  # must not raise


# --- todotool ---------------------------------------------------------------------------------


async def test_todo_write_stores_the_list_in_session_state(tmp_path: Path) -> None:
    todo = build(tmp_path, type="todotool")["todo_write"]
    context = await make_context()
    plan = [
        {"id": "1", "content": "read the spec", "status": "completed"},
        {"id": "2", "content": "write the code", "status": "in_progress"},
    ]
    out = await todo.call({"todos": plan, "overwrite": True}, context)
    assert context.state_delta["todos"] == plan
    assert out.content["summary"] == "2 items: 1 in progress, 1 completed"


async def test_todo_write_merges_by_id_unless_overwriting(tmp_path: Path) -> None:
    todo = build(tmp_path, type="todotool")["todo_write"]
    stored = [
        {"id": "1", "content": "a", "status": "pending"},
        {"id": "2", "content": "b", "status": "pending"},
    ]
    merged = await make_context(todos=stored)
    await todo.call(
        {
            "todos": [
                {"id": "2", "content": "b", "status": "completed"},
                {"id": "3", "content": "c", "status": "pending"},
            ]
        },
        merged,
    )
    assert [(t["id"], t["status"]) for t in merged.state_delta["todos"]] == [
        ("1", "pending"),
        ("2", "completed"),
        ("3", "pending"),
    ]
    replaced = await make_context(todos=stored)
    await todo.call(
        {"todos": [{"id": "9", "content": "z", "status": "pending"}], "overwrite": True}, replaced
    )
    assert replaced.state_delta["todos"] == [{"id": "9", "content": "z", "status": "pending"}]


@pytest.mark.parametrize(
    "todos",
    [
        [],
        [{"id": "1", "content": "a", "status": "done"}],
        [{"id": "", "content": "a", "status": "pending"}],
    ],
)
async def test_todo_write_rejects_bad_items(tmp_path: Path, todos: list[Any]) -> None:
    context = await make_context()
    out = await build(tmp_path, type="todotool")["todo_write"].call({"todos": todos}, context)
    assert out.is_error
    assert context.state_delta == {}


# --- approvaltool -----------------------------------------------------------------------------


async def test_request_approval_asks_with_a_prompt_from_its_arguments(tmp_path: Path) -> None:
    tool = build(tmp_path, type="approvaltool", prompt="Please check:")["request_approval"]
    arguments = {"action": "delete the staging database", "reason": "it is being rebuilt"}
    assert tool.requires_approval
    assert tool.needs_approval(arguments)
    assert tool.approval_prompt_for(arguments) == (
        "Please check:\n\nApprove: delete the staging database\nReason: it is being rebuilt"
    )
    out = await tool.call(arguments, await make_context())
    assert out.content == {"approved": True, "action": "delete the staging database"}
    assert set(tool.parameters["required"]) == {"action", "reason"}
