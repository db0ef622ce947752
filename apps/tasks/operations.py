"""Operator-side queue work over every app: recovery, stats, the dead-letter queue, requeue.

Sync functions, each naming the schema it works in (`schema_context`): Celery jobs, the Admin
API and the Django admin call them. Runs themselves are `TaskService`'s business; this module only
moves rows between queue states and hands them to the queue.

Queue states are read from the Task row's columns, not stored separately:

- pending: submitted, or working without a lease (released for a retry or by recovery),
  not dead-lettered; due when `next_attempt_at` is empty or past;
- processing: working with a lease;
- dead_letter: `dead_lettered_at` set (the task is failed).
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.tasks import metrics, queue
from apps.tasks.models import Task as TaskRow
from apps.tasks.models import TaskState
from apps.tenancy.models import App
from hector_site.errors import BadRequest, Conflict, NotFound

__all__ = [
    "RecoveryReport",
    "all_apps",
    "app_for_schema",
    "dead_letter_page",
    "queue_depth",
    "queue_stats",
    "recover_all",
    "recover_app",
    "requeue_dead_letter",
]

logger = logging.getLogger(__name__)

APP_CACHE_S = 2.0  # a worker looks its app up at most this often (config changes show within it)
REPUBLISH_BATCH = 1000
THROUGHPUT_WINDOW_S = 60

_PENDING_SQL = "state IN ('submitted', 'working') AND lease_owner = '' AND dead_lettered_at IS NULL"


# --- Apps by schema -----------------------------------------------------------------------------

_apps: dict[str, tuple[App | None, float]] = {}
_apps_lock = threading.Lock()


def app_for_schema(schema: str, *, fresh: bool = False) -> App | None:
    """The app owning `schema` (None once it was deleted), looked up in the public schema at
    most every couple of seconds per process (`fresh`: now): jobs carry schemas, and a worker
    runs many."""
    now = time.monotonic()
    cached = _apps.get(schema)
    if cached is not None and now - cached[1] < APP_CACHE_S and not fresh:
        return cached[0]
    with schema_context("public"):
        app = App.objects.tenants().filter(schema_name=schema).first()
    with _apps_lock:
        _apps[schema] = (app, now)
    return app


def all_apps() -> list[App]:
    """Every app (tenant), for the jobs that visit them all."""
    with schema_context("public"):
        return list(App.objects.tenants().order_by("id"))


# --- Recovery -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecoveryReport:
    released: int = 0  # stalled runs whose lease expired, returned to pending
    republished: int = 0  # pending tasks whose message may have been lost, published again


_RELEASE_SQL = """
UPDATE {table} SET
    lease_owner = '',
    lease_expires_at = NULL,
    next_attempt_at = NULL,
    queued_at = %(now)s,
    updated_at = %(now)s,
    last_error = 'run lost: the lease of ' || lease_owner || ' expired (process died or stalled)'
WHERE state = 'working' AND lease_owner <> '' AND lease_expires_at < %(now)s
  AND dead_lettered_at IS NULL
