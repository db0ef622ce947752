"""filetool (SPEC 9.3, 9.4) on real files in a temporary workspace, with real symlinks out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from agents.sessions import InMemorySessionService
from tools.base import ToolContext, ToolOutput
from tools.builtin import BuiltinEnvironment, BuiltinTool, build_builtin_tools
from tools.builtin.files import PATH_OUTSIDE
from tools.config import FileToolConfig

SECRET = "TOPSECRET-do-not-leak"


async def make_context() -> ToolContext:
    store = InMemorySessionService()
    session = await store.create(user_id="u1", agent="assistant")
    return ToolContext(
        agent="assistant", user_id="u1", session=session, invocation_id="inv", store=store
    )


def file_tools(workspace: Path, **config: Any) -> dict[str, BuiltinTool[Any]]:
    parsed = FileToolConfig.model_validate({"type": "filetool", **config})
    env = BuiltinEnvironment(app="default", workspace=workspace)
    return {tool.name: tool for tool in build_builtin_tools("files", parsed, env)}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def tools(workspace: Path) -> dict[str, BuiltinTool[Any]]:
    return file_tools(workspace)


async def call(tools: dict[str, BuiltinTool[Any]], name: str, **arguments: Any) -> ToolOutput:
    return await tools[name].call(arguments, await make_context())


# --- happy paths ------------------------------------------------------------------------------


async def test_text_editor_creates_views_edits_and_undoes(
    tools: dict[str, BuiltinTool[Any]], workspace: Path
) -> None:
    created = await call(
        tools, "text_editor", command="create", path="notes/a.txt", file_text="one\ntwo\nthree\n"
    )
    assert not created.is_error
    assert (workspace / "notes" / "a.txt").read_text() == "one\ntwo\nthree\n"

    viewed = await call(tools, "text_editor", command="view", path="notes/a.txt")
    assert viewed.content == "     1\tone\n     2\ttwo\n     3\tthree"
    ranged = await call(
        tools, "text_editor", command="view", path="notes/a.txt", view_range=[2, -1]
    )
    assert ranged.content == "     2\ttwo\n     3\tthree"

    replaced = await call(
        tools,
        "text_editor",
        command="str_replace",
        path="notes/a.txt",
        old_str="two",
        new_str="TWO",
    )
    assert not replaced.is_error
    assert "TWO" in replaced.content
    inserted = await call(
        tools, "text_editor", command="insert", path="notes/a.txt", insert_line=0, new_str="zero"
    )
    assert not inserted.is_error
    assert (workspace / "notes" / "a.txt").read_text() == "zero\none\nTWO\nthree\n"

    await call(tools, "text_editor", command="undo_edit", path="notes/a.txt")
    assert (workspace / "notes" / "a.txt").read_text() == "one\nTWO\nthree\n"
    await call(tools, "text_editor", command="undo_edit", path="notes/a.txt")
    assert (workspace / "notes" / "a.txt").read_text() == "one\ntwo\nthree\n"
    await call(tools, "text_editor", command="undo_edit", path="notes/a.txt")
    assert not (workspace / "notes" / "a.txt").exists()
    nothing = await call(tools, "text_editor", command="undo_edit", path="notes/a.txt")
    assert nothing.is_error
    assert "no edit" in nothing.content


async def test_undo_survives_the_tools_being_built_again(workspace: Path) -> None:
    await call(file_tools(workspace), "write_file", path="a.txt", content="v1")
    await call(file_tools(workspace), "write_file", path="a.txt", content="v2")
    await call(file_tools(workspace), "text_editor", command="undo_edit", path="a.txt")
    assert (workspace / "a.txt").read_text() == "v1"


async def test_str_replace_needs_exactly_one_match(
    tools: dict[str, BuiltinTool[Any]], workspace: Path
) -> None:
    (workspace / "a.txt").write_text("x = 1\nx = 1\n")
    twice = await call(
        tools, "text_editor", command="str_replace", path="a.txt", old_str="x = 1", new_str="x = 2"
    )
    assert twice.is_error
    assert "2 times" in twice.content
    missing = await call(
        tools, "text_editor", command="str_replace", path="a.txt", old_str="y", new_str="z"
    )
    assert missing.is_error
    assert "not found" in missing.content
    assert (workspace / "a.txt").read_text() == "x = 1\nx = 1\n"


async def test_edits_keep_bytes_that_are_not_utf8(
    tools: dict[str, BuiltinTool[Any]], workspace: Path
) -> None:
    (workspace / "latin1.txt").write_bytes(b"caf\xe9\nold\n")
    await call(tools, "apply_patch", path="latin1.txt", old_string="old", new_string="new")
    assert (workspace / "latin1.txt").read_bytes() == b"caf\xe9\nnew\n"


async def test_view_of_a_directory_lists_two_levels(
    tools: dict[str, BuiltinTool[Any]], workspace: Path
) -> None:
    (workspace / "src" / "pkg" / "deep").mkdir(parents=True)
    (workspace / "src" / "main.py").write_text("")
    (workspace / "src" / "pkg" / "deep" / "hidden_by_depth.py").write_text("")
    (workspace / ".git").mkdir()
    listing = await call(tools, "text_editor", command="view", path=".")
    assert "src/" in listing.content
    assert "src/main.py" in listing.content
    assert "src/pkg/" in listing.content
    assert "hidden_by_depth" not in listing.content
    assert ".git" not in listing.content


async def test_read_file_with_a_line_range(
    tools: dict[str, BuiltinTool[Any]], workspace: Path
) -> None:
    (workspace / "a.txt").write_text("l1\nl2\nl3\nl4\n")
    out = await call(tools, "read_file", path="a.txt", start_line=2, end_line=3)
    assert out.content == "     2\tl2\n     3\tl3"
    plain = await call(tools, "read_file", path="a.txt", line_numbers=False)
    assert plain.content == "l1\nl2\nl3\nl4"
    past = await call(tools, "read_file", path="a.txt", start_line=9)
    assert past.is_error


async def test_write_file_creates_parent_directories(
    tools: dict[str, BuiltinTool[Any]], workspace: Path
) -> None:
    out = await call(tools, "write_file", path="a/b/c.txt", content="hello")
    assert out.content == "created a/b/c.txt (5 bytes)"
    assert (workspace / "a" / "b" / "c.txt").read_text() == "hello"
    again = await call(tools, "write_file", path="a/b/c.txt", content="bye")
    assert again.content.startswith("overwrote")


async def test_apply_patch_replaces_one_unique_block(
    tools: dict[str, BuiltinTool[Any]], workspace: Path
) -> None:
    (workspace / "m.py").write_text("def f():\n    return 1\n\n\ndef g():\n    return 1\n")
    out = await call(
        tools,
        "apply_patch",
        path="m.py",
        old_string="def g():\n    return 1",
        new_string="def g():\n    return 2",
    )
    assert not out.is_error
    assert (workspace / "m.py").read_text().endswith("def g():\n    return 2\n")
    ambiguous = await call(
        tools, "apply_patch", path="m.py", old_string="return", new_string="yield"
    )
    assert ambiguous.is_error


async def test_grep_search_with_context_glob_and_case(
    tools: dict[str, BuiltinTool[Any]], workspace: Path
) -> None:
    (workspace / "src").mkdir()
    (workspace / "src" / "a.py").write_text("import os\nTODO: fix\nprint(1)\n")
    (workspace / "src" / "b.txt").write_text("todo in text\n")
    (workspace / "bin.dat").write_bytes(b"\x00TODO")
    found = await call(
        tools,
        "grep_search",
        pattern="todo",
        case_insensitive=True,
        file_pattern="*.py",
        context_lines=1,
    )
    assert found.content.splitlines() == [
        "1 match in 1 file(s)",
        "src/a.py-1- import os",
        "src/a.py:2: TODO: fix",
        "src/a.py-3- print(1)",
    ]
    everywhere = await call(tools, "grep_search", pattern="(?i)todo")
    assert "src/b.txt:1:" in everywhere.content
    assert "bin.dat" not in everywhere.content
    bad = await call(tools, "grep_search", pattern="(")
    assert bad.is_error
    assert "invalid regular expression" in bad.content


async def test_max_file_size_applies_to_reads_and_writes(workspace: Path) -> None:
    tools = file_tools(workspace, max_file_size=10)
    (workspace / "big.txt").write_text("x" * 11)
    read = await call(tools, "read_file", path="big.txt")
    assert read.is_error
    assert "max_file_size" in read.content
    write = await call(tools, "write_file", path="new.txt", content="y" * 11)
    assert write.is_error
    assert not (workspace / "new.txt").exists()
    grown = await call(tools, "write_file", path="ok.txt", content="123456789")
    assert not grown.is_error
    edit = await call(tools, "apply_patch", path="ok.txt", old_string="9", new_string="999")
    assert edit.is_error
    assert (workspace / "ok.txt").read_text() == "123456789"


async def test_binary_files_and_fifos_are_refused_without_blocking(
    tools: dict[str, BuiltinTool[Any]], workspace: Path
) -> None:
    (workspace / "blob.bin").write_bytes(b"\x00\x01\x02")
    binary = await call(tools, "read_file", path="blob.bin")
    assert binary.is_error
    assert "binary" in binary.content
    os.mkfifo(workspace / "pipe")
    fifo = await call(tools, "read_file", path="pipe")
    assert fifo.is_error
    assert "not a regular file" in fifo.content


async def test_a_symlink_that_stays_inside_is_followed(
    tools: dict[str, BuiltinTool[Any]], workspace: Path
) -> None:
    (workspace / "real.txt").write_text("inside")
    (workspace / "alias.txt").symlink_to(workspace / "real.txt")
    out = await call(tools, "read_file", path="alias.txt", line_numbers=False)
    assert out.content == "inside"


async def test_working_directory_is_relative_to_the_app_workspace(workspace: Path) -> None:
    (workspace / "project").mkdir()
    (workspace / "project" / "a.txt").write_text("in project")
    (workspace / "top.txt").write_text("top")
    tools = file_tools(workspace, working_directory="project")
    inside = await call(tools, "read_file", path="a.txt", line_numbers=False)
    assert inside.content == "in project"
    above = await call(tools, "read_file", path="../top.txt")
    assert PATH_OUTSIDE in above.content


async def test_the_working_directory_is_created_on_first_use(tmp_path: Path) -> None:
    tools = file_tools(tmp_path / "fresh")
    out = await call(tools, "write_file", path="a.txt", content="x")
    assert not out.is_error
    assert (tmp_path / "fresh" / "a.txt").exists()


# --- escapes ----------------------------------------------------------------------------------


@pytest.fixture
def escape_setup(tmp_path: Path, workspace: Path) -> Path:
    """A secret outside, a sibling sharing the prefix, and symlinks pointing out."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    sibling = tmp_path / "ws-evil"
    sibling.mkdir()
    (sibling / "f.txt").write_text(SECRET)
    (workspace / "sub").mkdir()
    (workspace / "link_file").symlink_to(outside / "secret.txt")
    (workspace / "link_dir").symlink_to(outside)
    (workspace / "sub" / "link_up").symlink_to("../../outside")
    (workspace / "chain1").symlink_to(workspace / "chain2")
    (workspace / "chain2").symlink_to(outside / "secret.txt")
    (workspace / "dangling").symlink_to(outside / "created-through-link.txt")
    return tmp_path


