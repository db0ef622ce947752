"""filetool (SPEC 9.3, 9.4): view, create and edit files inside one working directory.

Every path the model gives is joined to the working directory and resolved with symlinks
followed (`os.path.realpath`); the result must be the directory itself or below it, otherwise
the call fails with `path outside working directory`. So `..`, absolute paths elsewhere and
symlinks (to files or directories) pointing out are all refused by the same rule, and a symlink
inside pointing inside is fine. Files are then opened with `O_NOFOLLOW`, so a symlink swapped in
between the check and the open fails instead of being followed. What remains possible is a
directory component being swapped for a symlink in that window; the command tool is the only
thing that could do it, and it is not path-confined anyway.

All file work runs in worker threads (`asyncio.to_thread`): a 10 MiB read must not stall every
other session on the event loop.

Undo (`text_editor undo_edit`) keeps the previous bytes of each edited file in process memory,
per working directory, so it survives the runner rebinding its tools between turns but not a
restart or a turn landing on another worker. That is the same reach as the workspace itself,
which lives on one machine's disk.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar, assert_never

from pydantic import Field

from tools.base import ToolContext
from tools.builtin.base import Arguments, ToolRefusal

__all__ = [
    "PATH_OUTSIDE",
    "ApplyPatchArgs",
    "FileTools",
    "GrepSearchArgs",
    "ReadFileArgs",
    "TextEditorArgs",
    "Workspace",
    "WriteFileArgs",
]

T = TypeVar("T")

#: The refusal SPEC 9.4 names; tests and the runner may match on it.
PATH_OUTSIDE = "path outside working directory"

_BINARY_PROBE_BYTES = 8192
_SNIPPET_CONTEXT_LINES = 4
_GREP_LINE_CHARS = 500
_LIST_DEPTH = 2
_LIST_MAX_ENTRIES = 1000
_SKIPPED_DIRS = frozenset({".git"})
#: Edits decode and re-encode with this, so bytes that are not UTF-8 survive an edit unchanged.
_EDIT_ERRORS = "surrogateescape"


# --- the sandbox ------------------------------------------------------------------------------


class Workspace:
    """The directory a toolset may touch. Sync methods: call them from a worker thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._real_root: str | None = None

    def real_root(self) -> str:
        """The root with its own symlinks resolved, created on first use.

        The root itself may be a symlink the operator placed; only what is below it is judged.
        """
        if self._real_root is None:
            os.makedirs(self.root, exist_ok=True)
            self._real_root = os.path.realpath(self.root)
        return self._real_root

    def resolve(self, path: str) -> str:
        """The real path `path` names, or a refusal when it leaves the root."""
        if "\x00" in path:
            raise ToolRefusal("invalid path: contains a NUL byte")
        if not path.strip():
            raise ToolRefusal("path is empty")
        root = self.real_root()
        real = os.path.realpath(os.path.join(root, path))
        if not is_inside(real, root):
            raise ToolRefusal(f"{PATH_OUTSIDE}: {path}")
        return real

    def shown(self, real: str) -> str:
        """`real` as the model should see it: relative to the root."""
        return os.path.relpath(real, self.real_root())


