"""The zero-config seed file that ``hector serve`` writes when the config is missing (SPEC 1.2).

API keys are written as ``${ANTHROPIC_API_KEY}``-style placeholders, never as values: the file
is stored and shown, the key stays in the environment (or ``.env``). A literal ``--api-key``
is therefore not written either; the caller keeps it in the process environment under the
name ``api_key_env_var(provider)`` returns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from agents.llm.config import DEFAULT_MODEL, api_key_env_var, detect_provider
from tools.config import BUILTIN_TOOL_NAMES

__all__ = ["SEED_TOOLSETS", "minimal_config_yaml"]

DEFAULT_INSTRUCTION = "You are a helpful assistant."

#: Toolsets ``--tools all`` enables, keyed by the config name written to the seed file.
SEED_TOOLSETS: dict[str, str] = {
    "files": "filetool",
    "web": "webtool",
    "shell": "commandtool",
    "memory": "memorytool",
    "todo": "todotool",
}


def _tool_section(tools: str | Sequence[str]) -> dict[str, dict[str, Any]]:
    """``all``, or toolset types/config names or individual tool names (list or comma text)."""
    items = tools.split(",") if isinstance(tools, str) else list(tools)
    requested = [t.strip() for t in items if t.strip()]
    if not requested or requested == ["all"]:
        return {name: {"type": kind} for name, kind in SEED_TOOLSETS.items()}
    picked: dict[str, list[str] | None] = {}
    for item in requested:
        config_name = _toolset_name(item)
        if config_name is not None:
            picked[config_name] = None  # the whole toolset
            continue
        owner = next(
            (n for n, kind in SEED_TOOLSETS.items() if item in BUILTIN_TOOL_NAMES[kind]), None
        )
        if owner is None:
            raise ValueError(f'unknown tool "{item}"')
        current = picked.setdefault(owner, [])
        if current is not None and item not in current:
            current.append(item)
    section: dict[str, dict[str, Any]] = {}
    for name, subset in picked.items():
        section[name] = {"type": SEED_TOOLSETS[name]}
        if subset:
            section[name]["filter"] = subset
    return section


def _toolset_name(item: str) -> str | None:
    if item in SEED_TOOLSETS:
        return item
    return next((name for name, kind in SEED_TOOLSETS.items() if kind == item), None)


def minimal_config_yaml(
    *,
    provider: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    instruction: str | None = None,
    tools: str | Sequence[str] | None = None,
    mcp_url: str | None = None,
    docs_folder: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """YAML text of a valid one-agent config shaped by the zero-config flags.

    ``api_key`` is only honoured when it is itself a ``${VAR}`` placeholder (see module doc).
    Raises ``ValueError`` for an unknown provider or tool name.
    """
    environment = os.environ if env is None else env
    chosen = provider or detect_provider(environment)
    if chosen not in DEFAULT_MODEL:
        expected = ", ".join(DEFAULT_MODEL)
        raise ValueError(f'unknown provider "{chosen}" (expected one of: {expected})')
    llm: dict[str, Any] = {"provider": chosen, "model": model or DEFAULT_MODEL[chosen]}
    key_var = api_key_env_var(chosen)
    if api_key and api_key.startswith("${"):
        llm["api_key"] = api_key
    elif key_var:
        llm["api_key"] = f"${{{key_var}}}"
    if base_url:
        llm["base_url"] = base_url
    if temperature is not None:
        llm["temperature"] = temperature
    if max_tokens is not None:
        llm["max_tokens"] = max_tokens

    agent: dict[str, Any] = {"llm": "default", "instruction": instruction or DEFAULT_INSTRUCTION}
    document: dict[str, Any] = {"version": "2", "llms": {"default": llm}}
    tool_section = _tool_section(tools) if tools else {}
    if mcp_url:
        tool_section["mcp"] = {"type": "mcp", "url": mcp_url}
    if tool_section:
        document["tools"] = tool_section
        agent["tools"] = list(tool_section)
    if docs_folder:
        use_openai = bool(environment.get("OPENAI_API_KEY"))
        embedder: dict[str, Any] = {"provider": "openai" if use_openai else "ollama"}
        if use_openai:
            embedder["api_key"] = "${OPENAI_API_KEY}"
        document["embedders"] = {"default": embedder}
        document["document_stores"] = {
            "docs": {
                "source": {"type": "directory", "path": docs_folder},
                "watch": True,
                "incremental_indexing": True,
            }
        }
        agent["document_stores"] = ["docs"]
    document["agents"] = {"assistant": agent}
    header = (
        "# Hector configuration (generated on first start; edit freely).\n"
        "# Reference: `hector schema` prints the JSON Schema of this file.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
