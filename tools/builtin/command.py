"""commandtool (SPEC 9.3, 9.4): `bash` and `execute_command`, run without a shell.

The command line is parsed and checked by `tools.builtin.shell` (every segment's command
against `allowed_commands` / `denied_commands` / `deny_by_default`), then run by this module:
each simple command is an argv started with `exec` semantics, pipelines are connected with
pipes here, and `;`, `&&`, `||` are sequenced here. `bash` accepts those four operators;
`execute_command` runs exactly one command. Nothing the tool refuses ever reaches a process.

Every process is started in a process group of its own; when `max_execution_time` passes, or
the call is cancelled, or the command ends, each group is sent SIGKILL, so children and
grandchildren go too (a process that escapes with `setsid` is beyond what a process group can
reach). stdout and stderr share one pipe, are streamed to `ToolContext.progress` as they come,
and are kept up to 1 MiB for the result. The environment is scrubbed to `PATH`, `HOME`, `LANG`
from the server plus the configured `env`, and commands run in the working directory (or a
`working_dir` inside it, checked like a filetool path).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import Field

from tools.base import ToolContext, ToolOutput
from tools.builtin.base import Arguments, ToolRefusal
from tools.builtin.files import Workspace
from tools.builtin.shell import (
    CommandLine,
    CommandPolicy,
    Pipeline,
    ShellSyntaxError,
    check_command_line,
)

__all__ = ["MAX_OUTPUT_BYTES", "CommandArgs", "CommandRunner", "scrubbed_environment"]

#: SPEC 9.4: output capped at 1 MiB.
MAX_OUTPUT_BYTES = 1024 * 1024
_PASSED_THROUGH = ("PATH", "HOME", "LANG")
_READ_CHUNK = 64 * 1024
#: After the commands end: how long to wait for killed processes to be reaped and for the
#: output pipe to close.
_DRAIN_GRACE_S = 0.5
_NOT_FOUND_STATUS = 127
Process = asyncio.subprocess.Process
_NOT_EXECUTABLE_STATUS = 126


class CommandArgs(Arguments):
    command: str = Field(min_length=1, description="The command line to run.")
    working_dir: str | None = Field(
        default=None, description="Subdirectory of the working directory to run in."
    )


def scrubbed_environment(
    configured: Mapping[str, str], server: Mapping[str, str]
) -> dict[str, str]:
    """Only `PATH`, `HOME`, `LANG` from the server, then the configured `env` on top.

    Secrets in the server's environment (database URLs, API keys) never reach a command.
    """
    env = {name: server[name] for name in _PASSED_THROUGH if name in server}
    env.setdefault("PATH", os.defpath)
    env.update(configured)
    return env


class _Output:
    """Collects output up to the cap and forwards it, decoded, to the progress callback."""

    def __init__(self, progress: Callable[[str], None]) -> None:
        self._progress = progress
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    def feed(self, data: bytes) -> None:
        room = MAX_OUTPUT_BYTES - self.size
        if room <= 0:
            self.truncated = True
            return
        kept = data[:room]
        self.truncated = len(kept) < len(data)
        self._chunks.append(kept)
        self.size += len(kept)
        if text := self._decoder.decode(kept):
            self._progress(text)

    def note(self, text: str) -> None:
        """A line from the tool itself (e.g. `command not found`), in order with the output."""
        self.feed(text.encode())

    def text(self) -> str:
        text = b"".join(self._chunks).decode("utf-8", errors="replace")
        if self.truncated:
            text += f"\n[output truncated at {MAX_OUTPUT_BYTES} bytes]"
        return text


@dataclass(frozen=True, slots=True)
class _Run:
    status: int | None  # None: timed out
    output: str


class CommandRunner:
    """The handler of `bash` (`simple_only=False`) or `execute_command` (`True`)."""

    def __init__(
        self,
        workspace: Workspace,
        policy: CommandPolicy,
        *,
        max_execution_time_s: float,
        env: Mapping[str, str],
        simple_only: bool,
    ) -> None:
        self.workspace = workspace
        self.policy = policy
        self.max_execution_time_s = max_execution_time_s
        self.env = dict(env)
        self.simple_only = simple_only

    async def __call__(self, args: CommandArgs, context: ToolContext) -> ToolOutput:
        try:
            parsed = check_command_line(args.command, self.policy, simple_only=self.simple_only)
        except ShellSyntaxError as exc:
            raise ToolRefusal(f"cannot parse command: {exc}") from None
        except ValueError as exc:
            raise ToolRefusal(str(exc)) from None
        cwd = await asyncio.to_thread(self._directory, args.working_dir)
        run = await self._run(parsed, cwd, context.progress)
        if run.status is None:
            limit = f"{self.max_execution_time_s:g}s"
            return ToolOutput.error(f"timed out after {limit}" + _trailer(run.output))
        if run.status < 0:
            return ToolOutput.error(f"{run.output}\n(killed by signal {-run.status})".lstrip())
        summary = f"(exit code {run.status})"
        text = f"{run.output}\n{summary}" if run.output else f"(no output) {summary}"
        return ToolOutput(text, is_error=run.status != 0)

    def _directory(self, working_dir: str | None) -> str:
        if working_dir is None:
            return self.workspace.real_root()
        real = self.workspace.resolve(working_dir)
        if not os.path.isdir(real):
            raise ToolRefusal(f"working_dir {working_dir} is not a directory")
        return real

    async def _run(self, parsed: CommandLine, cwd: str, progress: Callable[[str], None]) -> _Run:
        output = _Output(progress)
        read_end, write_end = os.pipe()
        started: list[Process] = []  # each the leader of its own group
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(loop=loop)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader, loop=loop),
            os.fdopen(read_end, "rb", buffering=0),
        )
        pump = asyncio.create_task(_pump(reader, output))
        status: int | None = None
        try:
            async with asyncio.timeout(self.max_execution_time_s):
                status = await self._sequence(parsed, cwd, write_end, started, output)
        except TimeoutError:
            status = None
        finally:
            _kill_groups(started)
            os.close(write_end)
            await _finish(started, pump, transport)
        return _Run(status, output.text())

    async def _sequence(
        self, parsed: CommandLine, cwd: str, out: int, started: list[Process], output: _Output
    ) -> int:
        """`a; b`, `a && b`, `a || b` with the shell's rules; the last status is the result."""
        status = 0
        for operator, pipeline in parsed.items:
            if (operator == "&&" and status != 0) or (operator == "||" and status == 0):
                continue
            status = await self._pipeline(pipeline, cwd, out, started, output)
        return status

    async def _pipeline(
        self, pipeline: Pipeline, cwd: str, out: int, started: list[Process], output: _Output
    ) -> int:
        """Start every stage wired stdout-to-stdin, wait for all; the last stage's status."""
        argvs = await asyncio.to_thread(_expand, pipeline, cwd)
        stages: list[asyncio.subprocess.Process | int] = []
        stdin: int = subprocess.DEVNULL
        for index, argv in enumerate(argvs):
            is_last = index == len(argvs) - 1
            next_stdin, stdout = (subprocess.DEVNULL, out) if is_last else os.pipe()
            try:
                process = await self._start(argv, cwd, stdin, stdout, out, output)
            finally:
                # The children hold their own copies now; ours would keep the pipes open.
                if stdin != subprocess.DEVNULL:
                    os.close(stdin)
                if not is_last:
                    os.close(stdout)
            if not isinstance(process, int):
                started.append(process)
            stages.append(process)
            stdin = next_stdin
        statuses = [p if isinstance(p, int) else await p.wait() for p in stages]
        return statuses[-1]

    async def _start(
        self, argv: list[str], cwd: str, stdin: int, stdout: int, stderr: int, output: _Output
    ) -> asyncio.subprocess.Process | int:
        """The started process, or the exit status a shell reports when it cannot start."""
        try:
            return await asyncio.create_subprocess_exec(
                *argv,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                cwd=cwd,
                env=self.env,
                process_group=0,  # a group of its own: one killpg reaches its descendants
            )
        except FileNotFoundError:
            output.note(f"{argv[0]}: command not found\n")
            return _NOT_FOUND_STATUS
        except PermissionError:
            output.note(f"{argv[0]}: permission denied\n")
        except OSError as exc:
            output.note(f"{argv[0]}: cannot run: {exc.strerror or exc}\n")
        return _NOT_EXECUTABLE_STATUS


