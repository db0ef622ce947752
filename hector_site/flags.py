"""The flags of `hector serve` (SPEC 1.2), in one table.

Every flag also reads `HECTOR_<FLAG>`; `--database` also reads `DATABASE_URL`. The CLI exports given
flags as environment variables before Django starts (settings read them there), and the `serve`
command declares the same table so `--help` lists it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    name: str
    help: str
    default: str | None = None
    is_switch: bool = False
    short: str | None = None
    env: str | None = None

    @property
    def env_name(self) -> str:
        return self.env or "HECTOR_" + self.name.upper().replace("-", "_")

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


# Flags Django needs before it starts (settings read them): shared by every DB-backed command.
DATABASE_FLAGS: tuple[Flag, ...] = (
    Flag("data-dir", "Embedded Postgres, generated config and local files", default=".hector"),
    Flag(
        "database",
        "postgres://user:pass@host:port/db (default: embedded Postgres)",
        env="DATABASE_URL",
    ),
)

SERVE_FLAGS: tuple[Flag, ...] = (
    Flag("config", "Config of the default app (created if missing)", short="-c"),
    Flag("host", "Bind address", default="0.0.0.0"),
    Flag("port", "Bind port", default="8080"),
    Flag("auth-secret", "Admin secret (default: generated once and stored)"),
    Flag("auth-jwks-url", "External OIDC JWKS URL"),
    Flag("auth-issuer", "Expected iss of external JWTs"),
    Flag("auth-audience", "Expected aud of external JWTs"),
    Flag("auth-client-id", "Public client id, echoed in /health"),
    Flag("auth-signing-seed", "Deterministic app-token signing key (EdDSA)"),
    Flag("metrics", "Expose Prometheus metrics at /metrics", is_switch=True),
    Flag("tracing-endpoint", "OTLP endpoint HOST:PORT; tracing on when set"),
    Flag("queue-workers", "Concurrency of the task worker pool", default="4"),
    Flag("queue-max-retries", "Retries before dead-lettering", default="3"),
    Flag("queue-initial-delay", "First retry delay", default="1s"),
    Flag("queue-max-delay", "Retry delay cap", default="5m"),
    Flag("queue-stale-threshold", "A processing item older than this is recovered", default="5m"),
    Flag("rate-limit-enabled", "Enable server rate limiting", is_switch=True),
    Flag("rate-limit-scope", "session or user", default="session"),
    Flag("rate-limit-limits", 'JSON rules, e.g. [{"type":"count","window":"minute","limit":60}]'),
    Flag(
        "rate-limit-ip-headers",
        "Client-IP headers in priority order",
        default="X-Forwarded-For,X-Real-IP",
    ),
    Flag("no-watch", "Do not hot-reload the config file", is_switch=True),
    Flag("sync", "Overwrite the stored default app config with the file on start", is_switch=True),
    Flag("log-level", "debug|info|warn|error", default="info"),
    Flag("log-format", "text|json", default="text"),
    Flag("log-file", "Log destination (default stderr)"),
    Flag("no-worker", "Do not start in-process workers/beat", is_switch=True),
    Flag("public-url", "Public base URL used as token issuer and in cards"),
    # Zero-config seeding: shape the generated config file when it does not exist yet.
    Flag("provider", "Seed: LLM provider (anthropic|openai|gemini|ollama)"),
    Flag("model", "Seed: model name"),
    Flag("api-key", "Seed: API key (stored as given; prefer ${ENV} placeholders)"),
    Flag("base-url", "Seed: provider base URL"),
    Flag("temperature", "Seed: temperature"),
    Flag("max-tokens", "Seed: max tokens"),
    Flag("instruction", "Seed: agent instruction"),
    Flag("tools", "Seed: 'all' or a comma list of built-in tools"),
    Flag("mcp-url", "Seed: an MCP server URL"),
    Flag("docs-folder", "Seed: a folder to index for RAG"),
)

#: `hector worker` and `hector beat`: the queue flags of `serve` (same names, same env), logging.
WORKER_FLAGS: tuple[Flag, ...] = tuple(
    f
    for f in SERVE_FLAGS
    if f.name.startswith("queue-") or f.name in {"log-level", "log-format", "log-file"}
)

SEED_FLAGS = (
    "provider",
    "model",
    "api-key",
    "base-url",
    "temperature",
    "max-tokens",
    "instruction",
    "tools",
    "mcp-url",
    "docs-folder",
)


def add_flags(parser: argparse.ArgumentParser, flags: Sequence[Flag]) -> None:
    for flag in flags:
        names = [f"--{flag.name}"] + ([flag.short] if flag.short else [])
        if flag.is_switch:
            parser.add_argument(*names, dest=flag.dest, action="store_true", help=flag.help)
        else:
            parser.add_argument(*names, dest=flag.dest, default=None, help=_help(flag))


def _help(flag: Flag) -> str:
    suffix = f" (env {flag.env_name}"
    suffix += f", default {flag.default})" if flag.default else ")"
    return flag.help + suffix


def export_flags(argv: Sequence[str], flags: Sequence[Flag]) -> None:
    """Put flags given on the command line into the environment, where settings read them."""
    parser = argparse.ArgumentParser(add_help=False)
    add_flags(parser, flags)
    known, _ = parser.parse_known_args(list(argv))
    for flag in flags:
        value = getattr(known, flag.dest)
        if flag.is_switch:
            if value:
                os.environ[flag.env_name] = "true"
        elif value is not None:
            os.environ[flag.env_name] = value


def flag_value(flag_name: str, flags: Sequence[Flag] = SERVE_FLAGS + DATABASE_FLAGS) -> str | None:
    """The effective value of a flag: environment (set from argv by export_flags) or its default."""
    flag = next(f for f in flags if f.name == flag_name)
    value = os.environ.get(flag.env_name)
    if flag.is_switch:
        return "true" if value and value.lower() in {"1", "true", "yes", "on"} else None
    return value if value not in (None, "") else flag.default


def check_auth_flags() -> str | None:
    """All three of jwks-url, issuer and audience, or none: a half-configured verifier is a hole."""
    names = ("auth-jwks-url", "auth-issuer", "auth-audience")
    given = [n for n in names if flag_value(n)]
    if given and len(given) < len(names):
        missing = " ".join(n for n in names if n not in given)
        return f"incomplete auth configuration: missing [{missing}]"
    return None