def is_inside(path: str, root: str) -> bool:
    """`root` itself or below it. A plain prefix test would let `/work-evil` pass for `/work`."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


# --- undo history -----------------------------------------------------------------------------


class _UndoHistory:
    """Previous contents of edited files (None: the edit created the file), newest last.

    Bounded in versions per file and in total bytes; the least recently edited files go first.
    """

    max_versions = 10
    max_bytes = 64 * 1024 * 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: OrderedDict[str, list[bytes | None]] = OrderedDict()
        self._bytes = 0

    def push(self, path: str, previous: bytes | None) -> None:
        with self._lock:
            versions = self._versions.setdefault(path, [])
            self._versions.move_to_end(path)
            versions.append(previous)
            self._bytes += len(previous or b"")
            if len(versions) > self.max_versions:
                self._bytes -= len(versions.pop(0) or b"")
            while self._bytes > self.max_bytes and self._versions:
                _, dropped = self._versions.popitem(last=False)
                self._bytes -= sum(len(v or b"") for v in dropped)

    def pop(self, path: str) -> tuple[bool, bytes | None]:
        """(found, previous contents)."""
        with self._lock:
            versions = self._versions.get(path)
            if not versions:
                return False, None
            previous = versions.pop()
            self._bytes -= len(previous or b"")
            if not versions:
                del self._versions[path]
            return True, previous


_HISTORIES: dict[str, _UndoHistory] = {}
_HISTORIES_LOCK = threading.Lock()


def _history_for(root: str) -> _UndoHistory:
    with _HISTORIES_LOCK:
        return _HISTORIES.setdefault(root, _UndoHistory())


# --- arguments --------------------------------------------------------------------------------


class TextEditorArgs(Arguments):
    command: Literal["view", "create", "str_replace", "insert", "undo_edit"] = Field(
        description="view a file or directory, create a file, replace a unique string, insert "
        "lines after a line number, or undo the last edit of a file."
    )
    path: str = Field(description="File or directory, relative to the working directory.")
    file_text: str | None = Field(default=None, description="create: the whole file content.")
    old_str: str | None = Field(
        default=None, description="str_replace: text that occurs exactly once in the file."
    )
    new_str: str | None = Field(
        default=None, description="str_replace: the replacement; insert: the text to insert."
    )
    insert_line: int | None = Field(
        default=None, ge=0, description="insert: insert after this line (0 = at the top)."
    )
    view_range: list[int] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="view: [first_line, last_line], 1-based; last_line -1 = to the end.",
    )


class ReadFileArgs(Arguments):
    path: str = Field(description="File to read, relative to the working directory.")
    start_line: int | None = Field(default=None, ge=1, description="First line (1-based).")
    end_line: int | None = Field(default=None, ge=1, description="Last line, inclusive.")
    line_numbers: bool = Field(default=True, description="Prefix each line with its number.")


class WriteFileArgs(Arguments):
    path: str = Field(description="File to create or overwrite, relative to the working dir.")
    content: str = Field(description="The whole new content of the file.")


class ApplyPatchArgs(Arguments):
    path: str = Field(description="File to edit, relative to the working directory.")
    old_string: str = Field(
        min_length=1,
        description="Exact text to replace, with a few lines of surrounding context so that "
        "it occurs exactly once in the file.",
    )
    new_string: str = Field(description="Replacement text, including the same context lines.")


class GrepSearchArgs(Arguments):
    pattern: str = Field(description="Regular expression (Python syntax), matched per line.")
    path: str = Field(default=".", description="File or directory to search.")
    file_pattern: str | None = Field(
        default=None, description="Only files whose name matches this glob, e.g. '*.py'."
    )
    case_insensitive: bool = False
    context_lines: int = Field(default=0, ge=0, le=10, description="Lines shown around a match.")
    max_results: int = Field(default=100, ge=1, le=1000)


# --- the tools --------------------------------------------------------------------------------


class FileTools:
    """The handlers of one filetool toolset. Each async handler hands its work to a thread."""

    def __init__(self, workspace: Workspace, *, max_file_size: int) -> None:
        self.workspace = workspace
        self.max_file_size = max_file_size

    async def text_editor(self, args: TextEditorArgs, context: ToolContext) -> str:
        return await asyncio.to_thread(self._text_editor, args)

    async def read_file(self, args: ReadFileArgs, context: ToolContext) -> str:
        return await asyncio.to_thread(self._read_file, args)

    async def write_file(self, args: WriteFileArgs, context: ToolContext) -> str:
        return await asyncio.to_thread(self._write_file, args.path, args.content)

    async def apply_patch(self, args: ApplyPatchArgs, context: ToolContext) -> str:
        return await asyncio.to_thread(
            self._str_replace, args.path, args.old_string, args.new_string
        )

    async def grep_search(self, args: GrepSearchArgs, context: ToolContext) -> str:
        return await asyncio.to_thread(self._grep_search, args)

    # --- text_editor ----------------------------------------------------------------------

    def _text_editor(self, args: TextEditorArgs) -> str:
        match args.command:
            case "view":
                return self._view(args.path, args.view_range)
            case "create":
                if args.file_text is None:
                    raise ToolRefusal("create needs file_text")
                return self._write_file(args.path, args.file_text)
            case "str_replace":
                if not args.old_str:
                    raise ToolRefusal("str_replace needs a non-empty old_str")
                return self._str_replace(args.path, args.old_str, args.new_str or "")
            case "insert":
                if args.insert_line is None or args.new_str is None:
                    raise ToolRefusal("insert needs insert_line and new_str")
                return self._insert(args.path, args.insert_line, args.new_str)
            case "undo_edit":
                return self._undo(args.path)
            case _:
                assert_never(args.command)

    def _view(self, path: str, view_range: list[int] | None) -> str:
        real = self.workspace.resolve(path)
        if os.path.isdir(real):
            if view_range is not None:
                raise ToolRefusal("view_range applies to files, not directories")
            return self._list_directory(real)
        start, end = view_range if view_range else (1, -1)
        return self._numbered(real, start, None if end == -1 else end, numbers=True)

    def _list_directory(self, real: str) -> str:
        """Non-hidden entries two levels deep; symlinked directories are listed, not entered."""
        lines: list[str] = []

        def walk(directory: str, depth: int) -> None:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
            for entry in entries:
                if entry.name.startswith(".") or len(lines) >= _LIST_MAX_ENTRIES:
                    continue
                shown = self.workspace.shown(entry.path)
                if entry.is_dir(follow_symlinks=False):
                    lines.append(shown + "/")
                    if depth < _LIST_DEPTH:
                        walk(entry.path, depth + 1)
                else:
                    lines.append(shown)

        _os_call(f"cannot list {self.workspace.shown(real)}", walk, real, 1)
        if len(lines) >= _LIST_MAX_ENTRIES:
            lines.append(f"(stopped at {_LIST_MAX_ENTRIES} entries)")
        header = f"{self.workspace.shown(real)}/ (two levels, hidden entries omitted):"
        return "\n".join([header, *lines])

    def _read_file(self, args: ReadFileArgs) -> str:
        real = self.workspace.resolve(args.path)
        return self._numbered(real, args.start_line or 1, args.end_line, args.line_numbers)

    def _numbered(self, real: str, start: int, end: int | None, numbers: bool) -> str:
        shown = self.workspace.shown(real)
        lines = self._read_text(real).splitlines()
        if start < 1 or (lines and start > len(lines)):
            raise ToolRefusal(f"start line {start} is outside {shown} ({len(lines)} lines)")
        stop = len(lines) if end is None else min(end, len(lines))
        if stop < start and lines:
            raise ToolRefusal(f"invalid line range {start}-{end}")
        selected = lines[start - 1 : stop]
        if numbers:
            return "\n".join(f"{start + i:6}\t{line}" for i, line in enumerate(selected))
        return "\n".join(selected)

    def _write_file(self, path: str, content: str) -> str:
        real = self.workspace.resolve(path)
        data = content.encode()
        self._check_size(len(data), path)
        previous = self._read_existing(real)
        self._write(real, data)
        _history_for(self.workspace.real_root()).push(real, previous)
        verb = "overwrote" if previous is not None else "created"
        return f"{verb} {self.workspace.shown(real)} ({len(data)} bytes)"

    def _str_replace(self, path: str, old: str, new: str) -> str:
        real = self.workspace.resolve(path)
        shown = self.workspace.shown(real)
        text = self._read_text(real, errors=_EDIT_ERRORS)
        count = text.count(old)
        if count == 0:
            raise ToolRefusal(f"old text not found in {shown} (it must match exactly)")
        if count > 1:
            raise ToolRefusal(
                f"old text occurs {count} times in {shown}; include more context to make it unique"
            )
        updated = text.replace(old, new, 1)
        self._save_edit(real, path, text, updated)
        first_line = text[: text.index(old)].count("\n") + 1
        return f"edited {shown}:\n" + self._snippet(updated, first_line, new.count("\n") + 1)

    def _insert(self, path: str, after_line: int, new: str) -> str:
        real = self.workspace.resolve(path)
        shown = self.workspace.shown(real)
        text = self._read_text(real, errors=_EDIT_ERRORS)
        lines = text.splitlines(keepends=True)
        if after_line > len(lines):
            raise ToolRefusal(f"insert_line {after_line} is past the end of {shown}")
        if lines and after_line == len(lines) and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        block = new if new.endswith("\n") or not new else new + "\n"
        updated = "".join([*lines[:after_line], block, *lines[after_line:]])
        self._save_edit(real, path, text, updated)
        return f"edited {shown}:\n" + self._snippet(updated, after_line + 1, block.count("\n"))

    def _undo(self, path: str) -> str:
        real = self.workspace.resolve(path)
        shown = self.workspace.shown(real)
        found, previous = _history_for(self.workspace.real_root()).pop(real)
        if not found:
            raise ToolRefusal(f"no edit of {shown} to undo")
        if previous is None:
            _os_call(f"cannot remove {shown}", os.remove, real)
            return f"undid the creation of {shown} (file removed)"
        self._write(real, previous)
        return f"restored {shown} to its content before the last edit"

    def _save_edit(self, real: str, path: str, before: str, after: str) -> None:
        data = after.encode(errors=_EDIT_ERRORS)
        self._check_size(len(data), path)
        self._write(real, data)
        _history_for(self.workspace.real_root()).push(real, before.encode(errors=_EDIT_ERRORS))

    @staticmethod
    def _snippet(text: str, first_line: int, line_count: int) -> str:
        lines = text.splitlines()
        start = max(1, first_line - _SNIPPET_CONTEXT_LINES)
        stop = min(len(lines), first_line + max(line_count, 1) - 1 + _SNIPPET_CONTEXT_LINES)
        return "\n".join(f"{n:6}\t{lines[n - 1]}" for n in range(start, stop + 1))

    # --- grep_search ----------------------------------------------------------------------

    def _grep_search(self, args: GrepSearchArgs) -> str:
        try:
            regex = re.compile(args.pattern, re.IGNORECASE if args.case_insensitive else 0)
        except re.error as exc:
            raise ToolRefusal(f"invalid regular expression: {exc}") from None
        real = self.workspace.resolve(args.path)
        if not os.path.exists(real):
            raise ToolRefusal(f"not found: {args.path}")
        root = self.workspace.real_root()
        out: list[str] = []
        matches = 0
        files_matched = 0
        for file in self._files_under(real, root, args.file_pattern):
            found = self._grep_file(file, regex, args.context_lines, args.max_results - matches)
            if found:
                files_matched += 1
                matches += found[0]
                out.extend(found[1])
            if matches >= args.max_results:
                out.append(f"(stopped at max_results={args.max_results})")
                break
        if not matches:
            return f"no matches for {args.pattern!r} in {self.workspace.shown(real)}"
        head = f"{matches} match{'es' * (matches != 1)} in {files_matched} file(s)"
        return "\n".join([head, *out])

    def _files_under(self, real: str, root: str, file_pattern: str | None) -> list[str]:
        """Regular files to search, sorted; symlinks are followed only when they stay inside."""
        if not os.path.isdir(real):
            return [real]
        found: list[str] = []
        for current, dirs, files in os.walk(real):
            dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
            for name in sorted(files):
                if file_pattern and not fnmatch.fnmatch(name, file_pattern):
                    continue
                target = os.path.realpath(os.path.join(current, name))
                if is_inside(target, root) and os.path.isfile(target):
                    found.append(target)
        return found

    def _grep_file(
        self, real: str, regex: re.Pattern[str], context: int, budget: int
    ) -> tuple[int, list[str]] | None:
        try:
            size = os.stat(real).st_size
            if size > self.max_file_size:
                return None
            with open(real, "rb") as handle:
                data = handle.read(self.max_file_size + 1)
        except OSError:
            return None  # unreadable files are skipped, as grep -s does
        if b"\x00" in data[:_BINARY_PROBE_BYTES]:
            return None
        lines = data.decode("utf-8", errors="replace").splitlines()
        shown = self.workspace.shown(real)
        hits = [i for i, line in enumerate(lines) if regex.search(line)][:budget]
        if not hits:
            return None
        out: list[str] = []
        printed: set[int] = set()
        for index in hits:
            for around in range(max(0, index - context), min(len(lines), index + context + 1)):
                if around in printed:
                    continue
                printed.add(around)
                mark = ":" if around == index or around in hits else "-"
                out.append(f"{shown}{mark}{around + 1}{mark} {lines[around][:_GREP_LINE_CHARS]}")
        return len(hits), out

    # --- bytes in and out -----------------------------------------------------------------

    def _check_size(self, size: int, path: str) -> None:
        if size > self.max_file_size:
            raise ToolRefusal(
                f"{path}: content of {size} bytes exceeds max_file_size ({self.max_file_size})"
            )

    def _read_text(self, real: str, *, errors: str = "replace") -> str:
        data = self._read_existing(real)
        shown = self.workspace.shown(real)
        if data is None:
            raise ToolRefusal(f"file not found: {shown}")
        if b"\x00" in data[:_BINARY_PROBE_BYTES]:
            raise ToolRefusal(f"{shown} is a binary file")
        return data.decode("utf-8", errors=errors)

    def _read_existing(self, real: str) -> bytes | None:
        """The file's bytes, None when it does not exist; refuses non-files and big files.

        `O_NONBLOCK` keeps a FIFO planted in the workspace from blocking the thread forever.
        """
        shown = self.workspace.shown(real)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(real, flags)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ToolRefusal(f"cannot open {shown}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise ToolRefusal(f"{shown} is a directory")
            if not stat.S_ISREG(info.st_mode):
                raise ToolRefusal(f"{shown} is not a regular file")
            if info.st_size > self.max_file_size:
                raise ToolRefusal(
                    f"{shown} is {info.st_size} bytes, over max_file_size ({self.max_file_size})"
                )
            data = handle.read(self.max_file_size + 1)
        if len(data) > self.max_file_size:
            raise ToolRefusal(f"{shown} is over max_file_size ({self.max_file_size})")
        return data

    def _write(self, real: str, data: bytes) -> None:
        shown = self.workspace.shown(real)
        _os_call(f"cannot create the directory of {shown}", _make_parents, real)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        fd = _os_call(f"cannot write {shown}", os.open, real, flags, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)


def _make_parents(real: str) -> None:
    os.makedirs(os.path.dirname(real), exist_ok=True)


def _os_call(message: str, fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)`, with an OS error turned into a refusal the model can act on."""
    try:
        return fn(*args)
    except OSError as exc:
        raise ToolRefusal(f"{message}: {exc.strerror or exc}") from None
