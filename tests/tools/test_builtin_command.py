"""commandtool (SPEC 9.3, 9.4): real subprocesses in a temporary workspace.

Refused commands are checked for their side effects too: a sentinel file the injected `rm`
would delete must still be there.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agents.sessions import InMemorySessionService
from tools.base import ToolContext, ToolOutput, run_tool
from tools.builtin import BuiltinEnvironment, BuiltinTool, build_builtin_tools
from tools.builtin.command import MAX_OUTPUT_BYTES
from tools.builtin.shell import ShellSyntaxError, parse_command_line
from tools.config import CommandToolConfig

PYTHON = shlex.quote(sys.executable)


async def make_context(progress: list[str] | None = None) -> ToolContext:
    store = InMemorySessionService()
    session = await store.create(user_id="u1", agent="assistant")
    context = ToolContext(
        agent="assistant", user_id="u1", session=session, invocation_id="inv", store=store
    )
    if progress is not None:
        context.progress = progress.append
    return context


def command_tools(
    workspace: Path, environ: dict[str, str] | None = None, **config: Any
) -> dict[str, BuiltinTool[Any]]:
    parsed = CommandToolConfig.model_validate({"type": "commandtool", **config})
    env = BuiltinEnvironment(
        app="default", workspace=workspace, environ=environ if environ is not None else os.environ
    )
    return {tool.name: tool for tool in build_builtin_tools("shell", parsed, env)}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The app workspace, its real path (pwd prints that), with a sentinel file `x`."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / "x").write_text("sentinel")
    return root.resolve()


def entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def bash(tools: dict[str, BuiltinTool[Any]], command: str, **extra: Any) -> ToolOutput:
    return await tools["bash"].call({"command": command, **extra}, await make_context())


# --- running --------------------------------------------------------------------------------


async def test_runs_a_command_in_the_working_directory(workspace: Path) -> None:
    tools = command_tools(workspace)
    out = await bash(tools, "pwd")
    assert out == ToolOutput(f"{workspace}\n\n(exit code 0)")
    (workspace / "sub").mkdir()
    inside = await bash(tools, "pwd", working_dir="sub")
    assert inside.content.startswith(f"{workspace}/sub\n")
    outside = await bash(tools, "pwd", working_dir="..")
    assert outside.is_error
    assert "path outside working directory" in outside.content


async def test_pipelines_and_sequences_follow_shell_rules(workspace: Path) -> None:
    tools = command_tools(workspace)
    sorted_out = await bash(tools, r"printf 'b\na\n' | sort")
    assert sorted_out.content == "a\nb\n\n(exit code 0)"
    sequence = await bash(tools, "false && echo skipped; echo ran || echo not-run")
    assert sequence.content == "ran\n\n(exit code 0)"
    fallback = await bash(tools, "false || echo fallback")
    assert fallback.content.startswith("fallback")
    three = await bash(tools, "printf 'a\\nb\\na\\n' | sort | uniq -c | wc -l")
    assert three.content.split()[0] == "2"


async def test_quotes_globs_and_the_stderr_merge(workspace: Path) -> None:
    for name in ("a.py", "b.py", "c.txt"):
        (workspace / name).write_text("")
    tools = command_tools(workspace)
    globbed = await bash(tools, "ls *.py")
    assert globbed.content.split()[:2] == ["a.py", "b.py"]
    quoted = await bash(tools, "echo 'a;b' \"c && d\" '*.py'")
    assert quoted.content.startswith("a;b c && d *.py\n")
    merged = await bash(tools, f"{PYTHON} -c 'import sys; sys.stderr.write(\"oops\")' 2>&1")
    assert merged.content.startswith("oops")


async def test_failures_report_the_exit_code(workspace: Path) -> None:
    tools = command_tools(workspace)
    failed = await bash(tools, f"{PYTHON} -c 'import sys; print(1); sys.exit(3)'")
    assert failed == ToolOutput("1\n\n(exit code 3)", is_error=True)
    missing = await bash(tools, "definitely-not-a-command-xyz")
    assert missing.is_error
    assert "definitely-not-a-command-xyz: command not found" in missing.content
    assert "(exit code 127)" in missing.content


async def test_output_is_streamed_as_progress(workspace: Path) -> None:
    tools = command_tools(workspace)
    progress: list[str] = []
    out = await tools["bash"].call(
        {"command": r"printf 'one\ntwo\n'"}, await make_context(progress)
    )
    assert "".join(progress) == "one\ntwo\n"
    assert out.content.startswith("one\ntwo\n")


async def test_output_is_capped_at_one_mebibyte(workspace: Path) -> None:
    tools = command_tools(workspace)
    out = await bash(tools, f"{PYTHON} -c 'import sys; sys.stdout.write(\"x\" * 3000000)'")
    assert f"[output truncated at {MAX_OUTPUT_BYTES} bytes]" in out.content
    assert out.content.split("\n[output truncated")[0] == "x" * MAX_OUTPUT_BYTES
    assert "(exit code 0)" in out.content


async def test_environment_is_scrubbed(workspace: Path) -> None:
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": "/home/agent",
        "LANG": "C.UTF-8",
        "SECRET_TOKEN": "s3cr3t",
        "DATABASE_URL": "postgres://secret",
    }
    tools = command_tools(workspace, environ=environ, env={"GREETING": "hi"})
    out = await bash(tools, "env")
    variables = dict(line.split("=", 1) for line in out.content.splitlines() if "=" in line)
    assert variables == {
        "PATH": os.environ["PATH"],
        "HOME": "/home/agent",
        "LANG": "C.UTF-8",
        "GREETING": "hi",
    }


async def test_execute_command_runs_exactly_one_command(workspace: Path) -> None:
    tools = command_tools(workspace)
    one = await tools["execute_command"].call({"command": "echo hi"}, await make_context())
    assert one.content == "hi\n\n(exit code 0)"
    piped = await tools["execute_command"].call({"command": "echo hi | cat"}, await make_context())
    assert piped.is_error
    assert "use bash" in piped.content


# --- time limits ------------------------------------------------------------------------------


def is_gone(pid: int) -> bool:
    """Exited, or a zombie nobody reaped yet (PID 1 in a container may be slow to)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


