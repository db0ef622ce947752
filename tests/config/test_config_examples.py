"""The example configs validate, and so does the committed JSON Schema (SPEC 1.5, AC 2.c)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agents.config_loader import load_config_file
from agents.config_schema import SCHEMA_ID, SCHEMA_TITLE, config_json_schema, config_schema_text
from agents.config_yaml import parse_yaml
from tests.config.helpers import FIXTURE_ENV, FIXTURES

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "agents" / "config.schema.json"
EXAMPLES = sorted(FIXTURES.glob("*.yaml"))


def test_there_are_examples_for_every_area() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"minimal", "multi_agent", "tools", "rag", "guardrails", "automation"} <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_config_loads(example: Path) -> None:
    loaded = load_config_file(example, env=FIXTURE_ENV)
    assert loaded.config.agents, "every example defines agents"
    assert loaded.source == str(example)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_config_matches_the_json_schema(example: Path) -> None:
    document = parse_yaml(example.read_text()).data
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA_FILE.read_text()))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []


def test_committed_schema_is_current() -> None:
    committed = SCHEMA_FILE.read_text()
    assert committed == config_schema_text(), (
        "agents/config.schema.json is stale; regenerate it with "
        "`python -m agents.config_schema > agents/config.schema.json`"
    )


def test_schema_header_is_draft_07_with_the_documented_id_and_title() -> None:
    schema = config_json_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["$id"] == SCHEMA_ID == "https://hector.dev/schemas/config.json"
    assert schema["title"] == SCHEMA_TITLE == "Hector Configuration Schema"
    assert {"agents", "llms", "tools", "guardrails", "document_stores"} <= set(schema["properties"])


def _objects(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            found.append(node)
        for value in node.values():
            found += _objects(value)
    elif isinstance(node, list):
        for value in node:
            found += _objects(value)
    return found


def test_every_schema_object_closes_its_properties() -> None:
    objects = _objects(config_json_schema())
    assert len(objects) > 50
    for obj in objects:
        if "properties" in obj:
            assert obj["additionalProperties"] is False, obj.get("title")
        else:  # a map keyed by user-chosen names: its values are described instead
            assert "additionalProperties" in obj, obj


def test_schema_rejects_unknown_keys_like_the_loader() -> None:
    validator = jsonschema.Draft7Validator(config_json_schema())
    assert not validator.is_valid({"agnets": {}})
    assert not validator.is_valid({"agents": {"a": {"instrucion": "typo"}}})
    assert not validator.is_valid({"agents": {"-bad": {}}})
    assert validator.is_valid({"agents": {"a": {"instruction": "ok"}}})


def test_schema_command_output_is_compact_json() -> None:
    compact = config_schema_text(compact=True)
    assert "\n" not in compact
    assert '"title":"Hector Configuration Schema"' in compact
