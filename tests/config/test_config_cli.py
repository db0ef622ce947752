"""``hector validate`` logic, ``--print-config`` masking, the zero-config seed (SPEC 1.2, 1.5)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from agents.config_loader import load_config, minimal_config_yaml, print_config
from agents.validate_cli import run_validate
from tools.config import MCPToolConfig

BAD = textwrap.dedent(
    """\
    llms:
      default: {provider: ollama}
    agents:
      writer:
        llm: gpt5
    """
)
GOOD = "llms:\n  default: {provider: ollama}\nagents:\n  a: {instruction: hi}\n"


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    return path


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    return path


def test_valid_file_exits_0(good_file: Path) -> None:
    code, output = run_validate(str(good_file))
    assert code == 0
    assert output == f"{good_file}: valid\n"


def test_invalid_file_exits_1_with_one_compact_line_per_issue(bad_file: Path) -> None:
    code, output = run_validate(str(bad_file))
    assert code == 1
    assert output == f'{bad_file}:5:5: agents.writer.llm: unknown llm "gpt5" (defined: default)\n'


def test_verbose_format_has_a_header_and_a_count(bad_file: Path, good_file: Path) -> None:
    code, output = run_validate(str(bad_file), fmt="verbose")
    assert code == 1
    lines = output.splitlines()
    assert lines[0] == f"Validating {bad_file}"
    assert lines[1].strip().startswith(f"{bad_file}:5:5: agents.writer.llm")
    assert lines[-1] == f"1 error found; {bad_file} is invalid"
    assert run_validate(str(good_file), fmt="verbose") == (
        0,
        f"Validating {good_file}\n{good_file}: valid\n",
    )


def test_json_format_ac_1d(bad_file: Path, good_file: Path) -> None:
    code, output = run_validate(str(bad_file), fmt="json")
    assert code == 1
    assert json.loads(output) == {
        "valid": False,
        "errors": [
            {
                "path": "agents.writer.llm",
                "line": 5,
                "column": 5,
                "message": 'unknown llm "gpt5" (defined: default)',
            }
        ],
    }
    code, output = run_validate(str(good_file), fmt="json", print_config=True)
    assert (code, json.loads(output)) == (0, {"valid": True, "errors": []})


def test_yaml_syntax_errors_in_json_format(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("agents: [\n")
    code, output = run_validate(str(path), fmt="json")
    [error] = json.loads(output)["errors"]
    assert code == 1
    assert error["path"] == ""
    assert error["message"].startswith("invalid YAML")
    assert isinstance(error["line"], int)


def test_usage_errors_exit_2(tmp_path: Path, good_file: Path) -> None:
    code, output = run_validate(str(tmp_path / "missing.yaml"))
    assert code == 2
    assert str(tmp_path / "missing.yaml") in output
    assert "not found" in output
    assert run_validate(str(tmp_path))[0] == 2
    assert run_validate(str(good_file), fmt="xml")[0] == 2


def test_print_config_appends_the_expanded_config(good_file: Path) -> None:
    code, output = run_validate(str(good_file), print_config=True)
    assert code == 0
    expanded = yaml.safe_load(output.split("\n", 2)[2])
    assert expanded["agents"]["a"]["llm"] == "default"
    assert expanded["llms"]["default"]["model"] == "qwen3"


SECRETS = textwrap.dedent(
    """\
    llms:
      default: {provider: openai, api_key: "${OPENAI_API_KEY}"}
    databases:
      main: {dsn: "postgres://hector:${DB_PASSWORD}@db/hector", password: hunter2}
    tools:
      gh:
        type: mcp
        url: https://gh/mcp
        headers: {authorization: Bearer ghp_secret, X-Trace: "on"}
        env: {GITHUB_TOKEN: ghp_env, LOG_LEVEL: debug}
      web: {type: webtool, api_key: tvly-secret}
    agents:
      a:
        trigger: {type: webhook, secret: whsec_1}
        notifications:
          - {id: n, url: "https://h", events: [task_failed], headers: {Authorization: Basic abc}}
      r:
        type: remote
        url: https://peer
        headers: {AUTHORIZATION: Bearer peer-token}
    server:
      auth: {jwks_url: "https://idp/jwks", issuer: i, audience: hector-api}
    """
)


def test_print_config_masks_secrets_and_resolves_env() -> None:
    env = {"OPENAI_API_KEY": "sk-live", "DB_PASSWORD": "pg-pass"}
    output = print_config(load_config(SECRETS, env=env))
    secrets = ["sk-live", "pg-pass", "hunter2", "ghp_secret", "ghp_env", "tvly-secret"]
    for secret in [*secrets, "whsec_1", "Basic abc", "peer-token"]:
        assert secret not in output
    expanded = yaml.safe_load(output)
    assert expanded["llms"]["default"]["api_key"] == "***"
    assert expanded["databases"]["main"]["dsn"] == "postgres://hector:***@db/hector"
    assert expanded["tools"]["gh"]["headers"] == {"authorization": "***", "X-Trace": "on"}
    assert expanded["tools"]["gh"]["env"] == {"GITHUB_TOKEN": "***", "LOG_LEVEL": "debug"}
    assert expanded["agents"]["a"]["trigger"]["secret"] == "***"
    assert expanded["agents"]["r"]["headers"]["AUTHORIZATION"] == "***"
    # not secrets: token counts, public identifiers, durations in their text form
    assert expanded["llms"]["default"]["max_tokens"] == 4096
    assert expanded["server"]["auth"]["audience"] == "hector-api"
    assert expanded["llms"]["default"]["timeout"] == "120s"


ALL_KEYS = {
    "ANTHROPIC_API_KEY": "sk-ant-real",
    "OPENAI_API_KEY": "sk-openai-real",
    "GEMINI_API_KEY": "gem-real",
}


@pytest.mark.parametrize(
    ("provider", "key_var"),
    [
        ("anthropic", "ANTHROPIC_API_KEY"),
        ("openai", "OPENAI_API_KEY"),
        ("gemini", "GEMINI_API_KEY"),
        ("ollama", None),
    ],
)
def test_minimal_config_validates_for_every_provider(provider: str, key_var: str | None) -> None:
    text = minimal_config_yaml(provider=provider, env=ALL_KEYS)
    for value in ALL_KEYS.values():
        assert value not in text
    loaded = load_config(text, env=ALL_KEYS)
    llm = loaded.lean["llms"]["default"]
    assert llm["provider"] == provider
    assert llm.get("api_key") == (f"${{{key_var}}}" if key_var else None)
    assert loaded.config.agents["assistant"].llm == "default"
    assert loaded.config.agents["assistant"].instruction == "You are a helpful assistant."


@pytest.mark.parametrize(
    ("env", "provider"),
    [
        ({"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o", "GEMINI_API_KEY": "g"}, "anthropic"),
        ({"OPENAI_API_KEY": "o", "GEMINI_API_KEY": "g"}, "openai"),
        ({"GEMINI_API_KEY": "g"}, "gemini"),
        ({}, "ollama"),
    ],
)
def test_minimal_config_detects_the_provider(env: dict[str, str], provider: str) -> None:
    text = minimal_config_yaml(env=env)
    assert load_config(text, env=env).lean["llms"]["default"]["provider"] == provider


def test_minimal_config_with_no_env_keys_is_valid_ac_1a() -> None:
    loaded = load_config(minimal_config_yaml(env={}), env={})
    assert loaded.config.llms["default"].provider == "ollama"


def test_minimal_config_never_writes_a_literal_api_key() -> None:
    text = minimal_config_yaml(provider="openai", api_key="sk-literal", env={})
    assert "sk-literal" not in text
    assert "${OPENAI_API_KEY}" in text
    custom = minimal_config_yaml(provider="openai", api_key="${TEAM_KEY}", env={})
    assert load_config(custom, env={"TEAM_KEY": "k"}).lean["llms"]["default"]["api_key"] == (
        "${TEAM_KEY}"
    )


def test_minimal_config_seed_flags_shape_the_file() -> None:
    text = minimal_config_yaml(
        provider="ollama",
        model="llama3.2",
        base_url="http://gpu:11434",
        temperature=0.2,
        max_tokens=2048,
        instruction="Answer in French.",
        tools=["text_editor", "web_fetch", "todo"],
        mcp_url="http://localhost:3000/mcp",
        docs_folder="./docs",
        env={},
    )
    loaded = load_config(text, env={})
    llm = loaded.config.llms["default"]
    assert (llm.model, llm.base_url, llm.temperature, llm.max_tokens) == (
        "llama3.2",
        "http://gpu:11434",
        0.2,
        2048,
    )
    agent = loaded.config.agents["assistant"]
    assert agent.instruction == "Answer in French."
    assert agent.tools == ["files", "web", "todo", "mcp"]
    assert loaded.lean["tools"]["files"] == {"type": "filetool", "filter": ["text_editor"]}
    mcp = loaded.config.tools["mcp"]
    assert isinstance(mcp, MCPToolConfig)
    assert mcp.transport == "streamable-http"
    assert agent.document_stores == ["docs"]
    assert loaded.config.document_stores["docs"].embedder == "default"


def test_minimal_config_tools_all_and_comma_text() -> None:
    everything = load_config(minimal_config_yaml(tools="all", env={}), env={})
    assert set(everything.config.tools) == {"files", "web", "shell", "memory", "todo"}
    some = load_config(minimal_config_yaml(tools="bash, recall", env={}), env={})
    assert some.lean["tools"] == {
        "shell": {"type": "commandtool", "filter": ["bash"]},
        "memory": {"type": "memorytool", "filter": ["recall"]},
    }


def test_minimal_config_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match='unknown tool "hammer"'):
        minimal_config_yaml(tools="hammer", env={})
    with pytest.raises(ValueError, match='unknown provider "mistral"'):
        minimal_config_yaml(provider="mistral", env={})
