"""`hector` / `python manage.py`: commands that must fail early, and clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_version_prints_hector_line() -> None:
    result = run("version")
    assert result.returncode == 0
    assert result.stdout.startswith("Hector ")
    assert run("--version").stdout.startswith("Hector ")


def test_incomplete_oidc_flags_exit_nonzero() -> None:
    result = run("serve", "--auth-jwks-url", "http://idp/jwks")
    assert result.returncode != 0
    assert "incomplete auth configuration: missing [auth-issuer auth-audience]" in result.stderr


def test_sqlite_database_is_refused_with_a_clear_message() -> None:
    result = run("migrate", "--database", "sqlite:///hector.db")
    assert result.returncode == 2
    assert "SQLite is not supported; omit --database to use the embedded Postgres" in result.stderr


def test_schema_prints_the_config_json_schema() -> None:
    result = run("schema", "--compact")
    assert result.returncode == 0
    assert '"title":"Hector Configuration Schema"' in result.stdout


def test_validate_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("llms:\n  default: {provider: ollama}\nagents:\n  a: {llm: default}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("llms:\n  default: {provider: ollama}\nagents:\n  writer:\n    llm: gpt5\n")
    assert run("validate", str(good)).returncode == 0
    result = run("validate", "--config", str(bad))
    assert result.returncode == 1
    assert f"{bad}:5:5: agents.writer.llm: unknown llm" in result.stderr
    assert run("validate", str(tmp_path / "missing.yaml")).returncode == 2
    assert run("validate").returncode == 2


def test_unknown_command_is_a_usage_error() -> None:
    result = run("frobnicate")
    assert result.returncode != 0


def _system_postgres_url() -> str | None:
    """The machine's own Postgres (without pgvector), when one answers on 127.0.0.1:5432."""
    import psycopg

    try:
        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2, autocommit=True
        ) as conn:
            conn.execute("DROP DATABASE IF EXISTS hector_no_pgvector")
            conn.execute("CREATE DATABASE hector_no_pgvector")
            available = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
            ).fetchone()
    except psycopg.Error:
        return None
    return None if available else "postgres://postgres@127.0.0.1:5432/hector_no_pgvector"


def test_external_database_without_pgvector_names_the_extension() -> None:
    url = _system_postgres_url()
    if url is None:
        pytest.skip("needs a Postgres without pgvector on 127.0.0.1:5432 (the CI machine has one)")
    result = run("migrate", "--database", url)
    assert result.returncode == 1
    assert 'the Postgres extension "vector" (pgvector) is not installed' in result.stderr
    assert "Traceback" not in result.stderr
