"""The Django admin (/studio/admin/): tasks with their checkpoints, the DLQ and its requeue."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.tasks import operations, rows
from apps.tasks.models import Task as TaskRow
from tests.apps.tasks.test_queue_api import _dead, _task

pytestmark = pytest.mark.django_db


@pytest.fixture
def studio(anon_client: Client, admin_secret: str) -> Client:
    assert anon_client.post("/studio/login/", {"secret": admin_secret}).status_code == 302
    return anon_client


@pytest.fixture
def default_app() -> object:
    from apps.tenancy.models import App

    return App.objects.get(pk="default")


def test_dlq_lists_dead_letters_and_requeues_them(
    studio: Client, default_app: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations, "_run_in_background", lambda app, task_id: None)
    dead = _dead(default_app)  # type: ignore[arg-type]
    alive = _task(default_app)  # type: ignore[arg-type]

    listing = studio.get("/studio/admin/tasks/deadletter/")
    assert listing.status_code == 200
    assert dead.id.encode() in listing.content
    assert alive.id.encode() not in listing.content

    response = studio.post(
        "/studio/admin/tasks/deadletter/",
        {"action": "requeue", "_selected_action": [dead.id]},
    )

    assert response.status_code == 302
    with schema_context("public"), schema_context(default_app.schema_name):  # type: ignore[attr-defined]
        row = TaskRow.objects.get(pk=dead.id)
    assert (row.state, row.attempts, row.dead_lettered_at) == ("submitted", 0, None)


def test_a_task_shows_its_checkpoints(studio: Client, default_app: object) -> None:
    task = _task(default_app)  # type: ignore[arg-type]
    with schema_context(default_app.schema_name):  # type: ignore[attr-defined]
        rows.save_checkpoint(task.id, kind="llm_turn", snapshot={"pending_tool_calls": ["c-77"]})

    page = studio.get(f"/studio/admin/tasks/task/{task.id}/change/")

    assert page.status_code == 200
    assert b"llm_turn" in page.content
    assert b"c-77" in page.content
