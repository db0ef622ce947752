"""`TaskService.get` and `list`: filters, pagination, and the user and app boundaries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context

from agents.tasks import InvalidParams, Task, TaskNotFound
from apps.tasks.models import Task as TaskRow
from apps.tasks.runtime import override_runtime
from apps.tasks.service import TaskService
from apps.tenancy.models import App
from tests.apps.tasks.helpers import drive, user_message
from tests.fakes.script import Reply, Script
from tests.fakes.scripted_llm import ScriptedLLM

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(task_app: App) -> Iterator[TaskService]:
    llm = ScriptedLLM(Script.of(default=Reply(text="ok")))
    with override_runtime(task_app.id, llms={"default": llm}):
        yield TaskService(task_app)


def send(service: TaskService, *, user_id: str = "ann", context_id: str | None = None) -> Task:
    message = user_message(context_id=context_id)
    return drive(lambda: service.send(agent="assistant", user_id=user_id, message=message))


def test_list_filters_by_context_state_and_user(service: TaskService, task_app: App) -> None:
    a1 = send(service, context_id="ctx-a")
    a2 = send(service, context_id="ctx-a")
    b1 = send(service, context_id="ctx-b")
    bob = send(service, user_id="bob")
    with schema_context(task_app.schema_name):
        TaskRow.objects.filter(pk=b1.id).update(state="failed")

    by_context = drive(lambda: service.list(user_id="ann", context_id="ctx-a"))
    failed = drive(lambda: service.list(user_id="ann", state="failed"))
    anns = drive(lambda: service.list(user_id="ann"))
    everyone = drive(lambda: service.list())

    assert [t.id for t in by_context.tasks] == [a2.id, a1.id]  # most recently updated first
    assert by_context.total_size == 2
    assert [t.id for t in failed.tasks] == [b1.id]
    assert bob.id not in {t.id for t in anns.tasks}
    assert {a1.id, a2.id, b1.id, bob.id} <= {t.id for t in everyone.tasks}


def test_list_pages_through_every_task_once(service: TaskService) -> None:
    sent = [send(service, context_id="paged") for _ in range(5)]

    pages, token = [], None
    while True:
        page = drive(
            lambda token=token: service.list(context_id="paged", page_size=2, page_token=token)
        )
        pages.append(page)
        token = page.next_page_token
        if not token:
            break

    assert [len(p.tasks) for p in pages] == [2, 2, 1]
    assert {p.total_size for p in pages} == {5}
    assert [t.id for p in pages for t in p.tasks] == [t.id for t in reversed(sent)]


def test_list_leaves_out_artifacts_unless_asked_and_trims_history(service: TaskService) -> None:
    send(service, context_id="arts")

    plain = drive(lambda: service.list(context_id="arts", history_length=0))
    full = drive(lambda: service.list(context_id="arts", include_artifacts=True))

    assert plain.tasks[0].artifacts == ()
    assert plain.tasks[0].history == ()
    assert full.tasks[0].artifacts[0].artifact_id == "response"
    assert len(full.tasks[0].history) == 2


def test_list_after_a_time_shows_only_newer_updates(service: TaskService) -> None:
    old = send(service, context_id="times")
    new = send(service, context_id="times")
    assert old.updated_at is not None

    page = drive(lambda: service.list(context_id="times", last_updated_after=old.updated_at))

    assert [t.id for t in page.tasks] == [new.id]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"state": "sleeping"}, "status"),
        ({"page_size": 0}, "pageSize"),
        ({"page_size": 101}, "pageSize"),
        ({"page_token": "not a token"}, "pageToken"),
        ({"history_length": -1}, "historyLength"),
    ],
)
def test_list_rejects_bad_parameters(
    service: TaskService, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidParams) as error:
        drive(lambda: service.list(**kwargs))  # type: ignore[arg-type]

    assert error.value.code == -32602
    assert error.value.data["fields"] == [field]


def test_every_a2a_state_is_a_valid_filter(service: TaskService) -> None:
    for state in (
        "submitted",
        "working",
        "input-required",
        "auth-required",
        "completed",
        "canceled",
        "failed",
        "rejected",
        "unknown",
    ):
        drive(lambda state=state: service.list(state=state))


def test_another_users_task_is_not_found(service: TaskService) -> None:
    task = send(service, user_id="ann")

    assert drive(lambda: service.get(task.id, user_id="ann")).id == task.id
    with pytest.raises(TaskNotFound) as error:
        drive(lambda: service.get(task.id, user_id="bob"))
    assert error.value.code == -32001


def test_another_apps_task_is_not_found(service: TaskService, other_app: App) -> None:
    task = send(service)
    elsewhere = TaskService(other_app)

    with pytest.raises(TaskNotFound):
        drive(lambda: elsewhere.get(task.id))
    with pytest.raises(TaskNotFound):
        drive(lambda: elsewhere.cancel(task.id))
    assert drive(lambda: elsewhere.list()).total_size == 0
