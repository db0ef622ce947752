"""Real processes for the durable-queue tests: workers and `hector serve` on the test database.

`python -m tests.apps.tasks.durable <hector command> [args]` is the entry point of those
processes: the real CLI, with one tool registered for the test app first, `count`, which appends
its label to a file. Children that `serve` starts run this same entry point (they run the program
their parent runs), so every process of a test counts into one file the test reads.

The fake LLM asks for `count(label)` once per task, then answers; while `hold` is set its answers
wait (the run is "mid-task", the place to kill a process).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.fakes.http import RecordedRequest, Response, ndjson
from tests.fakes.ollama_server import MODEL, Fake, _ndjson_response, _stream
from tests.fakes.script import Reply, Script, ScriptedToolCall

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[3]
STALE_THRESHOLD_S = 2.0
HOLD_TIMEOUT_S = 60.0


def agent_config(llm_url: str) -> dict[str, Any]:
    return {
        "llms": {
            "default": {
                "provider": "ollama",
                "model": MODEL,
                "base_url": llm_url,
                "max_retries": 0,
            }
        },
        "agents": {
            "counter": {"llm": "default", "instruction": "Count, then answer.", "tools": ["count"]}
        },
        "tools": {"count": {"type": "function", "handler": "count"}},
    }


class CountingFake(Fake):
    """Per request: no tool result yet -> call `count(label)`; else answer `done <label>`."""

    def __init__(self) -> None:
        super().__init__(Script())
        self.hold = threading.Event()
        self.held = 0  # answers waiting for `hold` to clear
        self.answers = 0
        self._release = threading.Event()
        self._count_lock = threading.Lock()

    def reset(self) -> None:
        """Hold answers from now on, counting from zero (one fake serves a module's tests)."""
        self._release.clear()
        self.hold.set()
        self.held = self.answers = 0

    def release(self) -> None:
        self.hold.clear()
        self._release.set()

    def _chat(self, request: RecordedRequest) -> Response:
        body = request.json() if isinstance(request.json(), dict) else {}
        messages = body.get("messages") or []
        label = next(
            (str(m.get("content")) for m in messages if m.get("role") == "user"), "unlabelled"
        )
        if not any(m.get("role") == "tool" for m in messages):
            reply = Reply(tool_calls=[ScriptedToolCall("count", {"label": label})])
        else:
            if self.hold.is_set():
                with self._count_lock:
                    self.held += 1
                self._release.wait(HOLD_TIMEOUT_S)
            with self._count_lock:
                self.answers += 1
            reply = Reply(text=f"done {label}")
        return _ndjson_response(ndjson(chunk) for chunk in _stream(MODEL, reply))


def database_url() -> str:
    """The database this test process really uses, as a URL. Asked of the server, not read
    from settings: the connection pool may have been opened before pytest-django renamed the
    database in settings, and then keeps connecting to the original one."""
    from urllib.parse import quote, urlsplit

    def current() -> str:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            return str(cursor.fetchone()[0])

    base = urlsplit(os.environ["DATABASE_URL"])
    return base._replace(path="/" + quote(committed(current))).geturl()


@dataclass
class Proc:
    """A process of a test, its output kept for failure messages."""

    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(self.output)

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, like a crash or an OOM kill."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait_for_output(self, needle: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while needle not in self.text():
            if self.process.poll() is not None:
                raise AssertionError(f"process exited early:\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not seen in {timeout_s}s:\n{self.text()}")
            time.sleep(0.05)


def process_env(
    *, app_id: str, data_dir: Path, calls_file: Path, broker_url: str | None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=database_url(),
        HECTOR_DATA_DIR=str(data_dir),
        HECTOR_QUEUE_DISPATCH="celery",
        HECTOR_QUEUE_STALE_THRESHOLD=f"{STALE_THRESHOLD_S:g}s",
        HECTOR_DB_POOL_MAX="4",
        HECTOR_TEST_APP=app_id,
        HECTOR_TEST_CALLS_FILE=str(calls_file),
        PYTHONUNBUFFERED="1",
    )
    env.pop("CELERY_BROKER_URL", None)
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    return env


def start(env: dict[str, str], *args: str) -> Proc:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.apps.tasks.durable", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a kill -9 of it must not reach pytest's process group
    )
    proc = Proc(process)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            proc.output.append(line)

    threading.Thread(target=pump, daemon=True).start()
    return proc


def start_worker(env: dict[str, str], timeout_s: float = 30.0) -> Proc:
    worker = start(env, "worker")
    worker.wait_for_output(" ready.", timeout_s)
    return worker


@contextmanager
def celery_publisher(data_dir: Path, broker_url: str | None) -> Iterator[Any]:
    """A Celery app of this (test) process that publishes where the test's workers consume."""
    from celery import Celery

    import hector_site.celery  # noqa: F401  # its atomic filesystem transport

    if broker_url:
        app = Celery("hector-test", broker=broker_url)
        app.control.purge()  # messages of earlier runs would only be discarded noise
    else:
        folder = data_dir / "queue" / "messages"
        folder.mkdir(parents=True, exist_ok=True)
        options = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(data_dir / "queue" / "control"),  # else ./control
        }
        app = Celery(
            "hector-test", broker="filesystem://localhost//", broker_transport_options=options
        )
    try:
        yield app
    finally:
        app.close()


def committed(fn: Callable[[], T]) -> T:
    """Run `fn` on a thread of its own: its own connection, outside the test's transaction, so
    what it writes is committed and the test's other processes see it."""
    from django.db import connections

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def calls_in(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def wait_until(check: Any, *, timeout_s: float, what: str) -> None:
    """Poll `check()` (a sync callable) with a deadline."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)


def main() -> int:
    """Entry point of the test's processes (see the module docstring)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hector_site.settings")
    django.setup()
    from apps.tasks.runtime import override_runtime
    from hector_site.cli import main as hector
    from tools.base import FunctionTool

    calls_file = os.environ["HECTOR_TEST_CALLS_FILE"]

    def count(label: str) -> str:
        """Count one call of this tool.

        Args:
            label: what is counted.
        """
        with open(calls_file, "a", encoding="utf-8") as out:
            out.write(label + "\n")
        return f"counted {label}"

    with override_runtime(os.environ["HECTOR_TEST_APP"], tools={"count": FunctionTool(count)}):
        return hector(["hector", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
