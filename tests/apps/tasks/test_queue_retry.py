"""Retry policy (SPEC 8): retryable failures back off and retry, the last one dead-letters with
its reason, non-retryable ones fail at once. Local dispatch (no workers): the same row rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from agents.tasks import Task
from apps.tasks import metrics
from apps.tasks.models import Task as TaskRow
from apps.tasks.queue import RetryPolicy, policy_for
from apps.tasks.runtime import override_runtime
from apps.tasks.service import TaskService
from apps.tenancy.models import App
from tests.apps.tasks.conftest import _committed_app
from tests.apps.tasks.helpers import PAUSE, GatedLLM, drive, eventually, text_turn, user_message
from tests.fakes.script import Failure, Reply
from tests.fakes.scripted_llm import ScriptedLLM

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def retry_app(task_bus: None, django_db_blocker: Any) -> Iterator[App]:
    config = {
        "llms": {"default": {"provider": "ollama", "base_url": "http://127.0.0.1:9"}},
        "agents": {
            "flaky": {
                "llm": "default",
                "retry": {"max_retries": 2, "initial_delay": "20ms", "max_delay": "50ms"},
            },
            "plain": {"llm": "default"},
        },
    }
    yield from _committed_app(django_db_blocker, "queue-retry", config)


def _row(app: App, task_id: str) -> TaskRow:
    from django_tenants.utils import schema_context

    with schema_context(app.schema_name):
        return TaskRow.objects.get(pk=task_id)


def test_delays_grow_by_the_factor_up_to_the_cap_with_jitter() -> None:
    policy = RetryPolicy(initial_delay_s=1.0, max_delay_s=5.0, backoff_factor=2.0, jitter=0.2)

    delays = [policy.delay_s(n) for n in (1, 2, 3, 4, 5)]

    for delay, base in zip(delays, (1, 2, 4, 5, 5), strict=True):
        assert base * 0.8 <= delay <= base * 1.2


def test_an_agent_s_retry_keys_override_the_server_defaults(retry_app: App) -> None:
    flaky, plain = policy_for(retry_app, "flaky"), policy_for(retry_app, "plain")

    assert (flaky.max_retries, flaky.initial_delay_s, flaky.max_delay_s) == (2, 0.02, 0.05)
    assert (plain.max_retries, plain.initial_delay_s, plain.max_delay_s) == (3, 1.0, 300.0)


def test_a_retryable_failure_is_retried_and_the_task_completes(retry_app: App) -> None:
    llm = ScriptedLLM([Failure(503, "overloaded"), Reply(text="second time lucky")])
    before = metrics._retries.labels(retry_app.id, "flaky")._value.get()

    with override_runtime(retry_app.id, llms={"default": llm}):
        task = drive(
            lambda: TaskService(retry_app).send(agent="flaky", user_id="u", message=user_message())
        )

    row = _row(retry_app, task.id)
    assert task.status.state == "completed"
    assert (row.attempts, row.dead_lettered_at) == (2, None)
    assert "overloaded" in row.last_error  # the failed attempt stays on record
    assert metrics._retries.labels(retry_app.id, "flaky")._value.get() == before + 1
    assert sum(1 for r in llm.requests[-1].messages if r.role == "user") == 1  # resumed


def test_the_last_failed_attempt_dead_letters_with_its_reason(retry_app: App) -> None:
    llm = ScriptedLLM([Failure(500, "boom")] * 3)
    service = TaskService(retry_app)
    before = metrics.dead_letter_count(retry_app.id, "flaky")

    async def scenario() -> Task:
        sent = await service.send(
            agent="flaky", user_id="u", message=user_message(), blocking=False
        )

        async def failed() -> bool:
            return (await service.get(sent.id)).status.state == "failed"

        await eventually(failed)
        return await service.get(sent.id)

    with override_runtime(retry_app.id, llms={"default": llm}):
        task = drive(scenario)

    row = _row(retry_app, task.id)
    assert row.attempts == 3  # max_retries 2: three attempts in all
    assert row.dead_lettered_at is not None
    assert "500" in row.last_error
    assert row.dead_letter_reason.startswith("failed after 3 attempt(s)")
    assert "boom" in row.dead_letter_reason
    assert len(llm.requests) == 3
    assert metrics.dead_letter_count(retry_app.id, "flaky") == before + 1


def test_a_non_retryable_failure_fails_at_once(retry_app: App) -> None:
    llm = ScriptedLLM([Failure(400, "bad request"), Reply(text="never")])

    with override_runtime(retry_app.id, llms={"default": llm}):
        task = drive(
            lambda: TaskService(retry_app).send(agent="flaky", user_id="u", message=user_message())
        )

    row = _row(retry_app, task.id)
    assert task.status.state == "failed"
    assert (row.attempts, row.dead_lettered_at, len(llm.requests)) == (1, None, 1)


def test_a_run_past_its_deadline_is_dead_lettered(retry_app: App) -> None:
    llm = GatedLLM([[PAUSE, *text_turn("too late")]])
    service = TaskService(retry_app)
    deadline = (timezone.now() + timedelta(milliseconds=300)).isoformat()

    async def scenario() -> Task:
        sent = await service.send(
            agent="plain",
            user_id="u",
            message=user_message(),
            blocking=False,
            metadata={"deadline": deadline},
        )

        async def failed() -> bool:
            return (await service.get(sent.id)).status.state == "failed"

        await eventually(failed)
        llm.resume()
        return await service.get(sent.id)

    with override_runtime(retry_app.id, llms={"default": llm}):
        task = drive(scenario)

    row = _row(retry_app, task.id)
    assert row.deadline_at is not None
    assert row.dead_letter_reason == "task deadline exceeded"