RETURNING id, metadata ? 'hector_probe'
"""

_REPUBLISH_SQL = f"""
UPDATE {{table}} SET queued_at = %(now)s
WHERE id IN (
    SELECT id FROM {{table}}
    WHERE {_PENDING_SQL}
      AND queued_at IS NOT NULL AND queued_at < %(before)s
      AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)
    ORDER BY queued_at LIMIT {REPUBLISH_BATCH}
    FOR UPDATE SKIP LOCKED
)
RETURNING id, metadata ? 'hector_probe'
"""


def recover_app(app: App, *, grace_s: float | None = None) -> RecoveryReport:
    """SPEC 8 stale recovery for one app. A run whose lease expired (its process died, or it
    stalled past `--queue-stale-threshold`) is released: the attempt it used stays counted,
    and the next claim resumes it from its checkpoint or dead-letters it when none are left. A
    pending task handed to the queue more than `grace_s` ago (default: the stale threshold) is
    published again: its message may have died with a worker that had prefetched it. Duplicate
    messages are harmless: a claim takes a row once."""
    settings = queue.queue_settings()
    grace = settings.stale_threshold_s if grace_s is None else grace_s
    now = timezone.now()
    table = TaskRow._meta.db_table
    with schema_context(app.schema_name), connection.cursor() as cursor:
        cursor.execute(_RELEASE_SQL.format(table=table), {"now": now})
        released = dict(cursor.fetchall())
        cursor.execute(
            _REPUBLISH_SQL.format(table=table),
            {"now": now, "before": now - timedelta(seconds=grace)},
        )
        republished = dict(cursor.fetchall())
    for task_id in released:
        logger.warning("task=%s app=%s recovered: its run's lease expired", task_id, app.id)
    for task_id, is_probe in {**republished, **released}.items():
        publish = queue.publish_probe if is_probe else queue.publish_run
        publish(app.schema_name, task_id)
    metrics.count_recovered(app.id, len(released), len(republished))
    return RecoveryReport(len(released), len(republished.keys() - released.keys()))


def recover_all(*, grace_s: float | None = None) -> RecoveryReport:
    """Recovery for every app; an app that fails (dropped meanwhile) does not stop the rest."""
    released = republished = 0
    for app in all_apps():
        try:
            report = recover_app(app, grace_s=grace_s)
        except Exception:
            logger.exception("app=%s queue recovery failed", app.id)
            continue
        released += report.released
        republished += report.republished
    if released or republished:
        logger.info("queue recovery: %s released, %s republished", released, republished)
    return RecoveryReport(released, republished)


# --- Stats --------------------------------------------------------------------------------------

_STATS_SQL = f"""
SELECT
    count(*) FILTER (WHERE {_PENDING_SQL}) AS pending,
    count(*) FILTER (WHERE state = 'working' AND lease_owner <> '') AS processing,
    count(*) FILTER (WHERE dead_lettered_at IS NOT NULL) AS dead_letter,
    count(*) FILTER (WHERE {_PENDING_SQL} AND attempts > 0) AS retrying,
    COALESCE(sum(GREATEST(attempts - 1, 0)), 0) AS retries,
    min(COALESCE(next_attempt_at, queued_at, created_at))
        FILTER (WHERE {_PENDING_SQL} AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s))
        AS oldest_waiting,
    count(*) FILTER (WHERE state = 'completed' AND updated_at > %(since)s) AS completed_recently,
    count(*) FILTER (WHERE state IN ('failed', 'canceled', 'rejected') AND updated_at > %(since)s)
        AS failed_recently