async def eventually_gone(pid: int, timeout_s: float = 2.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if is_gone(pid):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"process {pid} still alive after {timeout_s}s")


SPAWNER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open("grandchild.pid", "w").write(str(child.pid))
print("started", flush=True)
time.sleep(60)
"""


async def test_timeout_kills_the_whole_process_group(workspace: Path) -> None:
    (workspace / "spawn.py").write_text(SPAWNER)
    tools = command_tools(workspace, max_execution_time="1s")
    started = time.monotonic()
    out = await bash(tools, f"{PYTHON} spawn.py")
    elapsed = time.monotonic() - started
    assert out.is_error
    assert out.content.startswith("timed out after 1s")
    assert "started" in out.content
    assert elapsed < 2.0
    grandchild = int((workspace / "grandchild.pid").read_text())
    await eventually_gone(grandchild, timeout_s=0.5)


async def test_timeout_covers_the_whole_command_line(workspace: Path) -> None:
    tools = command_tools(workspace, max_execution_time="1s")
    started = time.monotonic()
    out = await bash(tools, "sleep 0.6; sleep 0.6; echo never")
    assert out.content.startswith("timed out after 1s")
    assert "never" not in out.content
    assert time.monotonic() - started < 2.0


async def test_a_cancelled_call_kills_its_processes(workspace: Path) -> None:
    tools = command_tools(workspace)
    script = "import os, time; open('pid', 'w').write(str(os.getpid())); time.sleep(60)"
    out = await run_tool(
        tools["bash"],
        {"command": f'{PYTHON} -c "{script}"'},
        await make_context(),
        timeout_s=1.0,
    )
    assert out.is_error
    assert "timed out" in out.content
    await eventually_gone(int((workspace / "pid").read_text()))


# --- refusals ---------------------------------------------------------------------------------

ALLOW_LS_ECHO = {"allowed_commands": ["ls", "echo"]}

INJECTIONS = [
    ("ls; rm -rf x", '"rm"'),
    ("ls && rm x", '"rm"'),
    ("ls || rm x", '"rm"'),
    ("ls | sh", '"sh"'),
    ("ls\nrm x", '"rm"'),
    ("ls & rm x", '"rm"'),
    ("ls `rm x`", '"rm"'),
    ("ls $(rm x)", '"rm"'),
    ('echo "$(rm x)"', '"rm"'),
    ("echo $(echo; $(rm x))", '"rm"'),
    ("FOO=bar rm x", '"rm"'),
    ("$SHELL -c 'rm x'", '"$SHELL"'),
    ("${IFS}rm x", '"${IFS}rm"'),
    ("env rm x", '"env"'),
    ("/bin/rm x", '"/bin/rm"'),
    ("r''m x", '"rm"'),
    ("\\rm x", '"rm"'),
    ("/bin/r? x", '"/bin/r?"'),
    ("ls > /etc/x", "redirection `> /etc/x`"),
    ("echo x > x", "redirection `> x`"),
    ("ls < /etc/passwd", "redirection `< /etc/passwd`"),
    ("PATH=/tmp ls", "environment assignment `PATH=/tmp`"),
    ("ls $HOME", "`$HOME`"),
    ("(ls)", "subshell"),
]


@pytest.mark.parametrize(("command", "named"), INJECTIONS)
async def test_injections_are_refused_naming_the_command(
    workspace: Path, command: str, named: str
) -> None:
    tools = command_tools(workspace, **ALLOW_LS_ECHO)
    out = await bash(tools, command)
    assert out.is_error
    assert named in out.content
    assert (workspace / "x").read_text() == "sentinel"
    assert entries(workspace) == ["x"]


DENY_RM = {"denied_commands": ["rm"]}

WRAPPED = [
    ("env rm x", '"rm"'),
    ("env FOO=1 rm x", '"rm"'),
    ("sh -c 'rm x'", '"rm"'),
    ("bash -lc 'echo hi; rm x'", '"rm"'),
    ("find . -exec rm {} +", '"rm"'),
    ("xargs rm", '"rm"'),
    ("timeout 5 rm x", '"rm"'),
    ("nice -n 5 /usr/bin/rm x", '"/usr/bin/rm"'),
    ("sh -c 'echo $(rm x)'", '"rm"'),
]


@pytest.mark.parametrize(("command", "named"), WRAPPED)
async def test_denied_commands_are_found_inside_wrappers(
    workspace: Path, command: str, named: str
) -> None:
    out = await bash(command_tools(workspace, **DENY_RM), command)
    assert out.is_error
    assert named in out.content
    assert "denied" in out.content
    assert (workspace / "x").exists()


async def test_denied_wins_over_allowed(workspace: Path) -> None:
    tools = command_tools(workspace, allowed_commands=["ls", "rm"], denied_commands=["rm"])
    out = await bash(tools, "rm x")
    assert out.is_error
    assert 'command "rm" is denied' in out.content
    assert (workspace / "x").exists()


async def test_deny_by_default_without_allowed_commands_refuses_everything(
    workspace: Path,
) -> None:
    out = await bash(command_tools(workspace, deny_by_default=True), "ls")
    assert out.is_error
    assert 'command "ls" is not allowed' in out.content


async def test_allowed_commands_run(workspace: Path) -> None:
    out = await bash(command_tools(workspace, **ALLOW_LS_ECHO), "ls | echo done")
    assert out.content == "done\n\n(exit code 0)"


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("ls |", "cannot end with `|`"),
        ("ls &&", "nothing after `&&`"),
        ("| ls", "empty command before `|`"),
        ("ls 'open", "unterminated single quote"),
        ('ls "open', "unterminated double quote"),
        ("ls >", "needs a target"),
        ("", "at least 1 character"),
        ("   ", "no command given"),
    ],
)
async def test_syntax_errors_are_reported(workspace: Path, command: str, problem: str) -> None:
    out = await bash(command_tools(workspace), command)
    assert out.is_error
    assert problem in out.content


def test_parser_keeps_quoted_operators_as_text() -> None:
    parsed = parse_command_line("grep -e 'a|b' \"c;d\" e\\&f # ; rm -rf /")
    [(operator, pipeline)] = parsed.items
    assert operator == ""
    assert [w.text for w in pipeline.commands[0].words] == ["grep", "-e", "a|b", "c;d", "e&f"]
    with pytest.raises(ShellSyntaxError):
        parse_command_line("echo `unterminated")
