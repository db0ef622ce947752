"""Queue Admin API: /admin/queue/stats, /admin/queue/dlq, /admin/queue/dlq/{id}/requeue."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.tasks import operations
from apps.tasks.models import Task as TaskRow
from apps.tasks.models import TaskState
from apps.tenancy.models import App
from tests.factories import make_app, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_background_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """A requeue starts a run; here the rows are what is tested."""
    started: list[tuple[str, str]] = []
    monkeypatch.setattr(
        operations, "_run_in_background", lambda app, task_id: started.append((app.id, task_id))
    )
    return started


def _task(app: App, *, agent: str = "assistant", **fields: Any) -> TaskRow:
    now = timezone.now()
    values: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "context_id": uuid.uuid4().hex,
        "agent": agent,
        "user_id": "ann",
        "state": TaskState.SUBMITTED,
        "status_timestamp": now,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    with schema_context(app.schema_name):
        return TaskRow.objects.create(**values)


def _dead(app: App, *, agent: str = "assistant", minutes_ago: int = 0) -> TaskRow:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return _task(
        app,
        agent=agent,
        state=TaskState.FAILED,
        attempts=4,
        last_error="ollama 500: boom",
        dead_lettered_at=at,
        dead_letter_reason="failed after 4 attempt(s): ollama 500: boom",
    )


def test_stats_count_queue_states_per_app(admin_client: Client, task_app: App) -> None:
    _task(task_app, queued_at=timezone.now() - timedelta(seconds=30))
    _task(task_app, state=TaskState.WORKING, lease_owner="w1")
    _task(task_app, state=TaskState.COMPLETED, attempts=2)
    _dead(task_app)

    response = admin_client.get("/admin/queue/stats", {"app_id": task_app.id})

    assert response.status_code == 200
    body = response.json()
    (entry,) = body["apps"]
    assert entry["app"] == task_app.id
    assert entry["queue"] == {"pending": 1, "processing": 1, "dead_letter": 1, "retrying": 0}
    assert entry["states"]["completed"] == 1
    assert entry["retries"] == 1 + 3  # attempts past the first
    assert 29 <= entry["oldest_waiting_age_s"] < 60
    assert entry["throughput"]["completed"] == 1
    assert body["dead_letter"] == 1


def test_stats_without_app_id_cover_every_app(admin_client: Client, task_app: App) -> None:
    body = admin_client.get("/admin/queue/stats").json()

    assert {"default", task_app.id} <= {entry["app"] for entry in body["apps"]}
    assert set(body) >= {"totals", "retries", "dead_letter", "oldest_waiting_age_s", "throughput"}


def test_dlq_lists_dead_letters_newest_first_with_their_reason(
    admin_client: Client, task_app: App
) -> None:
    old, new = _dead(task_app, minutes_ago=5), _dead(task_app)
    _task(task_app, state=TaskState.FAILED)  # failed, not dead-lettered

    body = admin_client.get("/admin/queue/dlq", {"app_id": task_app.id}).json()

    assert [e["id"] for e in body["dead_letters"]] == [new.id, old.id]
    assert body["dead_letters"][0]["reason"] == "failed after 4 attempt(s): ollama 500: boom"
    assert body["dead_letters"][0]["app"] == task_app.id
    assert body["next_page_token"] == ""


def test_dlq_pages_and_filters_by_agent(admin_client: Client, task_app: App) -> None:
    ids = [_dead(task_app, agent="toolbox", minutes_ago=m).id for m in (1, 2, 3)]
    _dead(task_app, agent="assistant")
    query = {"app_id": task_app.id, "agent": "toolbox", "page_size": 2}

    first = admin_client.get("/admin/queue/dlq", query).json()
    second = admin_client.get(
        "/admin/queue/dlq", {**query, "page_token": first["next_page_token"]}
    ).json()

    assert [e["id"] for e in first["dead_letters"] + second["dead_letters"]] == ids
    assert second["next_page_token"] == ""


def test_dlq_rejects_a_bad_page_size(admin_client: Client) -> None:
    response = admin_client.get("/admin/queue/dlq", {"page_size": 0})

    assert response.status_code == 400
    assert response.json() == {"error": "page_size must be an integer between 1 and 100"}


def test_requeue_resets_attempts_and_keeps_the_history(
    admin_client: Client, task_app: App, no_background_runs: list[tuple[str, str]]
) -> None:
    dead = _dead(task_app)

    response = admin_client.post(f"/admin/queue/dlq/{dead.id}/requeue?app_id={task_app.id}")

    assert response.status_code == 200
    assert response.json()["task"]["state"] == "submitted"
    with schema_context(task_app.schema_name):
        row = TaskRow.objects.get(pk=dead.id)
    assert (row.state, row.attempts, row.dead_lettered_at) == ("submitted", 0, None)
    assert row.last_error == "ollama 500: boom"  # history kept
    assert no_background_runs == [(task_app.id, dead.id)]


def test_requeue_of_an_unknown_task_is_404(admin_client: Client, task_app: App) -> None:
    response = admin_client.post(f"/admin/queue/dlq/nope/requeue?app_id={task_app.id}")

    assert response.status_code == 404
    assert response.json() == {"error": "Task not found"}


def test_requeue_of_a_task_not_in_the_dlq_is_409(admin_client: Client, task_app: App) -> None:
    done = _task(task_app, state=TaskState.COMPLETED)

    response = admin_client.post(f"/admin/queue/dlq/{done.id}/requeue?app_id={task_app.id}")

    assert response.status_code == 409
    assert response.json() == {"error": "Task is not in the dead-letter queue (state completed)"}


def test_another_app_s_task_is_not_found(admin_client: Client, task_app: App) -> None:
    dead = _dead(task_app)

    response = admin_client.post(f"/admin/queue/dlq/{dead.id}/requeue")  # the default app

    assert response.status_code == 404


def test_queue_routes_need_the_admin_secret(anon_client: Client) -> None:
    _, token = make_app(name="queue peeker")

    assert anon_client.get("/admin/queue/stats").status_code == 401
    assert token_client(token).get("/admin/queue/dlq").status_code == 403
    assert token_client(token).post("/admin/queue/dlq/x/requeue").status_code == 403


def test_queue_depth_metric_reads_the_rows(task_app: App) -> None:
    from apps.tasks.metrics import QueueDepthCollector

    _task(task_app)
    _dead(task_app)

    (family,) = list(QueueDepthCollector().collect())

    samples = {(s.labels["app"], s.labels["state"]): s.value for s in family.samples}
    assert samples[(task_app.id, "pending")] == 1
    assert samples[(task_app.id, "dead_letter")] == 1
