"""What the approvals tests share: an app whose `ops` agent needs approval to `deploy`, and a
task of it waiting for that approval (the bus's connections close before the database drops)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.approvals.models import Approval
from apps.tasks.runtime import override_runtime
from apps.tasks.service import TaskService
from apps.tenancy.models import App
from tests.apps.tasks.conftest import task_bus
from tests.apps.tasks.helpers import drive, user_message
from tests.factories import make_app
from tests.fakes.deploy import DEPLOYED as CALLS
from tests.fakes.deploy import deploy
from tests.fakes.script import Reply, ScriptedToolCall
from tests.fakes.scripted_llm import ScriptedLLM

__all__ = ["task_bus"]


CONFIG: dict[str, Any] = {
    "llms": {"default": {"provider": "ollama", "model": "qwen3", "base_url": "http://127.0.0.1:9"}},
    "agents": {"ops": {"llm": "default", "instruction": "Operate.", "tools": ["deploy"]}},
    "tools": {"deploy": {"type": "function", "handler": "deploy", "require_approval": True}},
}


@pytest.fixture
def app(db: None, task_bus: None) -> App:
    created, _ = make_app(name="approvals", app_id="approvals-admin", config=CONFIG)
    return created


@pytest.fixture
def paused(app: App) -> Iterator[tuple[str, ScriptedLLM]]:
    """A task of `app` waiting for approval of `deploy(prod)`."""
    CALLS.clear()
    call = ScriptedToolCall("deploy", {"target": "prod"}, "c1")
    llm = ScriptedLLM([Reply(tool_calls=[call]), Reply(text="deployed, all good")])
    with override_runtime(app.id, llms={"default": llm}, tools={"deploy": deploy}):
        task = drive(
            lambda: TaskService(app).send(agent="ops", user_id="alice", message=user_message("go"))
        )
        assert task.status.state == "input-required"
        yield task.id, llm


def approval_of(app: App, task_id: str) -> Approval:
    with schema_context(app.schema_name):
        return Approval.objects.get(task_id=task_id)
