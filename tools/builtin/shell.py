"""A small parser for the command lines the command tool accepts (SPEC 9.4), and its checks.

Commands never reach a shell: the tool runs each simple command itself as an argv. So the only
programs that start are the first words of the segments this parser finds, which is what makes
checking those words a complete check, not a guess. What a shell would do beyond splitting
(substitutions, variables, redirections, subshells, background jobs) is parsed only to be
refused, after the commands inside it have been checked, so a refusal names the command the
model tried to sneak in (`ls $(rm -rf x)` is refused naming `rm`).

Supported: words with `'...'`, `"..."` and `\\` quoting, `#` comments, newlines and `;` between
commands, `&&`, `||`, pipelines with `|`, globs in arguments (expanded by the tool), and a
literal `2>&1` (a no-op: stderr already goes to the same output as stdout).

Programs that start other programs are a hole no parser closes in general. For the common ones
(shells with `-c`, `env`, `xargs`, `nice`, `timeout`, `sudo`, `find -exec`...) the words they
would run are checked too; `allowed_commands` is still the real boundary: a deployment that
allows `python` allows anything.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "CommandLine",
    "CommandPolicy",
    "Pipeline",
    "ShellSyntaxError",
    "SimpleCommand",
    "Word",
    "check_command_line",
    "parse_command_line",
]

_MAX_NESTING = 5
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
_SPECIAL_PARAMETERS = frozenset("?$!#@*-0123456789")
_GLOB_CHARS = frozenset("*?[")
_OPERATOR_CHARS = frozenset(";&|<>()")
#: Longest first, so `&&` is not read as two `&`.
_OPERATORS = (
    "<<<",
    "&&",
    "||",
    ";;",
    "|&",
    ">>",
    "<<",
    "&>",
    ">&",
    "<&",
    ">|",
    "<>",
    ";",
    "|",
    "&",
    "<",
    ">",
    "(",
    ")",
)
_SEPARATORS = frozenset({";", "&&", "||"})
_REDIRECTIONS = frozenset({"<<<", ">>", "<<", "&>", ">&", "<&", ">|", "<>", "<", ">"})

#: Programs whose arguments name another program to run.
_WRAPPERS = frozenset(
    {
        "busybox",
        "chroot",
        "chrt",
        "command",
        "doas",
        "env",
        "exec",
        "flock",
        "ionice",
        "ltrace",
        "nice",
        "nohup",
        "parallel",
        "runuser",
        "setsid",
        "stdbuf",
        "strace",
        "su",
        "sudo",
        "taskset",
        "time",
        "timeout",
        "unbuffer",
        "watch",
        "xargs",
    }
)
_SHELLS = frozenset({"ash", "bash", "csh", "dash", "fish", "ksh", "sh", "tcsh", "zsh"})
_FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_WRAPPER_ARGUMENT = re.compile(r"^[0-9.]+[smhd]?$|^-")


class ShellSyntaxError(ValueError):
    """The command line could not be parsed; the message says where."""


@dataclass(frozen=True, slots=True)
class Word:
    """One argument after quote removal.

    `pattern` is the word as a glob pattern (quoted characters escaped), used only when
    `has_glob`; `expansions` lists what a shell would have expanded (`$HOME`, `$(...)`), which
    this tool refuses; `raw` is the word as typed, for messages.
    """

    text: str
    raw: str
    pattern: str = ""
    has_glob: bool = False
    is_assignment: bool = False
    expansions: tuple[str, ...] = ()

    def expand(self, cwd: str) -> list[str]:
        """Glob expansion relative to `cwd`, sorted; no match keeps the word, as bash does."""
        if not self.has_glob:
            return [self.text]
        matches = sorted(glob.glob(self.pattern, root_dir=cwd))
        return matches or [self.text]


@dataclass(slots=True)
class SimpleCommand:
    words: list[Word] = field(default_factory=list)

    @property
    def argv_words(self) -> list[Word]:
        """The words after leading `NAME=value` assignments."""
        index = 0
        while index < len(self.words) and self.words[index].is_assignment:
            index += 1
        return self.words[index:]


@dataclass(slots=True)
class Pipeline:
    commands: list[SimpleCommand] = field(default_factory=list)


@dataclass(slots=True)
class CommandLine:
    """`items` are (operator before, pipeline): the first operator is empty."""

    items: list[tuple[str, Pipeline]] = field(default_factory=list)
    substitutions: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)

    def commands(self) -> Iterator[SimpleCommand]:
        for _, pipeline in self.items:
            yield from pipeline.commands

    @property
    def is_simple(self) -> bool:
        return len(self.items) == 1 and len(self.items[0][1].commands) == 1


# --- lexer ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _WordBuilder:
    start: int
    chars: list[tuple[str, bool]] = field(default_factory=list)  # (character, quoted)
    expansions: list[str] = field(default_factory=list)

    def add(self, text: str, *, quoted: bool) -> None:
        self.chars.extend((c, quoted) for c in text)

    def build(self, raw: str) -> Word:
        text = "".join(c for c, _ in self.chars)
        pattern = "".join(glob.escape(c) if quoted else c for c, quoted in self.chars)
        has_glob = any(c in _GLOB_CHARS and not quoted for c, quoted in self.chars)
        prefix = "".join(c for c, _ in _unquoted_prefix(self.chars))
        return Word(
            text=text,
            raw=raw,
            pattern=pattern,
            has_glob=has_glob,
            is_assignment=_ASSIGNMENT.match(prefix) is not None,
            expansions=tuple(self.expansions),
        )


def _unquoted_prefix(chars: list[tuple[str, bool]]) -> Iterator[tuple[str, bool]]:
    for char, quoted in chars:
        if quoted:
            return
        yield char, quoted


class _Lexer:
    """Splits a line into words and operator strings, recording substitutions on the way."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.pos = 0
        self.tokens: list[Word | str] = []
        self.substitutions: list[str] = []
        self.word: _WordBuilder | None = None

    def run(self) -> list[Word | str]:
        line = self.line
        while self.pos < len(line):
            char = line[self.pos]
            if char in " \t\r":
                self._flush()
                self.pos += 1
            elif char == "\n":
                self._flush()
                self.tokens.append(";")
                self.pos += 1
            elif char == "#" and self.word is None:
                end = line.find("\n", self.pos)
                self.pos = len(line) if end < 0 else end
            elif self.word is None and line.startswith("2>&1", self.pos) and self._ends_at(4):
                self.pos += 4  # stderr already joins stdout
            elif char in _OPERATOR_CHARS:
                self._flush()
                op = next(o for o in _OPERATORS if line.startswith(o, self.pos))
                self.tokens.append(op)
                self.pos += len(op)
            else:
                self._word_part(char)
        self._flush()
        return self.tokens

    def _ends_at(self, length: int) -> bool:
        after = self.pos + length
        return after >= len(self.line) or self.line[after] in " \t\r\n;&|<>()"

    def _current(self) -> _WordBuilder:
        if self.word is None:
            self.word = _WordBuilder(start=self.pos)
        return self.word

    def _flush(self) -> None:
        if self.word is not None:
            self.tokens.append(self.word.build(self.line[self.word.start : self.pos]))
            self.word = None

    def _word_part(self, char: str) -> None:
        word = self._current()
        line = self.line
        if char == "\\":
            if self.pos + 1 < len(line) and line[self.pos + 1] == "\n":
                self.pos += 2  # line continuation
                return
            word.add(line[self.pos + 1 : self.pos + 2] or "\\", quoted=True)
            self.pos += 2
        elif char == "'":
            end = line.find("'", self.pos + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated single quote")
            word.add(line[self.pos + 1 : end], quoted=True)
            self.pos = end + 1
        elif char == '"':
            self._double_quoted(word)
        elif char == "`":
            self._backticks(word)
        elif char == "$":
            self._dollar(word, quoted=False)
        else:
            word.add(char, quoted=False)
            self.pos += 1

    def _double_quoted(self, word: _WordBuilder) -> None:
        line = self.line
        self.pos += 1
        while self.pos < len(line) and line[self.pos] != '"':
            char = line[self.pos]
            if char == "\\" and self.pos + 1 < len(line) and line[self.pos + 1] in '"\\$`\n':
                word.add(line[self.pos + 1], quoted=True)
                self.pos += 2
            elif char == "`":
                self._backticks(word)
            elif char == "$":
                self._dollar(word, quoted=True)
            else:
                word.add(char, quoted=True)
                self.pos += 1
        if self.pos >= len(line):
            raise ShellSyntaxError("unterminated double quote")
        self.pos += 1

    def _backticks(self, word: _WordBuilder) -> None:
        line = self.line
        end = self.pos + 1
        while end < len(line) and line[end] != "`":
            end += 2 if line[end] == "\\" else 1
        if end >= len(line):
            raise ShellSyntaxError("unterminated backtick")
        inner = line[self.pos + 1 : end]
        self.substitutions.append(inner)
        word.expansions.append(f"`{inner}`")
        word.add(line[self.pos : end + 1], quoted=True)
        self.pos = end + 1

    def _dollar(self, word: _WordBuilder, *, quoted: bool) -> None:
        line = self.line
        start = self.pos
        following = line[start + 1 : start + 2]
        if following == "(":
            end = _matching_paren(line, start + 1)
            inner = line[start + 2 : end]
            if inner.startswith("(") and inner.endswith(")"):
                inner = inner[1:-1]  # $(( arithmetic )): refused like a substitution
            self.substitutions.append(inner)
            self.pos = end + 1
        elif following == "{":
            end = line.find("}", start)
            if end < 0:
                raise ShellSyntaxError("unterminated ${")
            self.pos = end + 1
        elif following in ("'", '"') and not quoted:
            end = line.find(following, start + 2)
            if end < 0:
                raise ShellSyntaxError(f"unterminated ${following}")
            self.pos = end + 1
        elif following and following in _SPECIAL_PARAMETERS:
            self.pos = start + 2
        elif name := _NAME.match(line, start + 1):
            self.pos = name.end()
        else:
            word.add("$", quoted=quoted)  # a lone `$` is literal, as in any shell
            self.pos += 1
            return
        word.expansions.append(line[start : self.pos])
        word.add(line[start : self.pos], quoted=True)


def _matching_paren(line: str, open_at: int) -> int:
    """Index of the `)` closing the `(` at `open_at`, skipping quoted text."""
    depth = 0
    index = open_at
    while index < len(line):
        char = line[index]
        if char == "\\":
            index += 2
            continue
        if char in "'\"":
            end = line.find(char, index + 1)
            if end < 0:
                break
            index = end + 1
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise ShellSyntaxError("unterminated $(")


# --- parser -----------------------------------------------------------------------------------


def parse_command_line(line: str) -> CommandLine:
    """Split `line` into pipelines joined by `;`, `&&`, `||`; raise `ShellSyntaxError`."""
    lexer = _Lexer(line)
    tokens = lexer.run()
    parser = _Parser(CommandLine(substitutions=lexer.substitutions))
    for token in tokens:
        if isinstance(token, Word):
            parser.word(token)
        else:
            parser.operator(token)
    return parser.finish()


class _Parser:
    """Groups tokens into commands, pipelines and the operators between them."""

    def __init__(self, parsed: CommandLine) -> None:
        self.parsed = parsed
        self.joined_by = ""  # the operator before the pipeline being built
        self.pipeline = Pipeline()
        self.command = SimpleCommand()
        self.redirect: str | None = None

    def word(self, token: Word) -> None:
        if self.redirect is not None:
            self.parsed.unsupported.append(f"redirection `{self.redirect} {token.raw}`")
            self.redirect = None
        else:
            self.command.words.append(token)

    def operator(self, token: str) -> None:
        if self.redirect is not None:
            raise ShellSyntaxError(f"`{self.redirect}` needs a target")
        if token in _REDIRECTIONS:
            self.redirect = token
        elif token == "|":
            self.pipeline.commands.append(_finished(self.command, token))
            self.command = SimpleCommand()
        elif token in _SEPARATORS:
            self._separator(token)
        else:
            # `&`, `;;`, `|&`, `(` and `)` are refused, but they still end a command, so
            # `ls & rm` is refused naming `rm` rather than reading it as an argument of `ls`.
            descriptions = {"&": "background job `&`", "(": "subshell `( )`", ")": "`)`"}
            self.parsed.unsupported.append(descriptions.get(token, f"`{token}`"))
            if self.command.words:
                self._separator(";")

    def _separator(self, token: str) -> None:
        if token == ";" and not self.command.words and not self.pipeline.commands:
            return  # blank lines and stray `;` between commands separate nothing
        self.pipeline.commands.append(_finished(self.command, token))
        self.parsed.items.append((self.joined_by, self.pipeline))
        self.joined_by, self.pipeline, self.command = token, Pipeline(), SimpleCommand()

    def finish(self) -> CommandLine:
        if self.redirect is not None:
            raise ShellSyntaxError(f"`{self.redirect}` needs a target")
        if self.command.words:
            self.pipeline.commands.append(self.command)
        elif self.pipeline.commands:
            raise ShellSyntaxError("a pipeline cannot end with `|`")
        if self.pipeline.commands:
            self.parsed.items.append((self.joined_by, self.pipeline))
        elif self.joined_by in ("&&", "||"):
            raise ShellSyntaxError(f"nothing after `{self.joined_by}`")
        if not self.parsed.items:
            raise ShellSyntaxError("no command given")
        return self.parsed


def _finished(command: SimpleCommand, before: str) -> SimpleCommand:
    if not command.words:
        raise ShellSyntaxError(f"empty command before `{before}`")
    return command


# --- policy -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandPolicy:
    """`allowed_commands`, `denied_commands` and `deny_by_default` of SPEC 9.4.

    A denied name matches the command as typed or its basename (`/bin/rm` is `rm`); an allowed
    name matches only as typed, so allowing `ls` does not allow a `./ls` planted in the
    workspace. With `allowed` set, every command must be in it; with it unset,
    `deny_by_default` decides whether unlisted commands run.
    """

    allowed: frozenset[str] | None = None
    denied: frozenset[str] = frozenset()
    deny_by_default: bool = False

    def refusal(self, name: str) -> str | None:
        if name in self.denied or os.path.basename(name) in self.denied:
            return f'command "{name}" is denied (denied_commands)'
        if self.allowed:
            if name in self.allowed:
                return None
            listed = ", ".join(sorted(self.allowed))
            return f'command "{name}" is not allowed (allowed_commands: {listed})'
        if self.deny_by_default:
            return f'command "{name}" is not allowed (deny_by_default and no allowed_commands)'
        return None

    def is_denied(self, name: str) -> bool:
        return name in self.denied or os.path.basename(name) in self.denied


def check_command_line(line: str, policy: CommandPolicy, *, simple_only: bool) -> CommandLine:
    """Parse and check `line`; raise `ValueError` with the message for the model.

    Commands are judged first, everywhere they appear (segments, substitutions, `sh -c`
    scripts, wrapped commands), so the refusal names the offending command; constructs this
    tool cannot run come after.
    """
    parsed = parse_command_line(line)
    _check_names(parsed, policy, depth=0)
    if parsed.unsupported:
        raise ValueError(
            f"{parsed.unsupported[0]} is not supported: commands run without a shell "
            "(only `;`, `&&`, `||` and `|` join commands)"
        )
    for command in parsed.commands():
        for word in command.words:
            if word.expansions:
                raise ValueError(
                    f"`{word.expansions[0]}` is not supported: commands run without a shell, "
                    "so substitutions and variables are not expanded"
                )
        if command.words[0].is_assignment:
            raise ValueError(
                f"environment assignment `{command.words[0].raw}` is not supported: commands "
                "run with a fixed environment"
            )
    if simple_only and not parsed.is_simple:
        raise ValueError("execute_command runs one command; use bash for `;`, `&&`, `||` and `|`")
    return parsed


def _check_names(parsed: CommandLine, policy: CommandPolicy, *, depth: int) -> None:
    if depth > _MAX_NESTING:
        raise ValueError("command nesting is too deep")
    # Substitutions first: in `$(rm x) arg` the command a refusal should name is `rm`.
    for inner in parsed.substitutions:
        _check_script(inner, policy, depth=depth + 1)
    for command in parsed.commands():
        words = command.argv_words
        if not words:
            continue  # only assignments: refused later as such
        _check_name(words[0], policy)
        _check_wrapped(words, policy, depth=depth)


def _check_name(word: Word, policy: CommandPolicy) -> None:
    if word.expansions or word.has_glob:
        raise ValueError(
            f'command "{word.raw}" is not allowed: command names must be literal '
            "(no variables, substitutions or globs)"
        )
    if not word.text:
        raise ValueError("empty command name")
    reason = policy.refusal(word.text)
    if reason:
        raise ValueError(reason)


def _check_script(script: str, policy: CommandPolicy, *, depth: int) -> None:
    """Names inside text a shell would run (a substitution, an `sh -c` argument)."""
    try:
        parsed = parse_command_line(script)
    except ShellSyntaxError as exc:
        raise ValueError(f"cannot parse nested command {script!r}: {exc}") from None
    _check_names(parsed, policy, depth=depth)


def _check_wrapped(words: list[Word], policy: CommandPolicy, *, depth: int) -> None:
    """Check what a wrapper, a shell with `-c` or `find -exec` would run."""
    program = os.path.basename(words[0].text)
    rest = words[1:]
    if program in _SHELLS:
        for index, word in enumerate(rest[:-1]):
            flag = word.text
            if flag.startswith("-") and not flag.startswith("--") and "c" in flag:
                _check_script(rest[index + 1].text, policy, depth=depth + 1)
                return
    elif program == "find":
        for index, word in enumerate(rest[:-1]):
            if word.text in _FIND_EXEC:
                _check_name(rest[index + 1], policy)
                _check_wrapped(rest[index + 1 :], policy, depth=depth + 1)
    elif program in _WRAPPERS:
        candidates = [w for w in rest if not _WRAPPER_ARGUMENT.match(w.text)]
        candidates = [w for w in candidates if not _ASSIGNMENT.match(w.text)]
        for word in candidates:
            if policy.is_denied(word.text):
                raise ValueError(f'command "{word.text}" is denied (denied_commands)')
        if candidates and depth < _MAX_NESTING:
            _check_name(candidates[0], policy)
            _check_wrapped(candidates, policy, depth=depth + 1)