FROM {{table}}
"""


def _app_stats(app: App, now: datetime) -> dict[str, Any]:
    table = TaskRow._meta.db_table
    since = now - timedelta(seconds=THROUGHPUT_WINDOW_S)
    with schema_context(app.schema_name), connection.cursor() as cursor:
        cursor.execute(_STATS_SQL.format(table=table), {"now": now, "since": since})
        row = cursor.fetchone()
        columns = [c.name for c in cursor.description]
        cursor.execute(f"SELECT state, count(*) FROM {table} GROUP BY state")
        states = {state: count for state, count in cursor.fetchall()}
    stats = dict(zip(columns, row, strict=True))
    oldest = stats.pop("oldest_waiting")
    return {
        "app": app.id,
        "queue": {k: stats[k] for k in ("pending", "processing", "dead_letter", "retrying")},
        "states": {state: states.get(state, 0) for state in TaskState.values},
        "retries": int(stats["retries"]),
        "oldest_waiting_age_s": max((now - oldest).total_seconds(), 0.0) if oldest else None,
        "throughput": {
            "window_s": THROUGHPUT_WINDOW_S,
            "completed": stats["completed_recently"],
            "failed": stats["failed_recently"],
            "completed_per_s": round(stats["completed_recently"] / THROUGHPUT_WINDOW_S, 3),
        },
    }


def queue_stats(app: App | None = None) -> dict[str, Any]:
    """Counts per queue state and task state, per app and in total; the oldest waiting task's
    age; retries; dead letters; completions over the last minute."""
    now = timezone.now()
    per_app = []
    for each in [app] if app is not None else all_apps():
        try:
            per_app.append(_app_stats(each, now))
        except Exception:
            logger.warning("app=%s queue stats unavailable", each.id, exc_info=True)
    totals: dict[str, int] = {}
    for entry in per_app:
        for key, value in (*entry["queue"].items(), *entry["states"].items()):
            totals[key] = totals.get(key, 0) + value
    ages = [e["oldest_waiting_age_s"] for e in per_app if e["oldest_waiting_age_s"] is not None]
    completed = sum(e["throughput"]["completed"] for e in per_app)
    return {
        "generated_at": now.isoformat(),
        "totals": totals,
        "retries": sum(e["retries"] for e in per_app),
        "dead_letter": totals.get("dead_letter", 0),
        "oldest_waiting_age_s": max(ages) if ages else None,
        "throughput": {
            "window_s": THROUGHPUT_WINDOW_S,
            "completed": completed,
            "failed": sum(e["throughput"]["failed"] for e in per_app),
            "completed_per_s": round(completed / THROUGHPUT_WINDOW_S, 3),
        },
        "apps": per_app,
    }


def queue_depth() -> list[tuple[str, str, int]]:
    """(app, queue state, count) for `hector_queue_depth`."""
    stats = queue_stats()
    return [
        (entry["app"], state, count)
        for entry in stats["apps"]
        for state, count in entry["queue"].items()
    ]


# --- Dead-letter queue --------------------------------------------------------------------------


def dead_letter_json(row: TaskRow, app_id: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "app": app_id,
        "agent": row.agent,
        "context_id": row.context_id,
        "user_id": row.user_id,
        "state": row.state,
        "attempts": row.attempts,
        "max_retries": row.max_retries,
        "last_error": row.last_error,
        "reason": row.dead_letter_reason,
        "dead_lettered_at": row.dead_lettered_at.isoformat() if row.dead_lettered_at else None,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def _encode_token(app_id: str, row: TaskRow) -> str:
    assert row.dead_lettered_at is not None
    raw = f"{app_id}|{row.dead_lettered_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[str, datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        app_id, stamp, task_id = raw.split("|", 2)
        at = datetime.fromisoformat(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("Invalid page_token") from None
    return app_id, at, task_id


def dead_letter_page(
    *,
    app: App | None,
    agent: str | None,
    page_size: int,
    page_token: str | None,
) -> tuple[list[dict[str, Any]], str]:
    """Dead letters, newest first within each app, apps in id order. `app` None: every app."""
    after = _decode_token(page_token) if page_token else None
    apps = [app] if app is not None else all_apps()
    if after is not None:
        apps = [a for a in apps if a.id >= after[0]]
    entries: list[dict[str, Any]] = []
    next_token = ""
    for each in apps:
        with schema_context(each.schema_name):
            rows = TaskRow.objects.filter(dead_lettered_at__isnull=False)
            if agent:
                rows = rows.filter(agent=agent)
            if after is not None and after[0] == each.id:
                _, at, task_id = after
                rows = rows.filter(dead_lettered_at__lte=at).exclude(
                    dead_lettered_at=at, id__gte=task_id
                )
            wanted = page_size - len(entries)
            page = list(rows.order_by("-dead_lettered_at", "-id")[: wanted + 1])
        entries += [dead_letter_json(r, each.id) for r in page[:wanted]]
        if len(page) > wanted:
            next_token = _encode_token(each.id, page[wanted - 1])
            break
        if len(entries) == page_size:  # full, this app used up: later apps may have more
            if any(a.id > each.id for a in apps):
                next_token = _encode_token(each.id, page[-1])
            break
    return entries, next_token


def requeue_dead_letter(app: App, task_id: str) -> dict[str, Any]:
    """SPEC 8: back to pending with its attempts reset; the task is `submitted` again. Its
    messages, checkpoints and last error stay (history), so the next run resumes where the last
    one stopped. A task that is not dead-lettered is a conflict, not a no-op."""
    now = timezone.now()
    with schema_context(app.schema_name), transaction.atomic():
        row = TaskRow.objects.select_for_update().filter(pk=task_id).first()
        if row is None:
            raise NotFound("Task not found")
        if row.dead_lettered_at is None:
            raise Conflict(f"Task is not in the dead-letter queue (state {row.state})")
        row.state = TaskState.SUBMITTED
        row.status_message = None
        row.status_timestamp = now
        row.updated_at = now
        row.attempts = 0
        row.dead_lettered_at = None
        row.next_attempt_at = None
        row.lease_owner = ""
        row.lease_expires_at = None
        row.queued_at = now
        row.save()
        body = dead_letter_json(row, app.id)
    logger.info("task=%s app=%s requeued from the dead-letter queue", task_id, app.id)
    if queue.uses_workers():
        queue.publish_run(app.schema_name, task_id)
    else:
        _run_in_background(app, task_id)
    return body


def _run_in_background(app: App, task_id: str) -> None:
    """Local dispatch from sync code (no event loop here): a thread with its own loop."""
    from apps.tasks.service import execute_on_own_loop

    def run() -> None:
        try:
            execute_on_own_loop(app, task_id)
        except Exception:
            logger.exception("task=%s app=%s requeued run failed", task_id, app.id)

    threading.Thread(target=run, name=f"hector-requeue-{task_id}", daemon=True).start()
