"""Config revisions and agent materialisation. Callers set the app's schema (schema_context)."""

from __future__ import annotations

from typing import Any

import yaml
from django.db import transaction
from django.db.models import Max

from agents.config_loader import ConfigError, LoadedConfig, load_config_data, minimal_config_yaml
from apps.configs.models import Agent, ConfigRevision
from hector_site.errors import BadRequest


def minimal_config() -> dict[str, Any]:
    """The zero-config seed as a lean document (provider picked from the environment)."""
    return yaml.safe_load(minimal_config_yaml()) or {}


def config_error(error: ConfigError) -> BadRequest:
    details = [
        {"path": i.path, "message": i.message, "line": i.line, "column": i.column}
        for i in error.errors
    ]
    first = error.errors[0]
    return BadRequest(f"Invalid config: {first.path}: {first.message}", details=details)


def validate_config(lean: Any, *, source: str = "config_json") -> LoadedConfig:
    if not isinstance(lean, dict):
        raise BadRequest("Invalid config: the document must be a mapping of top-level keys")
    try:
        return load_config_data(lean, source=source)
    except ConfigError as error:
        raise config_error(error) from error


def store_revision(loaded: LoadedConfig, *, source: str, comment: str = "") -> ConfigRevision:
    """Append a revision and re-materialise the agents from it, atomically."""
    with transaction.atomic():
        last = ConfigRevision.objects.select_for_update().aggregate(n=Max("number"))["n"] or 0
        revision = ConfigRevision.objects.create(
            number=last + 1, config=loaded.lean, source=source, comment=comment
        )
        materialise_agents(loaded, revision=revision.number)
    return revision


def materialise_agents(loaded: LoadedConfig, *, revision: int) -> None:
    lean_agents = loaded.lean.get("agents") or {}
    Agent.objects.all().delete()
    Agent.objects.bulk_create(
        Agent(
            name=name,
            type=str(agent.type),
            description=agent.description or "",
            visibility=str(agent.visibility),
            llm=agent.llm or "",
            position=position,
            definition=lean_agents.get(name) or {},
            revision=revision,
        )
        for position, (name, agent) in enumerate(loaded.config.agents.items())
    )
