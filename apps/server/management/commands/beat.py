"""`hector beat`: the periodic scheduler (django-celery-beat, its tables in the public schema).

Run exactly one per deployment. It sends the queue's recovery every minute, and the jobs it sends
carry their app's schema themselves (a scheduler plugin that switched schemas crashed here).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.server.management.commands.worker import celery_log_level
from hector_site.flags import DATABASE_FLAGS, WORKER_FLAGS, add_flags


class Command(BaseCommand):
    help = "Run the periodic scheduler (queue recovery, schedules)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        add_flags(parser, DATABASE_FLAGS + WORKER_FLAGS)

    def handle(self, *args: Any, **options: Any) -> None:
        from hector_site.celery import app, ensure_broker_folders

        ensure_broker_folders()
        app.start(
            [
                "beat",
                f"--scheduler={settings.CELERY_BEAT_SCHEDULER}",
                f"--loglevel={celery_log_level()}",
                "--pidfile=",
            ]
        )