def _expand(pipeline: Pipeline, cwd: str) -> list[list[str]]:
    """The argv of each stage, globs expanded in `cwd` (file system work: run in a thread)."""
    return [
        [arg for word in command.argv_words for arg in word.expand(cwd)]
        for command in pipeline.commands
    ]


async def _pump(reader: asyncio.StreamReader, output: _Output) -> None:
    while chunk := await reader.read(_READ_CHUNK):
        output.feed(chunk)


def _kill_groups(processes: list[Process]) -> None:
    """SIGKILL the process group of each process we started. A group that already ended is no
    error; the leaders are reaped by asyncio's child watcher as they die."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


async def _finish(
    started: list[Process], pump: asyncio.Task[None], transport: asyncio.BaseTransport
) -> None:
    """Reap the killed leaders and read what is left in the pipe, each for a short while.

    Only a process that left its group (setsid) can keep the pipe open past its group's end;
    its output is then abandoned rather than waited for.
    """
    try:
        running = [p.wait() for p in started if p.returncode is None]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*running), _DRAIN_GRACE_S)
        try:
            await asyncio.wait_for(asyncio.shield(pump), _DRAIN_GRACE_S)
        except TimeoutError:
            pump.cancel()
    finally:
        transport.close()


def _trailer(output: str) -> str:
    return f"\n{output}" if output else ""


def describe(policy: CommandPolicy, *, simple_only: bool) -> str:
    """The tool description the model reads: what runs, and what does not."""
    if simple_only:
        text = (
            "Run one program with arguments in the working directory (no shell: quotes and "
            "globs work; pipes, redirections, variables and substitutions do not)."
        )
    else:
        text = (
            "Run a command line in the working directory. It is not run by a shell: `;`, "
            "`&&`, `||`, `|`, quotes and globs work; redirections, variables, `$(...)`, "
            "backticks, subshells and background jobs are refused. stdout and stderr are "
            "combined."
        )
    if policy.allowed:
        text += f" Allowed commands: {', '.join(sorted(policy.allowed))}."
    return text


def command_policy(
    allowed: list[str] | None, denied: list[str], deny_by_default: bool
) -> CommandPolicy:
    return CommandPolicy(
        allowed=frozenset(allowed) if allowed is not None else None,
        denied=frozenset(denied),
        deny_by_default=deny_by_default,
    )
