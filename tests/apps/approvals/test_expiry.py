"""An approval nobody decides in time expires (SPEC 8: a denial), and the task waiting for it
resumes by itself: beat sends `hector.approvals.expire` every minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django_tenants.utils import schema_context

from apps.approvals import jobs
from apps.approvals.models import Approval
from apps.approvals.services import expire_due
from apps.tasks.service import TaskService
from apps.tenancy.models import App
from hector_site.celery import app as celery_app
from tests.apps.approvals.conftest import CALLS, approval_of
from tests.apps.tasks.helpers import drive
from tests.fakes.scripted_llm import ScriptedLLM


def due_now(app: App, task_id: str) -> None:
    with schema_context(app.schema_name):
        Approval.objects.filter(task_id=task_id).update(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)
        )


def test_an_expired_approval_denies_the_call_and_resumes_the_task(
    app: App, paused: tuple[str, ScriptedLLM]
) -> None:
    task_id, llm = paused
    due_now(app, task_id)

    assert drive(lambda: expire_due(app)) == 1

    approval = approval_of(app, task_id)
    assert (approval.state, approval.reason, approval.decided_by) == (
        "expired",
        "expired",
        "timeout",
    )
    assert CALLS == []
    task = drive(lambda: TaskService(app).get(task_id))
    assert task.status.state == "completed"
    assert "denied by user: the approval request expired" in str(llm.requests[-1].messages)


def test_an_approval_before_its_deadline_stays_pending(
    app: App, paused: tuple[str, ScriptedLLM]
) -> None:
    task_id, llm = paused

    assert drive(lambda: expire_due(app)) == 0

    assert approval_of(app, task_id).state == "pending"
    assert drive(lambda: TaskService(app).get(task_id)).status.state == "input-required"
    assert len(llm.requests) == 1


def test_the_periodic_job_visits_every_app(app: App, paused: tuple[str, ScriptedLLM]) -> None:
    task_id, _ = paused
    due_now(app, task_id)

    jobs.expire()

    assert approval_of(app, task_id).state == "expired"
    assert drive(lambda: TaskService(app).get(task_id)).status.state == "completed"
    schedule = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert "hector.approvals.expire" in schedule
