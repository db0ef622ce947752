"""What runs in this process: one `Runner` per app revision, and the task runs in flight.

A Runner holds LLM clients (connection pools) and read instruction files, so it is built once per
(app, active revision) and reused by every task of that app in this process; a newer revision
replaces it. The replaced Runner is simply dropped: its clients belong to event loops that may be
gone, and runs still using it keep their reference until they end.

The run registry maps (schema, task id) to the asyncio task running it, so a cancel, local or
arriving on the bus from another process, can stop it.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asgiref.sync import AsyncToSync, SyncToAsync
from django.conf import settings

from agents.config_loader import load_config_data
from agents.llm.base import LLM
from agents.runner import Runner
from apps.approvals.store import PostgresApprovalStore
from apps.conversations.memory import PostgresMemoryStore
from apps.conversations.stores import PostgresSessionService
from apps.tenancy.models import App
from tools.base import Tool
from tools.builtin import BuiltinEnvironment

__all__ = [
    "PROCESS_ID",
    "cancel_local_run",
    "detached_context",
    "local_run",
    "override_runtime",
    "release_loop_clients",
    "runner_for",
    "track_run",
    "untrack_run",
]

#: Names this process as a lease owner on Task rows.
PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# --- Runners ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cached:
    revision: int | None
    config_json: str
    schema: str
    runner: Runner

    def serves(self, app: App) -> bool:
        # The config text is compared too: an app deleted and re-created under the same id
        # starts again at revision 1 with another config.
        return (
            self.revision == app.active_revision
            and self.schema == app.schema_name
            and self.config_json == app.config_json
        )


@dataclass(frozen=True)
class RuntimeOverride:
    """Test seam: LLM clients (by `llms.<name>`) and tools handed to an app's Runner."""

    llms: Mapping[str, LLM] = field(default_factory=dict)
    tools: Mapping[str, Tool] = field(default_factory=dict)


_runners: dict[str, _Cached] = {}
_overrides: dict[str, RuntimeOverride] = {}
_runners_lock = threading.Lock()


def runner_for(app: App) -> Runner:
    """The Runner of the app's active config revision, built on first use in this process.

    Raises the config's `ConfigError` when the stored config no longer validates (e.g. an
    environment variable it needs went away); the caller fails the task with that message.
    """
    cached = _runners.get(app.id)
    if cached is not None and cached.serves(app):
        return cached.runner
    with _runners_lock:
        cached = _runners.get(app.id)
        if cached is not None and cached.serves(app):
            return cached.runner
        runner = _build(app)
        _runners[app.id] = _Cached(app.active_revision, app.config_json, app.schema_name, runner)
    if cached is not None:
        _retire(cached.runner)
    return runner


def mcp_status() -> list[dict[str, Any]]:
    """The MCP servers of every app runner this process built, with the app they serve."""
    return [
        {"app": app_id, **server}
        for app_id, cached in list(_runners.items())
        for server in cached.runner.tool_status()
    ]


async def release_loop_clients() -> None:
    """Close what every cached runner holds for the running loop, before that loop ends."""
    for cached in list(_runners.values()):
        await cached.runner.release_loop()


#: Runs that started on a replaced runner keep it until they end; its clients and MCP servers
#: are closed once they are surely done.
RETIRE_AFTER_S = 300.0
_closing: set[asyncio.Task[None]] = set()


def _retire(runner: Runner) -> None:
    """Close a runner replaced by a new config revision, later, on the loop that used it."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop here: its clients went (or go) with the loop that made them

    def close() -> None:
        closing = loop.create_task(runner.aclose(), name="hector-retire-runner")
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)

    loop.call_later(RETIRE_AFTER_S, close)


def _build(app: App) -> Runner:
    loaded = load_config_data(json.loads(app.config_json or "{}"), source=f"app {app.id}")
    override = _overrides.get(app.id, RuntimeOverride())
    return Runner(
        loaded.config,
        sessions=PostgresSessionService(app.schema_name),
        tools=override.tools,
        llms=override.llms,
        base_dir=_base_dir(app),
        tool_environment=BuiltinEnvironment.for_app(
            Path(settings.DATA_DIR), app.id, memory=PostgresMemoryStore(app.schema_name)
        ),
        approvals=PostgresApprovalStore(app.schema_name),
    )


def _base_dir(app: App) -> Path:
    """Where relative `instruction_file` paths point: next to the config file for the default
    app (which a file seeds), else the app's data folder (removed with the app)."""
    if app.is_default:
        return Path(settings.HECTOR_CONFIG).parent
    return Path(settings.DATA_DIR) / "apps" / app.id


@contextmanager
def override_runtime(
    app_id: str,
    *,
    llms: Mapping[str, LLM] | None = None,
    tools: Mapping[str, Tool] | None = None,
) -> Iterator[None]:
    """Test seam: runs of `app_id` use these LLM clients and tools while the block lasts."""
    with _runners_lock:
        _overrides[app_id] = RuntimeOverride(llms=dict(llms or {}), tools=dict(tools or {}))
        _runners.pop(app_id, None)
    try:
        yield
    finally:
        with _runners_lock:
            _overrides.pop(app_id, None)
            _runners.pop(app_id, None)


# --- Runs in flight -----------------------------------------------------------------------------


_runs: dict[tuple[str, str], asyncio.Task[Any]] = {}
_runs_lock = threading.Lock()


def detached_context() -> contextvars.Context:
    """The current context for a task that outlives the request creating it.

    Under ASGI, Django runs an async view behind sync middleware: the view's thread-sensitive
    `sync_to_async` calls go to that request's thread (asgiref's `AsyncToSync.executors`, a
    context variable that `create_task` copies). Once the view has returned, that executor is
    gone and a background run's next ORM hop fails with "CurrentThreadExecutor already quit".
    This copy keeps every other context variable (trace context, log fields) but forgets the
    request's threads, so the run's hops go where any code outside a request sends them: the
    thread of an enclosing `async_to_sync` (a Celery task, a test) or the database threads.
    """
    context = contextvars.copy_context()
    context.run(_forget_request_threads)
    return context


def _forget_request_threads() -> None:
    AsyncToSync.executors.current = None
    SyncToAsync.thread_sensitive_context.set(None)  # type: ignore[arg-type]  # "no context"
    SyncToAsync.deadlock_context.set(False)


def track_run(schema: str, task_id: str, run: asyncio.Task[Any]) -> None:
    """Record the asyncio task running a task; it is untracked when it ends."""
    key = (schema, task_id)
    with _runs_lock:
        _runs[key] = run
    run.add_done_callback(lambda done: untrack_run(schema, task_id, done))


def untrack_run(schema: str, task_id: str, run: asyncio.Task[Any]) -> None:
    with _runs_lock:
        if _runs.get((schema, task_id)) is run:
            del _runs[(schema, task_id)]


def local_run(schema: str, task_id: str) -> asyncio.Task[Any] | None:
    return _runs.get((schema, task_id))


def cancel_local_run(schema: str, task_id: str) -> asyncio.Task[Any] | None:
    """Cancel the run of the task if this process has one; safe from any thread (the bus thread
    calls it for cancel requests of other processes). Returns the cancelled asyncio task."""
    run = local_run(schema, task_id)
    if run is None or run.done():
        return None
    loop = run.get_loop()
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        run.cancel()
    else:
        try:
            loop.call_soon_threadsafe(run.cancel)
        except RuntimeError:  # its loop is closed: nothing left to cancel
            return None
    return run
