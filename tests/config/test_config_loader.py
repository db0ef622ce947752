"""Loading: interpolation, the lean form, error locations, YAML problems (SPEC 2.2, 2.3)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agents.config_loader import (
    ConfigError,
    format_issue,
    load_config,
    load_config_data,
    load_config_file,
)
from agents.errors import ConfigIssue
from tests.config.helpers import LLM, issue_at, load, problems

BAD_YAML = textwrap.dedent(
    """\
    version: "2"
    llms:
      default:
        provider: anthropic
        model: claude-sonnet-4
        api_key: sk-test
      claude:
        provider: anthropic
        api_key: sk-test
    agents:
      writer:
        llm: gpt5
        instruction: Write.
    """
)


def test_unknown_llm_is_reported_with_line_and_column_ac_1d() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(BAD_YAML, source="bad.yaml", env={})
    [issue] = caught.value.errors
    assert issue == ConfigIssue(
        path="agents.writer.llm",
        message='unknown llm "gpt5" (defined: default, claude)',
        line=12,
        column=5,
    )
    assert format_issue("bad.yaml", issue) == (
        'bad.yaml:12:5: agents.writer.llm: unknown llm "gpt5" (defined: default, claude)'
    )


def test_missing_variable_names_itself_and_the_field_ac_2a() -> None:
    text = LLM + "agents:\n  a:\n    instruction: ${MISSING}\n"
    assert problems(text) == ["agents.a.instruction: environment variable MISSING is not set"]


@pytest.mark.parametrize(
    ("reference", "env", "expected"),
    [
        ("${MISSING:hi}", {}, "hi"),
        ("${MISSING:-hi}", {}, "hi"),
        ("${EMPTY:hi}", {"EMPTY": ""}, "hi"),
        ("${EMPTY}", {"EMPTY": ""}, ""),
        ("${SET:hi}", {"SET": "there"}, "there"),
        ("Hello ${WHO}, I am ${ME:bot}.", {"WHO": "Ann"}, "Hello Ann, I am bot."),
        ("literal $${NOT_A_VAR} and {user:name}", {}, "literal ${NOT_A_VAR} and {user:name}"),
        ("${MISSING:}", {}, ""),
    ],
)
def test_interpolation_forms(reference: str, env: dict[str, str], expected: str) -> None:
    text = LLM + f"agents:\n  a:\n    instruction: '{reference}'\n"
    assert load(text, env).config.agents["a"].instruction == expected


def test_interpolation_feeds_typed_fields() -> None:
    text = LLM + "server:\n  port: ${PORT:9090}\n  trust_user_header: ${TRUST:false}\n"
    server = load(text, {}).config.server
    assert server.port == 9090
    assert server.trust_user_header is False


def test_lean_form_keeps_placeholders_and_omits_defaults() -> None:
    text = textwrap.dedent(
        """\
        llms:
          default: {provider: anthropic, model: claude-sonnet-4, api_key: ${ANTHROPIC_API_KEY}}
        agents:
          assistant: {llm: default, instruction: You are a helpful assistant.}
        """
    )
    loaded = load(text, {"ANTHROPIC_API_KEY": "sk-secret"})
    assert loaded.lean == {
        "llms": {
            "default": {
                "provider": "anthropic",
                "model": "claude-sonnet-4",
                "api_key": "${ANTHROPIC_API_KEY}",
            }
        },
        "agents": {"assistant": {"llm": "default", "instruction": "You are a helpful assistant."}},
    }
    assert "sk-secret" not in repr(loaded.lean)
    assert loaded.config.llms["default"].api_key == "sk-secret"
    assert loaded.config.llms["default"].max_tokens == 4096  # default applied, not in lean


def test_unset_api_key_of_an_unused_llm_is_not_an_error() -> None:
    text = textwrap.dedent(
        """\
        llms:
          default: {provider: ollama}
          spare: {provider: openai, api_key: ${SPARE_KEY}}
        agents:
          a: {instruction: hi}
        """
    )
    config = load(text, {}).config
    assert config.llms["spare"].api_key is None


def test_unset_api_key_of_a_used_llm_is_an_error() -> None:
    text = textwrap.dedent(
        """\
        llms:
          default: {provider: ollama}
          paid: {provider: openai, api_key: ${PAID_KEY}}
        agents:
          a: {llm: paid}
        """
    )
    assert problems(text) == ["llms.paid.api_key: environment variable PAID_KEY is not set"]


def test_unset_api_key_of_the_default_llm_is_an_error() -> None:
    text = "llms:\n  default: {provider: gemini, api_key: ${GEMINI_KEY}}\nagents:\n  a: {}\n"
    assert problems(text) == ["llms.default.api_key: environment variable GEMINI_KEY is not set"]


def test_used_hosted_llm_without_any_key_names_the_provider_variable() -> None:
    text = "llms:\n  default: {provider: anthropic}\nagents:\n  a: {}\n"
    assert issue_at(text, "llms.default.api_key").startswith(
        "environment variable ANTHROPIC_API_KEY is not set"
    )
    assert load(text, {"ANTHROPIC_API_KEY": "k"}).config.llms["default"].api_key == "k"


def test_keyless_openai_compatible_server_is_fine() -> None:
    text = "llms:\n  default: {provider: openai, api: chat, base_url: http://vllm:8000/v1}\n"
    assert load(text + "agents:\n  a: {}\n").config.llms["default"].api == "chat"


def test_unknown_top_level_key_suggests_the_right_one_ac_2b() -> None:
    assert problems("agnets:\n  a: {}\n") == ['agnets: unknown field (did you mean "agents"?)']


def test_unknown_nested_keys_suggest_within_their_section() -> None:
    text = LLM + "agents:\n  a:\n    instrucion: hi\n    frobnicate: 1\n"
    assert problems(text) == [
        'agents.a.instrucion: unknown field (did you mean "instruction"?)',
        "agents.a.frobnicate: unknown field",
    ]


def test_union_tags_never_appear_in_paths() -> None:
    text = LLM + "tools:\n  fs:\n    type: mcp\n    command: npx\n    filter: [1, {a: b}]\n"
    assert problems(text) == ["tools.fs.filter[1]: input should be a valid string"]
    text = LLM + "tools:\n  sh:\n    type: command\n    command: ls\n"
    assert problems(text) == ["tools.sh.command: unknown field"]


def test_unknown_tool_type_lists_the_types() -> None:
    message = issue_at(LLM + "tools:\n  t: {type: hammer}\n", "tools.t.type")
    assert message.startswith('unknown type "hammer" (expected one of ')
    assert "'mcp'" in message
    assert "'filetool'" in message


def test_all_errors_are_reported_at_once_in_file_order() -> None:
    text = textwrap.dedent(
        """\
        agnets: {}
        llms:
          default: {provider: nope}
        agents:
          a:
            llm: ghost
            instruction: ${NOPE}
            tools: [hammer]
          b:
            type: loop
        """
    )
    with pytest.raises(ConfigError) as caught:
        load(text)
    found = [(i.line, i.path) for i in caught.value.errors]
    assert found == [
        (1, "agnets"),
        (3, "llms.default.provider"),
        (6, "agents.a.llm"),
        (7, "agents.a.instruction"),
        (8, "agents.a.tools[0]"),
        (9, "agents.b.sub_agents"),
    ]


def test_missing_key_falls_back_to_the_nearest_written_parent() -> None:
    with pytest.raises(ConfigError) as caught:
        load(LLM + "agents:\n  r:\n    type: remote\n")
    [issue] = caught.value.errors
    assert (issue.path, issue.line, issue.column) == ("agents.r.url", 4, 3)


def test_invalid_yaml_is_one_issue_at_the_error_position() -> None:
    with pytest.raises(ConfigError) as caught:
        load("agents:\n  a: {llm: x\n  b: 1\n")
    [issue] = caught.value.errors
    assert issue.path == ""
    assert issue.message.startswith("invalid YAML: ")
    assert issue.line == 3
    assert format_issue("bad.yaml", issue).startswith("bad.yaml:3:")


def test_tabs_and_multiple_documents_are_yaml_errors() -> None:
    assert problems("agents:\n\ta: {}\n")[0].startswith("invalid YAML")
    assert problems("agents: {}\n---\nllms: {}\n")[0].startswith("invalid YAML")


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n"])
def test_empty_document_is_a_valid_empty_config(text: str) -> None:
    loaded = load(text)
    assert loaded.lean == {}
    assert loaded.config.agents == {}


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n"])
def test_document_must_be_a_mapping(text: str) -> None:
    [message] = problems(text)
    assert message.startswith("a config document must be a mapping of sections")


def test_duplicate_keys_are_errors() -> None:
    text = LLM + "agents:\n  a: {instruction: one}\n  a: {instruction: two}\n"
    with pytest.raises(ConfigError) as caught:
        load(text)
    [issue] = caught.value.errors
    assert (issue.path, issue.message, issue.line) == ("agents.a", "duplicate key", 5)


def test_yaml_12_booleans_and_no_timestamps() -> None:
    text = LLM + "guardrails:\n  off: {enabled: false}\n  no: {}\nname: 2024-01-01\n"
    config = load(text).config
    assert set(config.guardrails) == {"off", "no"}
    assert config.name == "2024-01-01"


def test_placeholders_inside_flow_collections_keep_their_columns() -> None:
    text = "llms:\n  default: {provider: openai, api_key: ${KEY}, model: ${M:-gpt-4o}}\nx: 1\n"
    with pytest.raises(ConfigError) as caught:
        load(text, {"KEY": "k"})
    [issue] = caught.value.errors
    assert (issue.path, issue.line, issue.column) == ("x", 3, 1)
    loaded = load(text.replace("x: 1\n", ""), {"KEY": "k"})
    assert loaded.lean["llms"]["default"]["model"] == "${M:-gpt-4o}"
    assert loaded.config.llms["default"].model == "gpt-4o"


def test_json_documents_have_no_positions() -> None:
    data = {"llms": {"default": {"provider": "ollama"}}, "agents": {"w": {"llm": "gpt5"}}}
    with pytest.raises(ConfigError) as caught:
        load_config_data(data, env={})
    [issue] = caught.value.errors
    assert (issue.line, issue.column) == (None, None)
    assert issue.path == "agents.w.llm"
    assert caught.value.source == "config_json"
    assert format_issue("config_json", issue).startswith("config_json: agents.w.llm: unknown")


def test_json_documents_load_and_keep_their_lean_copy() -> None:
    data = {"llms": {"default": {"provider": "ollama"}}, "agents": {"a": {"instruction": "hi"}}}
    loaded = load_config_data(data, env={})
    assert loaded.lean == data
    assert loaded.lean is not data
    assert loaded.config.agents["a"].llm == "default"


def test_config_error_text_names_the_first_issue() -> None:
    with pytest.raises(ConfigError) as caught:
        load(LLM + "agents:\n  w: {llm: gpt5}\n  v: {llm: gpt6}\n")
    assert str(caught.value).startswith('agents.w.llm: unknown llm "gpt5"')
    assert str(caught.value).endswith("(and 1 more)")
    assert caught.value.code == "config_invalid"


def test_file_loading_reads_dotenv_beside_the_file_and_env_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# secrets\nexport GREETING='Hello from dotenv'\nWHO=dotenv\nQUOTED=\"a\\nb\"\n"
    )
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        LLM + "agents:\n  a: {instruction: '${GREETING}, ${WHO}', description: '${QUOTED}'}\n"
    )
    loaded = load_config_file(config_file, env={"WHO": "environment"})
    assert loaded.config.agents["a"].instruction == "Hello from dotenv, environment"
    assert loaded.config.agents["a"].description == "a\nb"
    assert loaded.lean["agents"]["a"]["instruction"] == "${GREETING}, ${WHO}"


def test_file_loading_checks_referenced_files(tmp_path: Path) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(LLM + "agents:\n  a: {instruction_file: SKILL.md}\n")
    with pytest.raises(ConfigError) as caught:
        load_config_file(config_file, env={})
    assert caught.value.errors[0].message == "file not found: SKILL.md"
    (tmp_path / "SKILL.md").write_text("---\nname: a\n---\nDo things.\n")
    assert load_config_file(config_file, env={}).config.agents["a"].instruction_file == "SKILL.md"


def test_file_loading_of_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_config_file(tmp_path / "nope.yaml", env={})


def test_empty_sections_and_entries_mean_absent_and_defaults() -> None:
    text = "llms:\n  default:\n    provider: ollama\ntools:\nagents:\n  assistant:\n"
    loaded = load(text)
    assert loaded.config.tools == {}
    assert loaded.config.agents["assistant"].llm == "default"
    assert loaded.lean["agents"] == {"assistant": None}  # the lean form stays as written


def test_anchors_and_merge_keys_work() -> None:
    text = textwrap.dedent(
        """\
        llms:
          default: &base {provider: ollama, temperature: 0.1}
          hot:
            <<: *base
            temperature: 1.5
        agents:
          a: {llm: hot, frobnicate: 1}
        """
    )
    with pytest.raises(ConfigError) as caught:
        load(text)
    [issue] = caught.value.errors
    assert (issue.path, issue.line) == ("agents.a.frobnicate", 7)
    config = load(text.replace(", frobnicate: 1", "")).config
    assert (config.llms["hot"].provider, config.llms["hot"].temperature) == ("ollama", 1.5)


def test_alias_bombs_are_refused_quickly() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    [message] = problems("\n".join(lines) + "\n")
    assert message.startswith("invalid YAML: document too large")
