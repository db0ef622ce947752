"""Hector runtime: configuration schema, agent types, runner and instruction templating.

This package never imports Django (see STYLE.md section 1); the Django side reaches it through
small interfaces it defines.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.api import Hector, RunFailed, set_default_session_factory
    from agents.runner import Runner

__all__ = ["Hector", "RunFailed", "Runner", "set_default_session_factory"]

# Resolved on first use (PEP 562): importing `agents.config` alone must not load the runner,
# which imports `tools`, whose config module `agents.config` itself imports.
_LAZY = {
    "Hector": "agents.api",
    "RunFailed": "agents.api",
    "set_default_session_factory": "agents.api",
    "Runner": "agents.runner",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agents' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
