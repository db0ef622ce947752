"""`hector serve`: migrate, seed the default app from the config file, run the ASGI server."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.config_loader import (
    ConfigError,
    LoadedConfig,
    format_issue,
    load_config_file,
    minimal_config_yaml,
)
from agents.llm.config import api_key_env_var, detect_provider
from apps.configs.file_sync import ConfigWatcher, apply_dotenv, reload_config_file
from apps.server.management.commands.hector_migrate import migrate_all
from apps.server.queue_children import QueueChildren
from apps.tenancy import auth
from apps.tenancy.services import ensure_default_app
from hector_site.database_url import mask_database_url
from hector_site.flags import DATABASE_FLAGS, SEED_FLAGS, SERVE_FLAGS, add_flags, flag_value
from hector_site.version import version_line

logger = logging.getLogger(__name__)


def config_path() -> Path:
    return Path(flag_value("config") or settings.DATA_DIR / "config.yaml").expanduser().resolve()


def ensure_config_file(path: Path) -> bool:
    """Zero-config start: write a minimal valid config (shaped by the seed flags) if none exists."""
    if path.exists():
        return False
    seeds: dict[str, Any] = {}
    for name in SEED_FLAGS:
        value = flag_value(name)
        if value is not None:
            seeds[name.replace("-", "_")] = value
    for numeric, cast in (("temperature", float), ("max_tokens", int)):
        if numeric in seeds:
            try:
                seeds[numeric] = cast(seeds[numeric])
            except ValueError as exc:
                raise CommandError(
                    f"--{numeric.replace('_', '-')}: not a number: {seeds[numeric]}"
                ) from exc
    if isinstance(seeds.get("tools"), str):
        seeds["tools"] = [t.strip() for t in seeds["tools"].split(",") if t.strip()]
    api_key = seeds.pop("api_key", None)
    if api_key and not api_key.startswith("${"):
        _store_api_key(path.parent, seeds.get("provider") or detect_provider(os.environ), api_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.write_text(minimal_config_yaml(**seeds))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    return True


def _store_api_key(config_dir: Path, provider: str, api_key: str) -> None:
    """Keys go to `.env` beside the config (0600); the config names them as ${VAR}, so no revision
    stored in the database ever holds the secret."""
    variable = api_key_env_var(provider)
    if variable is None:
        return
    config_dir.mkdir(parents=True, exist_ok=True)
    env_file = config_dir / ".env"
    existing = env_file.read_text() if env_file.exists() else ""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    env_file.write_text(f"{existing}{variable}={api_key}\n")
    env_file.chmod(0o600)


class Command(BaseCommand):
    help = "Start the Hector server (HTTP + websockets) on the embedded or given Postgres."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        add_flags(parser, DATABASE_FLAGS + SERVE_FLAGS)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        path = config_path()
        created = ensure_config_file(path)
        apply_dotenv(path)
        loaded = self._load(path)
        migrate_all()
        default_app = ensure_default_app(config=loaded.lean, sync=bool(flag_value("sync")))
        secret = auth.ensure_admin_secret()
        auth.ensure_signing_key()
        host, port = flag_value("host") or "0.0.0.0", int(flag_value("port") or 8080)
        self._banner(path, created, loaded, secret, host, port, started)
        if json.loads(default_app.config_json or "{}") != loaded.lean:
            # The file only seeds an app that has none: say so, or the banner above misleads.
            self.stdout.write(
                self.style.WARNING(
                    "  The default app keeps its stored config, which differs from this file "
                    "(edited in the Studio or the Admin API, or another file seeded it). Start "
                    "with --sync to replace it with the file, or edit the file: a change while "
                    "the server runs becomes a new revision.\n"
                )
            )
        children = None if flag_value("no-worker") else QueueChildren()
        if children is not None:
            children.start()
        watcher = None
        if not flag_value("no-watch"):
            watcher = ConfigWatcher(path)
            watcher.start()
        signal.signal(
            signal.SIGHUP,
            lambda *_: threading.Thread(
                target=reload_config_file, args=(path,), daemon=True
            ).start(),
        )
        try:
            self._run_server(host, port)
        finally:
            if watcher:
                watcher.stop()
            if children is not None:
                children.stop()

    def _load(self, path: Path) -> LoadedConfig:
        try:
            return load_config_file(path)
        except ConfigError as error:
            for issue in error.errors:
                self.stderr.write(format_issue(str(path), issue))
            raise CommandError(
                f"{path} is not a valid config ({len(error.errors)} error(s))"
            ) from error

    def _banner(
        self,
        path: Path,
        created: bool,
        loaded: LoadedConfig,
        secret: str | None,
        host: str,
        port: int,
        started: float,
    ) -> None:
        shown_host = "localhost" if host in {"0.0.0.0", "::", ""} else host
        base = f"http://{shown_host}:{port}"
        config = loaded.config
        out = self.stdout
        out.write(f"\n  {version_line()}")
        out.write(f"  Listening     {host}:{port}")
        out.write(f"  Database      {mask_database_url(settings.DATABASE_URL)}")
        out.write(f"  Config        {path}{'  (created)' if created else ''}")
        out.write(
            f"  Loaded        {len(config.agents)} agent(s), {len(config.llms)} LLM(s), "
            f"{len(config.tools)} tool(s)"
        )
        out.write(f"  Metrics       {'/metrics' if settings.HECTOR_METRICS else 'off (--metrics)'}")
        queue = (
            "external workers (--no-worker)"
            if flag_value("no-worker")
            else f"worker x{settings.HECTOR_QUEUE_WORKERS} + beat (child processes)"
        )
        out.write(f"  Queue         {queue}")
        for name in config.agents:
            out.write(f"  Agent         {base}/agents/{name}")
        out.write(f"\n  Studio        {base}/")
        if secret:
            out.write("  Admin secret  " + self.style.WARNING(secret))
            out.write("                (generated and stored; set your own with --auth-secret)")
        else:
            out.write("  Admin secret  the one given with --auth-secret")
        out.write(f"  Ready in      {time.monotonic() - started:.2f}s\n")
        sys.stdout.flush()

    def _run_server(self, host: str, port: int) -> None:
        """uvicorn with httptools: in side-by-side runs it spent a sixth less CPU per A2A
        `message/send` than daphne, whose Twisted request parsing runs every POST's
        Content-Type through the email package. Websockets (the Studio chat): `websockets`'
        sans-I/O implementation."""
        import uvicorn

        from hector_site.asgi import application

        server = uvicorn.Server(
            uvicorn.Config(
                application,
                host=host,
                port=port,
                loop="asyncio",
                http="httptools",
                ws="websockets-sansio",
                lifespan="off",  # Django's ASGI handler has no lifespan events
                log_config=None,  # keep Django's logging configuration
                access_log=False,
                proxy_headers=False,  # X-Forwarded-* only through HECTOR's own settings
                server_header=False,
                timeout_graceful_shutdown=10,  # then open streams are cut
            )
        )
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again for the
        # handler it found: ours ends `run()` here, so the worker, beat and watcher are stopped
        # (the default SIGTERM handler would kill the process on the spot).
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _stop)
        _tune_gc()
        with contextlib.suppress(_Stopped):
            server.run()


class _Stopped(Exception):
    """A stop signal arrived: `hector serve` ends normally."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped


#: Allocations between young-generation collections (CPython's default: 700).
GC_YOUNG_THRESHOLD = 10_000


def _tune_gc() -> None:
    """Measured on the A2A hot path, the cyclic garbage collector took about a millisecond of
    CPU per `message/send`: every full collection walked the whole start-up heap (Django, the
    SDKs, the config) for 100-200 ms, and young collections ran every 700 allocations, a few
    per request. What exists at this point lives as long as the process: frozen, collections
    skip it. Young objects mostly die by reference counting before a collection sees them, so
    fewer, larger young collections do less work in all (GC time of a 1,600-send run: 1.7 s
    with the defaults, 0.3 s tuned)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
