"""Config editor: a save is a validated new revision; invalid YAML never becomes one and is shown
at its line; the server block is refused; diff and rollback between revisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from django.test import Client
from django_tenants.utils import schema_context

from apps.configs.models import Agent, ConfigRevision
from apps.studio.config_views import anchors
from apps.tenancy.models import App
from tests.apps.studio.conftest import STUDIO_CONFIG

VALID = """\
llms:
  default: {provider: ollama, model: qwen3}
agents:
  helper:
    llm: default
    instruction: |
      Help kindly.
      Be brief.
"""

UNKNOWN_LLM = """\
llms:
  default: {provider: ollama}
agents:
  helper:
    llm: gpt5
"""


def revisions(app: App) -> list[int]:
    with schema_context(app.schema_name):
        return list(ConfigRevision.objects.order_by("number").values_list("number", flat=True))


def revision(app: App, number: int) -> tuple[str, str]:
    with schema_context(app.schema_name):
        latest = ConfigRevision.objects.get(number=number)
    return latest.source, latest.comment


def agent_names(app: App) -> list[str]:
    with schema_context(app.schema_name):
        return sorted(Agent.objects.values_list("name", flat=True))


def test_editor_shows_the_active_config_as_yaml(selected: Client, app: App) -> None:
    response = selected.get("/studio/config/")
    assert response.status_code == 200
    assert yaml.safe_load(response.context["text"]) == STUDIO_CONFIG
    assert response.context["editor"]["anchors"]["agents.helper"] > 1


def test_save_stores_a_new_revision_the_runtime_uses(selected: Client, app: App) -> None:
    response = selected.post("/studio/config/", {"config": VALID, "comment": "shorter"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.active_revision == 2
    assert (
        json.loads(app.config_json)["agents"]["helper"]["instruction"]
        == "Help kindly.\nBe brief.\n"
    )
    assert revision(app, 2) == ("studio", "shorter")
    assert agent_names(app) == ["helper"]
    page = selected.get("/studio/config/")
    assert b"Saved revision 2" in page.content


def test_yaml_syntax_error_is_shown_at_its_line_and_not_stored(selected: Client, app: App) -> None:
    response = selected.post("/studio/config/", {"config": "agents:\n  a: [1, 2\n"})
    assert response.status_code == 400
    [issue] = response.context["issues"]
    assert issue["line"] == 3
    assert "invalid YAML" in issue["message"]
    assert response.context["text"] == "agents:\n  a: [1, 2\n"  # the user's text comes back
    assert revisions(app) == [1]


def test_schema_error_names_path_line_and_column(selected: Client, app: App) -> None:
    response = selected.post("/studio/config/", {"config": UNKNOWN_LLM})
    assert response.status_code == 400
    issue = response.context["issues"][0]
    assert issue["path"] == "agents.helper.llm"
    assert (issue["line"], issue["column"]) == (5, 5)
    assert 'unknown llm "gpt5"' in issue["message"]
    assert b"line 5:5" in response.content
    assert revisions(app) == [1]


def test_server_block_edits_are_refused(selected: Client, app: App) -> None:
    response = selected.post("/studio/config/", {"config": VALID + "server:\n  port: 9999\n"})
    assert response.status_code == 403
    assert b"server block is file-only" in response.content
    assert revisions(app) == [1]


def test_validate_endpoint_reports_errors_without_saving(selected: Client, app: App) -> None:
    response = selected.post(
        "/studio/config/validate/",
        json.dumps({"config": UNKNOWN_LLM}),
        content_type="application/json",
    )
    body = response.json()
    assert body["valid"] is False
    assert body["errors"][0]["line"] == 5
    ok = selected.post(
        "/studio/config/validate/", json.dumps({"config": VALID}), content_type="application/json"
    ).json()
    assert ok["valid"] is True
    assert ok["anchors"]["agents.helper"] == 4
    assert revisions(app) == [1]


def test_diff_between_revisions(selected: Client) -> None:
    selected.post("/studio/config/", {"config": VALID})
    response = selected.get("/studio/config/diff/?from=1&to=2")
    assert response.status_code == 200
    kinds = {kind for kind, _line in response.context["rows"]}
    assert {"add", "del", "hunk"} <= kinds
    added = [line for kind, line in response.context["rows"] if kind == "add"]
    assert "+    instruction: |" in added
    assert selected.get("/studio/config/diff/?from=9&to=2").status_code == 404


def test_rollback_makes_an_earlier_config_active_as_a_new_revision(
    selected: Client, app: App
) -> None:
    selected.post("/studio/config/", {"config": VALID})
    response = selected.post("/studio/config/revisions/1/rollback/", follow=True)
    assert b"Rolled back to revision 1" in response.content
    app.refresh_from_db()
    assert app.active_revision == 3
    assert json.loads(app.config_json) == STUDIO_CONFIG
    assert revision(app, 3) == ("rollback", "rollback to revision 1")
    assert agent_names(app) == ["helper", "writer"]


def test_revision_page_shows_its_yaml(selected: Client) -> None:
    response = selected.get("/studio/config/revisions/1/")
    assert response.status_code == 200
    assert yaml.safe_load(response.context["text"]) == STUDIO_CONFIG
    assert selected.get("/studio/config/revisions/42/").status_code == 404


def test_default_app_edits_are_written_back_to_its_file(
    studio: Client, tmp_path: Path, settings: pytest.FixtureRequest
) -> None:
    config_file = tmp_path / "config.yaml"
    default = App.objects.get(pk="default")
    original = yaml.safe_dump(json.loads(default.config_json))
    config_file.write_text("# my comment\n" + original)
    settings.HECTOR_CONFIG = str(config_file)  # type: ignore[attr-defined]

    page = studio.get("/studio/config/")
    assert page.context["text"].startswith("# my comment")  # the file itself, comments kept

    edited = "# my comment\n" + VALID
    assert studio.post("/studio/config/", {"config": edited}).status_code == 302
    assert config_file.read_text() == edited


def test_anchors_map_sections_and_entries_to_lines() -> None:
    assert anchors(VALID) == {"llms": 1, "llms.default": 2, "agents": 3, "agents.helper": 4}
    assert anchors("a: [") == {}
