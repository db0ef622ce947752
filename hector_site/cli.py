"""`hector <command>`, also reached as `python manage.py <command>`.

Commands that need no database (version, validate, schema, info) run before Django starts, so they
neither boot nor touch Postgres. The rest export their flags to the environment and hand over to
Django's command runner.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from hector_site.flags import (
    DATABASE_FLAGS,
    SERVE_FLAGS,
    WORKER_FLAGS,
    check_auth_flags,
    export_flags,
    flag_value,
)

USAGE = """usage: hector <command> [options]

commands:
  serve       start the server (HTTP + websockets; embedded Postgres unless --database),
              with a task worker and beat unless --no-worker
  worker      run a task worker (durable queue; CELERY_BROKER_URL or the data dir's broker)
  beat        run the periodic scheduler (queue recovery, schedules)
  migrate     apply shared and per-app migrations
  validate    validate a config file (exit 0 valid, 1 invalid, 2 usage error)
  schema      print the config JSON Schema
  info        list the agents of a config file, or show one
  secret      print the stored admin secret
  version     print the version

Run `hector <command> --help` for a command's options. Every Django management command is also
available (e.g. `hector createsuperuser`)."""

# `hector migrate` migrates the template schema too; Django's own migrate stays reachable via
# manage.py.
DJANGO_ALIASES = {"migrate": "hector_migrate"}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = argv[1:]
    if not args or args[0] in {"-h", "--help", "help"}:
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command in {"version", "--version"}:
        from hector_site.version import version_line

        print(version_line())
        return 0
    if command == "validate":
        return _validate(rest)
    if command == "schema":
        return _schema(rest)
    if command == "info":
        return _info(rest)
    return _django(command, rest, prog=os.path.basename(argv[0]) or "hector")


def _validate(args: list[str]) -> int:
    from agents.validate_cli import run_validate

    parser = argparse.ArgumentParser(prog="hector validate")
    parser.add_argument("path", nargs="?", help="config file")
    parser.add_argument("-c", "--config", help="config file")
    parser.add_argument("--format", choices=["compact", "verbose", "json"], default="compact")
    parser.add_argument("--print-config", action="store_true")
    try:
        options = parser.parse_args(args)
    except SystemExit as exc:
        return 2 if exc.code else 0
    path = options.config or options.path
    if not path:
        print("hector validate: give a config file (hector validate config.yaml)", file=sys.stderr)
        return 2
    code, output = run_validate(path, fmt=options.format, print_config=options.print_config)
    if output:
        print(output, file=sys.stdout if code == 0 or options.format == "json" else sys.stderr)
    return code


def _schema(args: list[str]) -> int:
    from agents.config_schema import config_json_schema

    parser = argparse.ArgumentParser(prog="hector schema")
    parser.add_argument("--compact", action="store_true")
    options = parser.parse_args(args)
    schema = config_json_schema()
    print(
        json.dumps(schema, separators=(",", ":"))
        if options.compact
        else json.dumps(schema, indent=2)
    )
    return 0


def _info(args: list[str]) -> int:
    from agents.config_loader import ConfigError, format_issue, load_config_file

    parser = argparse.ArgumentParser(prog="hector info")
    parser.add_argument("agent", nargs="?")
    parser.add_argument("-c", "--config", default=os.path.join(".hector", "config.yaml"))
    options = parser.parse_args(args)
    try:
        loaded = load_config_file(options.config)
    except FileNotFoundError:
        print(f"hector info: {options.config}: no such file", file=sys.stderr)
        return 2
    except ConfigError as error:
        for issue in error.errors:
            print(format_issue(options.config, issue), file=sys.stderr)
        return 1
    agents = loaded.config.agents
    if options.agent:
        if options.agent not in agents:
            print(
                f'hector info: agent "{options.agent}" not found (defined: '
                f"{', '.join(agents) or 'none'})",
                file=sys.stderr,
            )
            return 1
        print(json.dumps(loaded.lean.get("agents", {}).get(options.agent, {}), indent=2))
        return 0
    print(f"{'NAME':<24} {'TYPE':<12} {'LLM':<16} {'VISIBILITY':<10} TOOLS")
    for name, agent in agents.items():
        tools = ",".join(getattr(agent, "tools", None) or []) or "-"
        print(
            f"{name:<24} {agent.type!s:<12} {agent.llm or '-':<16} {agent.visibility!s:<10} {tools}"
        )
    return 0


def _django(command: str, rest: list[str], *, prog: str) -> int:
    export_flags(rest, DATABASE_FLAGS)
    if command == "serve":
        export_flags(rest, SERVE_FLAGS)
        problem = check_auth_flags()
        if problem:
            print(f"hector serve: {problem}", file=sys.stderr)
            return 2
    if command in {"worker", "beat"}:
        export_flags(rest, WORKER_FLAGS)
    if command in {"serve", "worker", "beat"}:
        # These processes have workers to hand runs to (their own, or `hector worker`s on the
        # shared broker); anything else started from this project runs them itself.
        os.environ.setdefault("HECTOR_QUEUE_DISPATCH", "celery")
    if command == "serve" and not flag_value("no-worker"):
        # Before anything imports prometheus_client: its workers' series join its /metrics.
        from pathlib import Path

        from hector_site import metrics_dir

        data_dir = flag_value("data-dir") or ".hector"
        metrics_dir.prepare(Path(data_dir).expanduser().resolve())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hector_site.settings")
    from hector_site.database_url import DatabaseUrlError

    try:
        import django

        django.setup()
    except DatabaseUrlError as error:
        print(f"{prog} {command}: {error}", file=sys.stderr)
        return 2
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line([prog, DJANGO_ALIASES.get(command, command), *rest])
    except ImproperlyConfigured as error:
        print(f"{prog} {command}: {error}", file=sys.stderr)
        return 1
    return 0
