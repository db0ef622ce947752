"""The config JSON Schema (``hector schema``, ``GET /schema``; SPEC 1.5, 2.6).

Generated from ``HectorConfig`` and committed as ``agents/config.schema.json``; a test fails
when the file is stale. Regenerate with::

    python -m agents.config_schema > agents/config.schema.json

Pydantic emits draft 2020-12 style references (``$defs``); they are rewritten to draft-07
``definitions`` so editors that only speak draft-07 (the Studio's, most IDE plugins) resolve
them. Every object with fixed properties forbids others; maps keyed by user-chosen names
(``agents``, ``llms``, ``headers``...) describe their values with ``additionalProperties``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from agents.config import AGENT_NAME_PATTERN, HectorConfig

__all__ = ["SCHEMA_ID", "SCHEMA_TITLE", "config_json_schema", "config_schema_text"]

SCHEMA_ID = "https://hector.dev/schemas/config.json"
SCHEMA_TITLE = "Hector Configuration Schema"
_DRAFT_07 = "http://json-schema.org/draft-07/schema#"


def _rewrite(node: Any) -> Any:
    """Draft-07 shape: ``definitions`` refs, no OpenAPI ``discriminator`` keyword, and
    ``additionalProperties: false`` on every object that lists its properties."""
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "discriminator":
            continue
        if key == "$ref" and isinstance(value, str):
            out[key] = value.replace("#/$defs/", "#/definitions/")
        else:
            out[key] = _rewrite(value)
    if "properties" in out:
        out.setdefault("type", "object")
        out["additionalProperties"] = False
    return out


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft-07) of a config document."""
    generated = HectorConfig.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
    definitions = generated.pop("$defs", {})
    body = _rewrite(generated)
    body.pop("title", None)
    agents = body["properties"]["agents"]
    agents["propertyNames"] = {"pattern": AGENT_NAME_PATTERN}
    return {
        "$schema": _DRAFT_07,
        "$id": SCHEMA_ID,
        "title": SCHEMA_TITLE,
        "type": "object",
        "properties": body["properties"],
        "additionalProperties": False,
        **{k: v for k, v in body.items() if k not in ("type", "properties")},
        "definitions": _rewrite(definitions),
    }


def config_schema_text(*, compact: bool = False) -> str:
    """The schema as printed by ``hector schema`` (``--compact``: one line)."""
    schema = config_json_schema()
    if compact:
        return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(config_schema_text(compact="--compact" in sys.argv[1:]))
