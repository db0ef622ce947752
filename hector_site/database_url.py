"""DATABASE_URL -> Django DATABASES entry. Postgres only: schema-per-app and pgvector need it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "postgresql+psycopg"}


class DatabaseUrlError(ValueError):
    """A DATABASE_URL / --database value that this build cannot use."""


def parse_database_url(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme.startswith("sqlite"):
        raise DatabaseUrlError(
            "SQLite is not supported; omit --database to use the embedded Postgres"
        )
    if scheme not in POSTGRES_SCHEMES:
        raise DatabaseUrlError(
            f"unsupported database URL scheme {scheme!r}: use postgres://user:pass@host:port/db"
        )
    query = dict(parse_qsl(parts.query))
    host = query.pop("host", None) or (unquote(parts.hostname) if parts.hostname else "")
    options: dict[str, Any] = dict(query)
    return {
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        "OPTIONS": options,
    }


def mask_database_url(url: str) -> str:
    """The URL with its password replaced, for banners and logs."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
