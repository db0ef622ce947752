"""POST /admin/reload: the default app follows its config file on demand."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from apps.tenancy.models import App
from tests.factories import make_app, token_client

VALID = "llms:\n  default: {provider: ollama}\nagents:\n  fresh: {llm: default}\n"


@pytest.fixture
def config_file(tmp_path: Path, settings: Any) -> Path:
    path = tmp_path / "config.yaml"
    settings.HECTOR_CONFIG = str(path)
    return path


def reload(client: Client, body: object | None = None) -> Any:
    data = json.dumps(body) if body is not None else ""
    return client.post("/admin/reload", data=data, content_type="application/json")


def test_valid_file_becomes_a_new_revision(admin_client: Client, config_file: Path) -> None:
    before = App.objects.get(pk="default").active_revision
    config_file.write_text(VALID)
    response = reload(admin_client)
    assert response.status_code == 200
    assert response.json()["status"] == "reloaded"
    default = App.objects.get(pk="default")
    assert default.active_revision == before + 1
    assert "fresh" in json.loads(default.config_json)["agents"]
    assert reload(admin_client).json()["status"] == "unchanged"


def test_invalid_file_keeps_the_running_config(admin_client: Client, config_file: Path) -> None:
    before = App.objects.get(pk="default").config_json
    config_file.write_text("agents:\n  broken:\n    llm: nope\n")
    response = reload(admin_client)
    assert response.status_code == 400
    assert "config.yaml:3:5: agents.broken.llm" in response.json()["error"]
    assert App.objects.get(pk="default").config_json == before


def test_env_values_apply_before_interpolation(admin_client: Client, config_file: Path) -> None:
    config_file.write_text(
        VALID.replace("{llm: default}", "{llm: default, instruction: ${GREETING}}")
    )
    response = reload(admin_client, {"env": {"GREETING": "Hello"}})
    assert response.status_code == 200
    os.environ.pop("GREETING", None)


@pytest.mark.parametrize("body", [{"env": 5}, {"env": {"A": 1}}, [1]])
def test_bad_body_is_400(admin_client: Client, config_file: Path, body: object) -> None:
    assert reload(admin_client, body).status_code == 400


def test_app_tokens_cannot_reload(config_file: Path, db: None) -> None:
    _, token = make_app()
    assert reload(token_client(token)).status_code == 403