ESCAPES: list[tuple[str, dict[str, Any]]] = [
    ("text_editor", {"command": "view", "path": "../../etc/passwd"}),
    ("text_editor", {"command": "view", "path": ".."}),
    ("text_editor", {"command": "view", "path": "/"}),
    ("text_editor", {"command": "view", "path": "link_dir/"}),
    ("read_file", {"path": "/etc/passwd"}),
    ("read_file", {"path": "../outside/secret.txt"}),
    ("read_file", {"path": "{tmp}/outside/secret.txt"}),  # absolute, outside
    ("read_file", {"path": "{tmp}/ws-evil/f.txt"}),  # shares the workspace's prefix
    ("read_file", {"path": "sub/../../outside/secret.txt"}),  # nested
    ("read_file", {"path": "./sub/x/y/../../../../outside/secret.txt"}),
    ("read_file", {"path": "..//..//outside//secret.txt//"}),  # doubled and trailing slashes
    ("read_file", {"path": "link_file"}),  # symlink to a file outside
    ("read_file", {"path": "link_dir/secret.txt"}),  # through a symlinked directory
    ("read_file", {"path": "sub/link_up/secret.txt"}),  # relative symlink going up
    ("read_file", {"path": "chain1"}),  # symlink to a symlink to outside
    ("grep_search", {"pattern": "TOPSECRET", "path": ".."}),
    ("grep_search", {"pattern": "TOPSECRET", "path": "link_dir"}),
    ("write_file", {"path": "../outside/secret.txt", "content": "pwned"}),
    ("write_file", {"path": "link_dir/new.txt", "content": "pwned"}),
    ("write_file", {"path": "dangling", "content": "pwned"}),  # dangling link to outside
    ("text_editor", {"command": "create", "path": "../../evil.txt", "file_text": "pwned"}),
    (
        "text_editor",
        {"command": "str_replace", "path": "link_file", "old_str": "TOP", "new_str": "pwned"},
    ),
    (
        "text_editor",
        {"command": "insert", "path": "link_dir/secret.txt", "insert_line": 0, "new_str": "pwned"},
    ),
    ("text_editor", {"command": "undo_edit", "path": "../outside/secret.txt"}),
    ("apply_patch", {"path": "link_file", "old_string": "TOP", "new_string": "pwned"}),
]


