"""Push notification configs through `TaskService`, and the hand-off to `apps.tasks.push`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from agents.tasks import InvalidParams, PushConfig, Task, TaskNotFound
from apps.tasks import push
from apps.tasks.runtime import override_runtime
from apps.tasks.service import TaskService
from apps.tenancy.models import App
from tests.apps.tasks.helpers import drive, user_message
from tests.fakes.script import Reply, Script
from tests.fakes.scripted_llm import ScriptedLLM

pytestmark = pytest.mark.django_db

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def notified(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[tuple[Task, list[PushConfig]]]:
    """What the service handed to `push.notify` (nothing is POSTed)."""
    settings.HECTOR_PUSH_ALLOWED_HOSTS = ["127.0.0.1"]
    calls: list[tuple[Task, list[PushConfig]]] = []

    async def notify(
        task: Task, configs: Sequence[PushConfig], *, app_id: str | None = None
    ) -> None:
        calls.append((task, list(configs)))

    monkeypatch.setattr(push, "notify", notify)
    return calls


@pytest.fixture
def service(task_app: App) -> Iterator[TaskService]:
    llm = ScriptedLLM(Script.of(default=Reply(text="ok")))
    with override_runtime(task_app.id, llms={"default": llm}):
        yield TaskService(task_app)


def config(url: str = HOOK, **fields: Any) -> PushConfig:
    return PushConfig(**{"id": "", "task_id": "", "url": url, **fields})


def test_set_get_list_delete(service: TaskService, notified: list[Any]) -> None:
    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))

    generated = drive(lambda: service.set_push_config(task.id, config(token="t0k")))
    named = drive(lambda: service.set_push_config(task.id, config(id="mine", wire_version="1.0")))

    assert generated.id
    assert generated.task_id == task.id
    assert generated.token == "t0k"
    assert drive(lambda: service.get_push_config(task.id, "mine")) == named
    assert drive(lambda: service.get_push_config(task.id)) == generated  # the first one
    assert drive(lambda: service.list_push_configs(task.id)) == (generated, named)
    drive(lambda: service.delete_push_config(task.id, "mine"))
    drive(lambda: service.delete_push_config(task.id, "mine"))  # gone already: no error
    assert drive(lambda: service.list_push_configs(task.id)) == (generated,)
    with pytest.raises(InvalidParams):
        drive(lambda: service.get_push_config(task.id, "mine"))


def test_setting_the_same_id_replaces_the_config(service: TaskService, notified: list[Any]) -> None:
    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))

    drive(lambda: service.set_push_config(task.id, config(id="c", token="old")))
    drive(lambda: service.set_push_config(task.id, config(id="c", token="new")))

    assert [c.token for c in drive(lambda: service.list_push_configs(task.id))] == ["new"]


def test_configs_of_unknown_or_foreign_tasks_are_not_found(
    service: TaskService, notified: list[Any]
) -> None:
    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))

    with pytest.raises(TaskNotFound):
        drive(lambda: service.set_push_config("no-such-task", config()))
    with pytest.raises(TaskNotFound):
        drive(lambda: service.list_push_configs(task.id, user_id="bob"))


def test_a_url_the_ssrf_policy_refuses_is_invalid(
    service: TaskService, notified: list[Any]
) -> None:
    task = drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))

    with pytest.raises(InvalidParams) as error:
        drive(lambda: service.set_push_config(task.id, config(url="http://169.254.169.254/x")))

    assert error.value.data == {"fields": ["url"]}
    assert drive(lambda: service.list_push_configs(task.id)) == ()


def test_a_config_given_at_send_is_notified_when_the_task_completes(
    service: TaskService, notified: list[tuple[Task, list[PushConfig]]]
) -> None:
    task = drive(
        lambda: service.send(
            agent="assistant",
            user_id="ann",
            message=user_message(),
            push_config=config(token="s3cret"),
            wire_version="1.0",
        )
    )

    assert len(notified) == 1
    sent, configs = notified[0]
    assert sent.id == task.id
    assert sent.status.state == "completed"
    assert [(c.url, c.token, c.wire_version, c.task_id) for c in configs] == [
        (HOOK, "s3cret", "1.0", task.id)
    ]


def test_a_task_without_configs_notifies_nobody(service: TaskService, notified: list[Any]) -> None:
    drive(lambda: service.send(agent="assistant", user_id="ann", message=user_message()))

    assert notified == []
