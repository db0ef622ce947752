"""The Celery job of approvals: beat sends it every minute (`hector_site.celery`)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from celery import shared_task

from apps.approvals.services import expire_due
from apps.tasks.operations import all_apps

logger = logging.getLogger(__name__)


@shared_task(name="hector.approvals.expire", ignore_result=True)
def expire() -> None:
    """Expire the approvals nobody decided in time, in every app, and resume their tasks. An app
    that fails (dropped meanwhile) does not stop the rest."""
    for app in all_apps():
        try:
            async_to_sync(expire_due)(app)
        except Exception:
            logger.exception("app=%s approval expiry failed", app.id)
