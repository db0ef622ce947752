"""Approvals decided in the Django admin (SPEC 8): the action records who decided, and the task
waiting for the decision resumes through the same path as a client's answer."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.tasks.service import TaskService
from apps.tenancy.models import App
from tests.apps.approvals.conftest import CALLS, approval_of
from tests.apps.tasks.helpers import drive
from tests.fakes.scripted_llm import ScriptedLLM


@pytest.fixture
def studio(anon_client: Client, admin_secret: str, app: App) -> Client:
    assert anon_client.post("/studio/login/", {"secret": admin_secret}).status_code == 302
    assert anon_client.post("/studio/apps/select/", {"app": app.id}).status_code == 302
    return anon_client


def act(studio: Client, action: str, *ids: str) -> Any:
    return studio.post(
        "/studio/admin/approvals/approval/",
        {"action": action, "_selected_action": list(ids)},
        follow=True,
    )


def test_the_changelist_shows_the_pending_request(
    studio: Client, paused: tuple[str, ScriptedLLM]
) -> None:
    response = studio.get("/studio/admin/approvals/approval/?state__exact=pending")
    assert response.status_code == 200
    assert b"deploy" in response.content


def test_approve_in_the_admin_resumes_the_task(
    studio: Client, app: App, paused: tuple[str, ScriptedLLM]
) -> None:
    task_id, _ = paused
    approval = approval_of(app, task_id)
    response = act(studio, "approve", approval.id)
    assert response.status_code == 200
    assert b"1 approved." in response.content
    approval = approval_of(app, task_id)
    assert approval.state == "approved"
    assert approval.decided_by.startswith("admin:")
    assert CALLS == ["prod"]
    task = drive(lambda: TaskService(app).get(task_id))
    assert task.status.state == "completed"
    # The nudge is in the task history, naming the decision.
    assert task.history[-2].parts[0].data["decision"] == "approve"  # type: ignore[union-attr]


def test_deny_in_the_admin_never_runs_the_tool(
    studio: Client, app: App, paused: tuple[str, ScriptedLLM]
) -> None:
    task_id, llm = paused
    approval = approval_of(app, task_id)
    act(studio, "deny", approval.id)
    approval = approval_of(app, task_id)
    assert approval.state == "denied"
    assert CALLS == []
    assert drive(lambda: TaskService(app).get(task_id)).status.state == "completed"
    assert "denied by user" in str(llm.requests[-1].messages)


def test_a_decided_row_is_skipped(
    studio: Client, app: App, paused: tuple[str, ScriptedLLM]
) -> None:
    task_id, _ = paused
    approval = approval_of(app, task_id)
    act(studio, "approve", approval.id)
    response = act(studio, "deny", approval.id)
    assert b"0 denied." in response.content
    assert b"1 skipped" in response.content
    approval = approval_of(app, task_id)
    assert approval.state == "approved"
    assert CALLS == ["prod"]


def test_history_cannot_be_edited_or_deleted(
    studio: Client, app: App, paused: tuple[str, ScriptedLLM]
) -> None:
    task_id, _ = paused
    approval = approval_of(app, task_id)
    page = studio.get(f"/studio/admin/approvals/approval/{approval.id}/change/")
    assert page.status_code == 200
    assert b'name="state"' not in page.content  # read-only
    assert studio.get("/studio/admin/approvals/approval/add/").status_code == 403
    delete = studio.get(f"/studio/admin/approvals/approval/{approval.id}/delete/")
    assert delete.status_code == 403
