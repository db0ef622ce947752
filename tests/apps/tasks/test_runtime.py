"""`runner_for`: one Runner per app revision per process; a new revision replaces it."""

from __future__ import annotations

import pytest

from apps.tasks.runtime import override_runtime, runner_for
from apps.tenancy.models import App
from apps.tenancy.services import update_app
from tests.apps.tasks.conftest import app_config
from tests.fakes.script import Reply
from tests.fakes.scripted_llm import ScriptedLLM

pytestmark = pytest.mark.django_db


def test_the_runner_is_reused_until_the_revision_changes(task_app: App) -> None:
    first = runner_for(task_app)

    assert runner_for(App.objects.get(pk=task_app.id)) is first
    config = app_config()
    config["agents"]["assistant"]["instruction"] = "Be terse."
    updated = update_app(app_id=task_app.id, config=config)

    assert updated.active_revision != task_app.active_revision
    second = runner_for(updated)
    assert second is not first
    assert second.config.agents["assistant"].instruction == "Be terse."
    assert runner_for(updated) is second


def test_runners_use_the_apps_own_session_store(task_app: App, other_app: App) -> None:
    mine, theirs = runner_for(task_app), runner_for(other_app)

    assert mine.sessions.schema == task_app.schema_name  # type: ignore[attr-defined]
    assert theirs.sessions.schema == other_app.schema_name  # type: ignore[attr-defined]


def test_override_runtime_hands_the_runner_given_llms(task_app: App) -> None:
    llm = ScriptedLLM([Reply(text="hi")])

    with override_runtime(task_app.id, llms={"default": llm}):
        runner = runner_for(task_app)
        assert runner._given_llms == {"default": llm}

    assert runner_for(task_app) is not runner
