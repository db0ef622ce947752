"""Small builders for the config tests: load text, and list problems as ``path: message``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from agents.config_loader import ConfigError, LoadedConfig, load_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "configs"

#: Every variable the example configs reference, so they load without a real environment.
FIXTURE_ENV: dict[str, str] = {
    name: f"test-{name.lower()}"
    for name in (
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "GEMINI_API_KEY",
        "COHERE_API_KEY",
        "QDRANT_API_KEY",
        "LAKERA_API_KEY",
        "PARTNER_TOKEN",
        "GITHUB_TOKEN",
        "CHANGELOG_TOKEN",
        "AUDIT_TOKEN",
        "CRM_PASSWORD",
        "WAREHOUSE_PASSWORD",
        "DB_PASSWORD",
        "WEBHOOK_SECRET",
        "SHOPIFY_SECRET",
    )
}

LLM = "llms:\n  default: {provider: ollama}\n"


def load(text: str, env: Mapping[str, str] | None = None) -> LoadedConfig:
    return load_config(text, source="test.yaml", env={} if env is None else env)


def problems(text: str, env: Mapping[str, str] | None = None) -> list[str]:
    """``path: message`` of every issue (fails the test when the text is valid)."""
    try:
        load(text, env)
    except ConfigError as exc:
        return [f"{i.path}: {i.message}" if i.path else i.message for i in exc.errors]
    raise AssertionError("expected the config to be invalid")


def issue_at(text: str, path: str, env: Mapping[str, str] | None = None) -> str:
    """The message of the single issue at ``path``."""
    found = [p.split(": ", 1)[1] for p in problems(text, env) if p.startswith(f"{path}: ")]
    assert len(found) == 1, problems(text, env)
    return found[0]
