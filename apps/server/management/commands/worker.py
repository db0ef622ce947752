"""`hector worker`: a Celery worker of the durable task queue (SPEC 1.1, 8).

Any number of them, on any machine that reaches the database and the broker (`CELERY_BROKER_URL`;
without it, the data dir's filesystem broker, so only on the machine of `hector serve`). Runs
are asyncio work waiting on LLMs and tools, so the pool is threads: `--queue-workers` runs at
once per process, each thread with its own event loop and database connection.
"""

from __future__ import annotations

import os
import socket
import warnings
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from hector_site.flags import DATABASE_FLAGS, WORKER_FLAGS, add_flags, flag_value

CELERY_LOG_LEVELS = {"debug": "DEBUG", "info": "INFO", "warn": "WARNING", "error": "ERROR"}


def celery_log_level() -> str:
    return CELERY_LOG_LEVELS.get((flag_value("log-level") or "info").lower(), "INFO")


class Command(BaseCommand):
    help = "Run a task worker of the durable queue (Celery, tenant-aware)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        add_flags(parser, DATABASE_FLAGS + WORKER_FLAGS)

    def handle(self, *args: Any, **options: Any) -> None:
        from celery.exceptions import SecurityWarning

        from hector_site.celery import app, ensure_broker_folders

        # Celery warns about running as root because of pickle; this app accepts JSON only,
        # and containers often run as root.
        warnings.simplefilter("ignore", SecurityWarning)

        ensure_broker_folders()
        name = f"hector-{os.getpid()}@{socket.gethostname()}"
        argv = [
            "worker",
            "--pool=threads",
            f"--concurrency={settings.HECTOR_QUEUE_WORKERS}",
            f"--loglevel={celery_log_level()}",
            f"--hostname={name}",
            "--without-mingle",
            "--without-gossip",
        ]
        app.worker_main(argv)