@pytest.mark.parametrize(("tool", "arguments"), ESCAPES)
async def test_escapes_are_refused_as_outside_the_working_directory(
    tools: dict[str, BuiltinTool[Any]],
    escape_setup: Path,
    tool: str,
    arguments: dict[str, Any],
) -> None:
    arguments = {
        k: v.format(tmp=escape_setup) if isinstance(v, str) else v for k, v in arguments.items()
    }
    out = await tools[tool].call(arguments, await make_context())
    assert out.is_error
    assert PATH_OUTSIDE in out.content
    assert SECRET not in out.content
    outside = escape_setup / "outside"
    assert (outside / "secret.txt").read_text() == SECRET
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert not (escape_setup / "evil.txt").exists()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("secret\x00../../etc/passwd", "NUL byte"),
        ("\x00", "NUL byte"),
        ("%2e%2e/%2e%2e/etc/passwd", "file not found"),  # no URL decoding: a literal name
        ("..%2f..%2fetc%2fpasswd", "file not found"),
        ("~/../etc/passwd", "file not found"),  # no ~ expansion: a directory named ~
        ("~/../../etc/passwd", PATH_OUTSIDE),  # ...whose parent is the root
        ("....//....//etc/passwd", "file not found"),  # `....` is a plain name
        ("\uff0e\uff0e/\uff0e\uff0e/etc/passwd", "file not found"),  # fullwidth dots
        ("", "path is empty"),
    ],
)
async def test_odd_spellings_never_leave_the_working_directory(
    tools: dict[str, BuiltinTool[Any]], escape_setup: Path, path: str, message: str
) -> None:
    out = await call(tools, "read_file", path=path)
    assert out.is_error
    assert message in out.content
    assert "root:" not in out.content


async def test_grep_does_not_follow_symlinks_out_of_the_tree(
    tools: dict[str, BuiltinTool[Any]], escape_setup: Path, workspace: Path
) -> None:
    (workspace / "mine.txt").write_text("TOPSECRET-looking but mine\n")
    out = await call(tools, "grep_search", pattern="TOPSECRET")
    assert "mine.txt" in out.content
    assert "link_file" not in out.content
    assert "chain1" not in out.content
    assert SECRET not in out.content
