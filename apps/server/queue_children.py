"""`hector worker` and `hector beat` as children of `hector serve`, kept running.

A child that dies (killed, out of memory, a crash) is started again, after a pause that doubles
with each quick death (up to `MAX_RESTART_DELAY_S`), so a worker that cannot start does not spin.
Runs it held are recovered like any dead worker's (their lease expires; recovery releases them).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings

__all__ = ["QueueChildren"]

logger = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0
POLL_S = 0.5
FIRST_RESTART_DELAY_S = 1.0
MAX_RESTART_DELAY_S = 30.0
STABLE_AFTER_S = 60.0  # a child that ran this long is restarted without waiting
COMMANDS = ("worker", "beat")
_CHILD = "import sys; from hector_site.cli import main; sys.exit(main(['hector', '{command}']))"


def _die_with_parent() -> None:
    """In the child, before exec: Linux kills it when `serve` dies, even by SIGKILL, so no worker
    outlives the server that started it (its runs are then recovered like any dead worker's)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def child_argv(command: str) -> list[str]:
    """The children run the program this process runs (`hector`, `manage.py`, `python -m ...`),
    with `worker` or `beat` in place of `serve` and its arguments: whatever that program sets up
    before handing over to the CLI applies to them too."""
    argv = list(getattr(sys, "orig_argv", []))
    if "serve" in argv[1:]:
        return [sys.executable, *argv[1 : argv.index("serve", 1)], command]
    return [sys.executable, "-c", _CHILD.format(command=command)]


class QueueChildren:
    """The worker and beat children of this process, on its database and data dir (the embedded
    Postgres is reached by URL; only `serve` owns it), restarted when they die."""

    def __init__(self) -> None:
        self._env = {
            **os.environ,
            "DATABASE_URL": settings.DATABASE_URL,
            "HECTOR_DATA_DIR": str(settings.DATA_DIR),
            "HECTOR_QUEUE_DISPATCH": "celery",
        }
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._started_at: dict[str, float] = {}
        self._delay: dict[str, float] = dict.fromkeys(COMMANDS, FIRST_RESTART_DELAY_S)
        self.restarts = 0
        self._watcher = threading.Thread(target=self._watch, name="hector-queue-children")

    def start(self) -> None:
        for command in COMMANDS:
            self._spawn(command)
        self._watcher.daemon = True
        self._watcher.start()

    def _spawn(self, command: str) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self.processes[command] = subprocess.Popen(
                child_argv(command), env=self._env, preexec_fn=_die_with_parent
            )
            self._started_at[command] = time.monotonic()

    def _watch(self) -> None:
        while not self._stopping.wait(POLL_S):
            for command, process in list(self.processes.items()):
                code = process.poll()
                if code is None or self._stopping.is_set():
                    continue
                ran_s = time.monotonic() - self._started_at[command]
                delay = 0.0 if ran_s >= STABLE_AFTER_S else self._delay[command]
                self._delay[command] = (
                    FIRST_RESTART_DELAY_S
                    if ran_s >= STABLE_AFTER_S
                    else min(delay * 2, MAX_RESTART_DELAY_S)
                )
                logger.warning(
                    "queue %s (pid %s) exited with %s after %.0f s; starting it again in %.0f s",
                    command,
                    process.pid,
                    code,
                    ran_s,
                    delay,
                )
                if self._stopping.wait(delay):
                    return
                self._spawn(command)
                self.restarts += 1

    def stop(self) -> None:
        """Warm shutdown (running tasks finish, up to the timeout), then kill."""
        with self._lock:
            self._stopping.set()
            processes = list(self.processes.values())
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
