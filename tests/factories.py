"""Typed builders with defaults, so a test states only what matters to it."""

from __future__ import annotations

import itertools
from typing import Any

from django.test import Client

ADMIN_SECRET_CACHE: dict[str, str | None] = {"secret": None}
_counter = itertools.count(1)

MINIMAL_CONFIG: dict[str, Any] = {
    "llms": {"default": {"provider": "ollama", "model": "qwen3"}},
    "agents": {"assistant": {"llm": "default", "instruction": "You are a helpful assistant."}},
}


def make_app(
    *, name: str | None = None, app_id: str | None = None, config: dict[str, Any] | None = None
) -> tuple[Any, str]:
    """Create an app through the service layer; returns (app, access_token)."""
    from apps.tenancy.services import create_app

    created = create_app(
        name=name or f"app {next(_counter)}",
        app_id=app_id,
        config=config if config is not None else MINIMAL_CONFIG,
        issuer="http://testserver",
    )
    return created.app, created.access_token


def token_client(token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"})
