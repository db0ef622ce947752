"""Celery entry points of the durable queue: take (schema, id), set the schema, call a service.

Messages carry nothing but ids (ARCHITECTURE decision 6): a job for an app that was deleted is
discarded with a log line, and one for a row that is not pending does nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.db import DatabaseError, connection
from django.utils import timezone

from agents.tasks import TaskNotFound
from apps.tasks import metrics, operations, rows

logger = logging.getLogger(__name__)


@shared_task(name="hector.tasks.run", ignore_result=True)
def run_task(schema: str, task_id: str) -> None:
    """Claim the task and run it to a final state (or hand a retry back to the queue)."""
    from apps.tasks.service import execute_on_own_loop

    app = operations.app_for_schema(schema)
    if app is None:
        logger.warning("task=%s schema=%s discarded: its app no longer exists", task_id, schema)
        return
    try:
        execute_on_own_loop(app, task_id, in_worker=True)
    except TaskNotFound:
        logger.warning("task=%s app=%s discarded: no such task", task_id, app.id)
    except DatabaseError:
        if operations.app_for_schema(schema, fresh=True) is None:  # dropped meanwhile
            logger.warning("task=%s schema=%s discarded: its app was deleted", task_id, schema)
            return
        raise


@shared_task(name="hector.queue.probe", ignore_result=True)
def probe(schema: str, task_id: str) -> None:
    """A no-op task: its row is claimed (`SKIP LOCKED`) and completed in one statement, without
    an agent. Measures the queue itself (bench/queue.py) and shows a worker is alive."""
    app = operations.app_for_schema(schema)
    if app is None:
        logger.warning("task=%s schema=%s discarded: its app no longer exists", task_id, schema)
        return
    if connection.schema_name != schema:
        connection.set_schema(schema)
    taken = rows.complete_probe(task_id)
    if taken is not None:
        agent, waiting_since = taken
        metrics.observe_latency(app.id, agent, (timezone.now() - waiting_since).total_seconds())


@shared_task(name="hector.queue.recover", ignore_result=True)
def recover() -> None:
    """SPEC 8 stale recovery over every app (beat sends this every minute)."""
    operations.recover_all()


@worker_ready.connect
def _recover_at_start(**_: Any) -> None:
    """SPEC 8: recovery also runs at start, so a restarted worker picks up what died with the
    previous one without waiting for beat."""
    started = timezone.now()
    try:
        report = operations.recover_all()
    except Exception:
        logger.exception("queue recovery at worker start failed")
        return
    logger.info(
        "worker ready: recovery released %s, republished %s (%.0f ms)",
        report.released,
        report.republished,
        (timezone.now() - started).total_seconds() * 1000,
    )
