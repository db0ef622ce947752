"""Loading a config document: YAML (or parsed JSON) -> interpolated -> validated -> defaulted.

One entry point per kind of input, all returning ``LoadedConfig``:

- ``load_config(text)``: YAML text; issues carry line/column.
- ``load_config_file(path)``: reads ``.env`` beside the file first (existing env wins).
- ``load_config_data(mapping)``: an already-parsed document (JSON from the Admin API).

``LoadedConfig.config`` is what the runtime uses (env resolved, defaults applied);
``LoadedConfig.lean`` is the document exactly as the user wrote it, ``${VAR}`` text included:
that is what gets stored and shown, so secrets never land in the database (SPEC 2.2, 2.3).
Every problem is collected before failing, so one run of ``hector validate`` shows them all.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import ValidationError

from agents.config import HectorConfig
from agents.config_env import MissingVariable, interpolate, read_dotenv
from agents.config_errors import format_issue, format_path, pydantic_issues, to_config_issues
from agents.config_refs import (
    Issue,
    check_references,
    referenced_embedders,
    referenced_llms,
    referenced_vector_stores,
)
from agents.config_seed import minimal_config_yaml
from agents.config_yaml import Marks, Path, YamlSyntaxError, parse_yaml
from agents.errors import ConfigError, ConfigIssue
from agents.llm.config import api_key_env_var

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "LoadedConfig",
    "format_issue",
    "load_config",
    "load_config_data",
    "load_config_file",
    "mask_secrets",
    "minimal_config_yaml",
    "print_config",
]

_EMBEDDER_KEY_ENV = {"openai": "OPENAI_API_KEY", "cohere": "COHERE_API_KEY"}


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    config: HectorConfig
    lean: dict[str, Any]
    source: str = "config.yaml"


def load_config(
    text: str,
    *,
    source: str = "config.yaml",
    env: Mapping[str, str] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> LoadedConfig:
    """Validate YAML text. ``base_dir`` (the config's folder) enables file-existence checks
    for ``instruction_file`` and ``agent_card_file``; ``ConfigError`` lists every problem."""
    try:
        document = parse_yaml(text)
    except YamlSyntaxError as exc:
        issue = ConfigIssue("", exc.message, exc.line, exc.column)
        raise ConfigError([issue], source=source) from None
    duplicates = [
        ConfigIssue(format_path(path), "duplicate key", line, column)
        for path, (line, column) in document.duplicate_keys
    ]
    return _load(document.data, document.marks, source, env, base_dir, duplicates)


def load_config_file(
    path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Load a config file after the ``.env`` beside it (variables already set win).

    Raises ``FileNotFoundError`` for a missing file (a usage error, not an invalid config).
    """
    file = FsPath(path)
    text = file.read_text(encoding="utf-8")
    merged = {**read_dotenv(file.parent / ".env"), **(os.environ if env is None else env)}
    return load_config(text, source=str(path), env=merged, base_dir=file.parent)


def load_config_data(
    data: Mapping[str, Any],
    *,
    source: str = "config_json",
    env: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Validate an already-parsed document; issues have no line/column."""
    return _load(data, None, source, env, None, [])


def _load(
    data: Any,
    marks: Marks | None,
    source: str,
    env: Mapping[str, str] | None,
    base_dir: str | os.PathLike[str] | None,
    located: list[ConfigIssue],
) -> LoadedConfig:
    environment: Mapping[str, str] = os.environ if env is None else env
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        issue = ((), f"a config document must be a mapping of sections (got {kind})")
        raise ConfigError(to_config_issues([issue], marks), source=source)
    lean: dict[str, Any] = copy.deepcopy(dict(data))
    resolved, missing = interpolate(_without_nulls(lean), environment)
    env_issues, unset_paths = _unset_variables(resolved, missing)

    found: list[Issue] = []
    config: HectorConfig | None = None
    try:
        config = HectorConfig.model_validate(resolved, context={"env": environment})
    except ValidationError as exc:
        found += pydantic_issues(exc)
    found += check_references(resolved)
    if config is not None:
        found += _missing_api_keys(config, resolved)
        if base_dir is not None:
            found += _missing_files(config, FsPath(base_dir))
    # An unset variable explains whatever fails at its path; report it alone.
    found = [i for i in found if not any(i[0][: len(p)] == p for p in unset_paths)]
    all_issues = env_issues + found
    if all_issues or located:
        raise ConfigError(to_config_issues(all_issues, marks, located), source=source)
    assert config is not None
    return LoadedConfig(config=config, lean=lean, source=source)


_NAMED_SECTIONS = (
    "databases",
    "llms",
    "embedders",
    "vector_stores",
    "document_stores",
    "tools",
    "guardrails",
    "agents",
)


def _without_nulls(document: dict[str, Any]) -> dict[str, Any]:
    """Treat an empty section (``agents:`` with everything commented out) as absent, and an
    empty entry (``assistant:`` with no keys) as ``{}``, as a reader of the YAML would."""
    out = {key: value for key, value in document.items() if value is not None}
    for section in _NAMED_SECTIONS:
        entries = out.get(section)
        if isinstance(entries, dict):
            out[section] = {name: {} if body is None else body for name, body in entries.items()}
    return out


def _unset_variables(
    resolved: dict[str, Any], missing: list[MissingVariable]
) -> tuple[list[Issue], list[Path]]:
    """Issues for unset ``${VAR}``s, except API keys of providers nothing uses (SPEC 2.2).

    An exempt key is removed from ``resolved`` (treated as not given).
    """
    in_use = {
        "llms": referenced_llms(resolved),
        "embedders": referenced_embedders(resolved),
        "vector_stores": referenced_vector_stores(resolved),
    }
    issues: list[Issue] = []
    paths: list[Path] = []
    for item in missing:
        path = item.path
        section = path[0] if path else None
        if (
            len(path) == 3
            and path[2] == "api_key"
            and section in in_use
            and path[1] not in in_use[str(section)]
        ):
            entry = resolved[str(section)][path[1]]
            if isinstance(entry, dict):
                entry["api_key"] = None
            continue
        issues.append((path, f"environment variable {item.name} is not set"))
        paths.append(path)
    return issues, paths


def _missing_api_keys(config: HectorConfig, resolved: Mapping[str, Any]) -> list[Issue]:
    """A hosted provider that an agent uses needs a key, from ``api_key`` or its env var."""
    issues: list[Issue] = []
    for name in sorted(referenced_llms(resolved)):
        llm = config.llms.get(name)
        if llm is not None and llm.needs_api_key and not llm.api_key:
            var = api_key_env_var(llm.provider or "")
            issues.append(
                (
                    ("llms", name, "api_key"),
                    f"environment variable {var} is not set "
                    f"(api_key is required for provider {llm.provider})",
                )
            )
    for name in sorted(referenced_embedders(resolved)):
        embedder = config.embedders.get(name)
        var = _EMBEDDER_KEY_ENV.get(embedder.provider or "") if embedder else None
        if embedder is not None and var and not embedder.api_key and not embedder.base_url:
            issues.append(
                (
                    ("embedders", name, "api_key"),
                    f"environment variable {var} is not set "
                    f"(api_key is required for provider {embedder.provider})",
                )
            )
    return issues


def _missing_files(config: HectorConfig, base_dir: FsPath) -> list[Issue]:
    issues: list[Issue] = []
    for name, agent in config.agents.items():
        for key in ("instruction_file", "agent_card_file"):
            value = getattr(agent, key)
            if value and not (base_dir / value).is_file():
                issues.append((("agents", name, key), f"file not found: {value}"))
    return issues


# --- printing --------------------------------------------------------------------------------

_SECRET_KEYS = {"api_key", "token", "secret", "password", "authorization", "client_secret"}
_DSN_PASSWORD = re.compile(r"(?P<head>://[^:/@]+:)[^@]*(?P<tail>@)")


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return (
        lowered in _SECRET_KEYS
        or lowered.endswith("api_key")
        or any(word in lowered for word in ("secret", "password", "token"))
    )


def mask_secrets(value: Any, key: str | None = None) -> Any:
    """Replace secret values with ``***``: keys, tokens, secrets, passwords, Authorization
    headers (any case), and the password inside connection strings."""
    if isinstance(value, dict):
        return {k: mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v, key) for v in value]
    if isinstance(value, str):
        if key is not None and _is_secret_key(key) and value:
            return "***"
        if key == "dsn":
            return _DSN_PASSWORD.sub(r"\g<head>***\g<tail>", value)
    return value


def print_config(loaded: LoadedConfig) -> str:
    """The expanded config as YAML: defaults applied, env resolved, secrets masked."""
    data = loaded.config.model_dump(mode="json", by_alias=True, exclude_none=True)
    return yaml.safe_dump(mask_secrets(data), sort_keys=False, allow_unicode=True)
