"""`Hector <version> (<commit>) built <date>`: commit and date are omitted when unknown."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from hector_site import __version__

REPO_DIR = Path(__file__).resolve().parent.parent


@functools.cache
def git_commit() -> str | None:
    """Commit of the checkout we run from; builds may pin it with HECTOR_GIT_COMMIT."""
    if os.environ.get("HECTOR_GIT_COMMIT"):
        return os.environ["HECTOR_GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=2,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def version_line() -> str:
    line = f"Hector {__version__}"
    commit = git_commit()
    if commit:
        line += f" ({commit})"
    build_date = os.environ.get("HECTOR_BUILD_DATE")
    if build_date:
        line += f" built {build_date}"
    return line
