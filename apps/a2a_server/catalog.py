"""What the A2A endpoints need to know about an app's agents and the server block, per revision.

The tenant middleware already loaded the `App` row (its lean `config_json`, `active_revision` and
`updated_at`), so the catalog is built from that row once per revision and then served from
process memory: an A2A call costs no config parsing and no query for the agent. The `server`
block is file-only (SPEC 2.5): it lives in the `default` app's config and applies to every app.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from pydantic import ValidationError

from agents.config import HectorConfig
from agents.config_env import interpolate
from agents.config_server import ServerConfig
from apps.tenancy.context import in_schema
from apps.tenancy.models import DEFAULT_APP_ID, App

logger = logging.getLogger(__name__)

SERVER_SETTINGS_TTL_S = 5.0


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """One agent as the A2A layer sees it: identity, visibility and what its card says."""

    name: str
    description: str
    type: str
    visibility: str
    streaming: bool
    input_modes: tuple[str, ...]
    output_modes: tuple[str, ...]
    skills: tuple[dict[str, Any], ...]

    @property
    def is_public(self) -> bool:
        return self.visibility == "public"

    @property
    def is_private(self) -> bool:
        return self.visibility == "private"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The parts of the `server` block the A2A endpoints read on every request."""

    max_body_bytes: int = 10 * 1024 * 1024
    trust_user_header: bool = False
    require_auth: bool = False  # only when an auth method beyond the admin secret is configured
    public_url: str | None = None

    @classmethod
    def from_config(cls, server: ServerConfig) -> ServerSettings:
        external_auth = bool(server.auth.jwks_url or settings.HECTOR_AUTH_JWKS_URL)
        return cls(
            max_body_bytes=server.max_body_bytes,
            trust_user_header=server.trust_user_header,
            require_auth=external_auth and server.auth.require_auth,
            public_url=(server.public_url or settings.HECTOR_PUBLIC_URL or None),
        )


@dataclass(frozen=True, slots=True)
class Catalog:
    """An app's agents in config order, at one revision."""

    revision_key: tuple[Any, ...]
    agents: dict[str, AgentInfo] = field(default_factory=dict)
    default_agent: str | None = None
    server: ServerSettings = field(default_factory=ServerSettings)
    updated_at: datetime | None = None


def _skill_json(skill: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": skill.id,
        "name": skill.name,
        "description": skill.description or skill.name,
        "tags": list(skill.tags),
    }
    if skill.examples:
        body["examples"] = list(skill.examples)
    return body


def build_catalog(lean: dict[str, Any], *, revision_key: tuple[Any, ...]) -> Catalog:
    """Validate the sections the catalog needs (agents, defaults, server), defaults applied.

    Only these sections are validated: the whole document was checked when it was stored, and an
    LLM key missing from this process's environment must not hide the agents.
    """
    document = {key: lean[key] for key in ("agents", "defaults", "server") if lean.get(key)}
    resolved, _missing = interpolate(document, os.environ)
    try:
        config = HectorConfig.model_validate(resolved, context={"env": os.environ})
    except ValidationError:
        logger.exception("stored config no longer validates; its agents are not served")
        return Catalog(revision_key=revision_key)
    agents = {
        name: AgentInfo(
            name=name,
            description=agent.description or "",
            type=str(agent.type),
            visibility=str(agent.visibility),
            streaming=bool(agent.streaming),
            input_modes=tuple(agent.input_modes),
            output_modes=tuple(agent.output_modes),
            skills=tuple(_skill_json(skill) for skill in agent.skills or ()),
        )
        for name, agent in config.agents.items()
    }
    return Catalog(
        revision_key=revision_key,
        agents=agents,
        default_agent=config.default_agent_name(),
        server=ServerSettings.from_config(config.server),
    )


_lock = threading.Lock()
_catalogs: dict[str, Catalog] = {}


def catalog_for(app: App) -> Catalog:
    """The app's catalog at the revision the middleware just loaded (rebuilt when it moved)."""
    key = (app.active_revision, app.updated_at)
    cached = _catalogs.get(app.id)
    if cached is not None and cached.revision_key == key:
        return cached
    try:
        lean = json.loads(app.config_json or "{}")
    except ValueError:
        lean = {}
    catalog = build_catalog(lean if isinstance(lean, dict) else {}, revision_key=key)
    catalog = Catalog(
        revision_key=key,
        agents=catalog.agents,
        default_agent=catalog.default_agent,
        server=catalog.server,
        updated_at=app.updated_at,
    )
    with _lock:
        _catalogs[app.id] = catalog
    return catalog


_server_cache: tuple[float, ServerSettings] | None = None


def _default_app_server_block() -> dict[str, Any]:
    row = App.objects.filter(pk=DEFAULT_APP_ID).values_list("config_json", flat=True).first()
    try:
        lean = json.loads(row or "{}")
    except ValueError:
        return {}
    server = lean.get("server") if isinstance(lean, dict) else None
    return server if isinstance(server, dict) else {}


async def server_settings(app: App) -> ServerSettings:
    """The `server` block of the default app (file-only, process-wide). Requests of the default
    app read it from their catalog; others from a cache refreshed every few seconds."""
    global _server_cache
    if app.id == DEFAULT_APP_ID:
        return catalog_for(app).server
    now = time.monotonic()
    cached = _server_cache
    if cached is not None and now - cached[0] < SERVER_SETTINGS_TTL_S:
        return cached[1]
    block = await in_schema("public", _default_app_server_block)
    resolved, _missing = interpolate(block, os.environ)
    try:
        server = ServerSettings.from_config(ServerConfig.model_validate(resolved))
    except ValidationError:
        logger.exception("the default app's server block no longer validates; using defaults")
        server = ServerSettings()
    _server_cache = (now, server)
    return server


def forget() -> None:
    """Drop every cached catalog (tests; a deleted app's entry is simply never asked again)."""
    global _server_cache
    with _lock:
        _catalogs.clear()
    _server_cache = None
