"""`hector` / `python manage.py`: commands that must fail early, and clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
