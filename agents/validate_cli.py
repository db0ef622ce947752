"""``hector validate`` without Django: the CLI layer only prints what this returns (SPEC 1.5).

Exit codes: 0 valid, 1 invalid, 2 usage error (missing file, unknown format).
"""

from __future__ import annotations

import json
from pathlib import Path

from agents.config_errors import format_issue
from agents.config_loader import load_config_file
from agents.config_loader import print_config as expanded_config
from agents.errors import ConfigError

__all__ = ["FORMATS", "run_validate"]

FORMATS = ("compact", "verbose", "json")


def run_validate(path: str, *, fmt: str = "compact", print_config: bool = False) -> tuple[int, str]:
    """Validate the config file at ``path``; return ``(exit_code, output)``.

    ``output`` ends with a newline when not empty. ``print_config`` appends the expanded
    config (defaults applied, env resolved, secrets masked) when the file is valid; it is
    ignored by the json format, whose output stays one JSON document.
    """
    if fmt not in FORMATS:
        return 2, f"error: unknown format {fmt!r} (expected: {', '.join(FORMATS)})\n"
    file = Path(path)
    if not file.is_file():
        reason = "is a directory" if file.is_dir() else "not found"
        return 2, f"error: config file {reason}: {path}\n"
    try:
        loaded = load_config_file(file)
    except ConfigError as exc:
        return 1, _render_errors(path, exc, fmt)
    except (OSError, UnicodeDecodeError) as exc:
        return 2, f"error: cannot read config file {path}: {exc}\n"
    if fmt == "json":
        return 0, json.dumps({"valid": True, "errors": []}) + "\n"
    header = f"Validating {path}\n" if fmt == "verbose" else ""
    out = f"{header}{path}: valid\n"
    if print_config:
        out += "\n" + expanded_config(loaded)
    return 0, out


def _render_errors(path: str, exc: ConfigError, fmt: str) -> str:
    if fmt == "json":
        errors = [
            {"path": i.path, "line": i.line, "column": i.column, "message": i.message}
            for i in exc.errors
        ]
        return json.dumps({"valid": False, "errors": errors}) + "\n"
    lines = [format_issue(path, issue) for issue in exc.errors]
    if fmt == "verbose":
        count = len(exc.errors)
        noun = "error" if count == 1 else "errors"
        return (
            f"Validating {path}\n"
            + "".join(f"  {line}\n" for line in lines)
            + (f"{count} {noun} found; {path} is invalid\n")
        )
    return "".join(f"{line}\n" for line in lines)
