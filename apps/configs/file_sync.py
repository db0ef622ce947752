"""The config file given with --config is the `default` app's source; this keeps the two in step.

A valid edit becomes a new revision; an invalid one is logged with file:line:column and the running
config stays. The watcher thread, SIGHUP and `POST /admin/reload` all go through
`reload_config_file`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from django.db import close_old_connections
from django_tenants.utils import schema_context

from agents.config_env import read_dotenv
from agents.config_loader import ConfigError, format_issue, load_config_file
from apps.observability import metrics
from apps.tenancy.models import DEFAULT_APP_ID, App

logger = logging.getLogger(__name__)

DEBOUNCE_MS = 200


@dataclass(frozen=True)
class ReloadResult:
    status: Literal["reloaded", "unchanged", "error"]
    message: str
    revision: int | None = None


_reload_lock = threading.Lock()
_PROCESS_ENV_KEYS = frozenset(os.environ)


def apply_dotenv(config_path: str | Path) -> None:
    """Load the `.env` beside the config into the process environment.

    Variables the process was started with win; those that came from `.env` follow its edits, so a
    reload after changing a key in `.env` uses the new value.
    """
    for key, value in read_dotenv(Path(config_path).parent / ".env").items():
        if key not in _PROCESS_ENV_KEYS:
            os.environ[key] = value


def reload_config_file(path: str | Path) -> ReloadResult:
    from apps.tenancy.services import update_app  # tenancy.services imports configs: defer

    path = Path(path)
    with _reload_lock, schema_context("public"):
        apply_dotenv(path)
        try:
            loaded = load_config_file(path)
        except FileNotFoundError:
            metrics.config_reload_total.labels("error").inc()
            logger.error("config reload failed: %s does not exist", path)
            return ReloadResult("error", f"{path}: no such file")
        except ConfigError as error:
            metrics.config_reload_total.labels("error").inc()
            lines = [format_issue(str(path), issue) for issue in error.errors]
            for line in lines:
                logger.error("config reload rejected, previous config stays: %s", line)
            return ReloadResult("error", "; ".join(lines))
        app = App.objects.get(pk=DEFAULT_APP_ID)
        if json.loads(app.config_json) == loaded.lean:
            return ReloadResult("unchanged", "config unchanged", app.active_revision)
        app = update_app(app_id=DEFAULT_APP_ID, config=loaded.lean, source="file")
    metrics.config_reload_total.labels("success").inc()
    logger.info("config reloaded from %s: revision %s", path, app.active_revision)
    return ReloadResult("reloaded", f"revision {app.active_revision}", app.active_revision)


class ConfigWatcher:
    """Watches the config file and the `.env` beside it; reloads after a 200 ms debounce."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="config-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        import watchfiles

        watched = {self.path.name, ".env"}

        def relevant(change: watchfiles.Change, filename: str) -> bool:
            return Path(filename).name in watched

        for _changes in watchfiles.watch(
            self.path.parent,
            watch_filter=relevant,
            debounce=DEBOUNCE_MS,
            step=50,
            stop_event=self._stop,
            recursive=False,
        ):
            try:
                reload_config_file(self.path)
            except Exception:  # the watcher must outlive one bad reload
                logger.exception("config reload crashed")
            finally:
                close_old_connections()
