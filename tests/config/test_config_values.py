"""Values and defaults: durations, cron and triggers, LLMs, agents, tools."""

from __future__ import annotations

import pickle

import pytest

from agents.cron import cron_fields, is_valid_cron
from agents.durations import Duration, parse_duration
from agents.llm.config import detect_provider
from tests.config.helpers import LLM, issue_at, load, problems
from tools.config import CommandToolConfig, MCPToolConfig, WebToolConfig, detect_mcp_transport

# --- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds", "text"),
    [
        ("500ms", 0.5, "500ms"),
        ("30s", 30.0, "30s"),
        ("5m", 300.0, "5m"),
        ("1h", 3600.0, "1h"),
        ("1h30m", 5400.0, "1h30m"),
        ("1.5h", 5400.0, "1.5h"),
        ("2m3.5s", 123.5, "2m3.5s"),
        ("250us", 0.00025, "250us"),
        (45, 45.0, "45s"),
        ("45", 45.0, "45s"),
        (0, 0.0, "0"),
    ],
)
def test_durations_parse_to_seconds_and_keep_their_text(
    value: str | int, seconds: float, text: str
) -> None:
    duration = parse_duration(value)
    assert duration == pytest.approx(seconds)
    assert duration.text == text


@pytest.mark.parametrize("value", ["", "abc", "5 m", "-5s", "5d", "1.5", -1, 1.5, True, None, "h"])
def test_invalid_durations_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


def test_duration_field_errors_name_the_path() -> None:
    text = "llms:\n  default: {provider: ollama, timeout: soon}\n"
    assert problems(text) == [
        "llms.default.timeout: invalid duration 'soon' (use e.g. 500ms, 30s, 5m, 1h30m, "
        "or whole seconds)"
    ]


def test_duration_is_a_float_that_pickles_and_prints_its_text() -> None:
    duration = Duration.of("1h30m")
    assert duration + 1 == 5401
    assert str(duration) == "1h30m"
    assert duration.as_timedelta().total_seconds() == 5400
    assert pickle.loads(pickle.dumps(duration)).text == "1h30m"
    loaded = load(LLM + "server: {approval: {timeout: 90m}}\n")
    assert loaded.config.server.approval.timeout == 5400
    assert loaded.config.model_dump(mode="json")["server"]["approval"]["timeout"] == "90m"


# --- cron and timezones (AC 12.a) ------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "*/1 * * * *",
        "0 9 * * *",
        "0 9 * * 1-5",
        "15,45 */2 1 jan-jun mon,fri",
        "0 0 1-15/2 * 0",
        "59 23 31 12 7",
        "@hourly",
        "@daily",
        "@weekly",
        "@monthly",
    ],
)
def test_valid_cron(expression: str) -> None:
    assert is_valid_cron(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "61 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 8",
        "* * * *",
        "* * * * * *",
        "*/0 * * * *",
        "5-1 * * * *",
        "5/10 * * * *",
        "@yearly",
        "@reboot",
        "L * * * *",
        "",
    ],
)
def test_invalid_cron(expression: str) -> None:
    assert not is_valid_cron(expression)


def test_cron_macros_expand_to_crontab_fields() -> None:
    assert cron_fields("@weekly") == ("0", "0", "*", "*", "0")
    assert cron_fields("0 9 * * 1-5").day_of_week == "1-5"


def test_invalid_cron_message_ac_12a() -> None:
    text = LLM + "agents:\n  x:\n    trigger: {cron: '61 * * * *'}\n"
    assert problems(text) == ["agents.x.trigger.cron: invalid cron expression"]


def test_timezone_must_be_iana() -> None:
    text = LLM + "agents:\n  x:\n    trigger: {cron: '*/1 * * * *', timezone: Mars/Base}\n"
    assert problems(text) == ['agents.x.trigger.timezone: unknown timezone "Mars/Base"']
    good = load(text.replace("Mars/Base", "Europe/Berlin")).config.agents["x"].trigger
    assert good is not None
    assert good.type == "schedule"
    assert good.timezone == "Europe/Berlin"


def test_schedule_trigger_defaults() -> None:
    trigger = load(LLM + "agents:\n  x: {trigger: {cron: '@daily'}}\n").config.agents["x"].trigger
    assert trigger is not None
    assert trigger.type == "schedule"
    assert (trigger.timezone, trigger.enabled, trigger.catch_up) == ("UTC", True, True)


def test_webhook_trigger_defaults_and_methods() -> None:
    text = LLM + "agents:\n  x: {trigger: {type: webhook, methods: [post, Put]}}\n"
    trigger = load(text).config.agents["x"].trigger
    assert trigger is not None
    assert trigger.type == "webhook"
    assert trigger.methods == ["POST", "PUT"]
    assert trigger.signature_header == "X-Webhook-Signature"
    assert (trigger.response.mode, trigger.response.timeout) == ("sync", 30)
    assert trigger.response.callback_field == "callback_url"


def test_unknown_trigger_type() -> None:
    text = LLM + "agents:\n  x: {trigger: {type: email}}\n"
    assert problems(text) == [
        "agents.x.trigger.type: unknown type \"email\" (expected one of 'schedule', 'webhook')"
    ]


def test_notification_events_accept_dotted_aliases() -> None:
    text = LLM + (
        "agents:\n  x:\n    notifications:\n"
        "      - {id: n, url: 'https://h', events: [task.completed, task_failed]}\n"
    )
    notification = load(text).config.agents["x"].notifications[0]
    assert notification.events == ["task_completed", "task_failed"]
    assert (notification.retry.max_attempts, notification.retry.initial_delay) == (3, 1)
    assert notification.retry.max_delay == 30


@pytest.mark.parametrize(
    ("item", "path", "start"),
    [
        ("{id: n, url: 'https://h', events: []}", "events", "list should have at least 1 item"),
        ("{id: n, url: 'https://h', events: [task.exploded]}", "events[0]", "invalid value"),
        ("{id: n, events: [task_failed]}", "url", "field required"),
        ("{id: n, url: ftp://h, events: [task_failed]}", "url", "url must start with http"),
    ],
)
def test_bad_notifications(item: str, path: str, start: str) -> None:
    text = LLM + f"agents:\n  x:\n    notifications:\n      - {item}\n"
    assert issue_at(text, f"agents.x.notifications[0].{path}").startswith(start)


# --- LLMs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "provider"),
    [
        ({"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}, "anthropic"),
        ({"OPENAI_API_KEY": "o", "GEMINI_API_KEY": "g"}, "openai"),
        ({"GEMINI_API_KEY": "g"}, "gemini"),
        ({}, "ollama"),
    ],
)
def test_provider_is_detected_in_spec_order(env: dict[str, str], provider: str) -> None:
    assert detect_provider(env) == provider
    llm = load("llms:\n  default: {}\nagents:\n  a: {}\n", env).config.llms["default"]
    assert llm.provider == provider


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("anthropic", "claude-haiku-4-5"),
        ("openai", "gpt-4o"),
        ("gemini", "gemini-2.5-pro"),
        ("ollama", "qwen3"),
    ],
)
def test_default_model_per_provider(provider: str, model: str) -> None:
    text = f"llms:\n  default: {{provider: {provider}, api_key: k}}\n"
    llm = load(text).config.llms["default"]
    assert llm.model == model
    assert (llm.temperature, llm.max_tokens, llm.max_retries, llm.timeout) == (0.7, 4096, 3, 120)
    assert llm.max_tool_output_length == 0
    assert llm.api == "responses"


def test_ollama_has_a_local_default_base_url_and_needs_no_key() -> None:
    llm = load(LLM + "agents:\n  a: {}\n").config.llms["default"]
    assert llm.base_url == "http://localhost:11434"
    assert llm.api_key is None


def test_api_key_defaults_to_the_provider_variable() -> None:
    env = {"GOOGLE_API_KEY": "g"}
    assert load("llms:\n  default: {provider: gemini}\n", env).config.llms["default"].api_key == "g"


@pytest.mark.parametrize(
    ("llm", "path", "start"),
    [
        ("{provider: mistral}", "provider", "invalid value \"mistral\" (expected 'anthropic'"),
        ("{provider: ollama, temperature: 2.5}", "temperature", "input should be less than"),
        ("{provider: ollama, max_tokens: 0}", "max_tokens", "input should be greater than"),
        ("{provider: ollama, api: chat}", "api", "api is only supported for provider openai"),
        ("{provider: openai, api: soap}", "api", "invalid value"),
        ("{provider: openai, reasoning_effort: max}", "reasoning_effort", "invalid value"),
        (
            "{provider: anthropic, max_tokens: 2000, thinking: {budget_tokens: 2000}}",
            "thinking",
            "budget_tokens (2000) must be less than max_tokens (2000)",
        ),
    ],
)
def test_bad_llm_values(llm: str, path: str, start: str) -> None:
    text = f"llms:\n  default: {llm}\n"
    assert issue_at(text, f"llms.default.{path}").startswith(start)


def test_thinking_defaults() -> None:
    text = "llms:\n  default: {provider: anthropic, api_key: k, thinking: {}}\n"
    thinking = load(text).config.llms["default"].thinking
    assert thinking is not None
    assert (thinking.enabled, thinking.budget_tokens) == (True, 1024)


def test_thinking_budget_makes_room_in_an_unset_max_tokens() -> None:
    text = "llms:\n  default: {provider: anthropic, api_key: k, thinking: {budget_tokens: 4096}}\n"
    assert load(text).config.llms["default"].max_tokens == 8192
    lean = load(text).lean["llms"]["default"]
    assert "max_tokens" not in lean


# --- agents and defaults -----------------------------------------------------------------------


def test_agent_defaults() -> None:
    agent = load(LLM + "agents:\n  a: {description: Helps.}\n").config.agents["a"]
    assert (agent.type, agent.llm, agent.streaming, agent.visibility) == (
        "llm",
        "default",
        True,
        "public",
    )
    assert agent.input_modes == agent.output_modes == ["text/plain"]
    assert agent.reasoning.max_iterations == 100
    assert agent.context.strategy == "none"
    assert agent.include_context is False
    assert agent.skills is not None
    assert agent.skills[0].id == "a"
    assert agent.skills[0].description == "Helps."


def test_defaults_section_fills_agents_but_never_overrides() -> None:
    text = LLM + (
        "guardrails: {g: {}}\n"
        "defaults: {streaming: false, visibility: internal, guardrails: g}\n"
        "agents:\n  a: {}\n  b: {streaming: true, visibility: public}\n"
    )
    agents = load(text).config.agents
    assert (agents["a"].streaming, agents["a"].visibility, agents["a"].guardrails) == (
        False,
        "internal",
        "g",
    )
    assert (agents["b"].streaming, agents["b"].visibility) == (True, "public")


def test_loop_default_iterations() -> None:
    text = LLM + "agents:\n  c: {}\n  l: {type: loop, sub_agents: [c]}\n"
    assert load(text).config.agents["l"].max_iterations == 3


def test_context_keys_must_fit_the_strategy() -> None:
    text = LLM + "agents:\n  a: {context: {strategy: buffer_window, budget: 100}}\n"
    assert problems(text) == [
        "agents.a.context: budget does not apply to strategy buffer_window "
        "(used by: token_window, summary_buffer)"
    ]


def test_version_must_be_2() -> None:
    assert problems("version: '1'\n") == [
        "version: unsupported config version '1' (expected \"2\")"
    ]
    assert problems("version: 2.0\n") == ['version: unsupported config version 2.0 (expected "2")']
    assert load("version: 2\n").config.version == "2"


# --- tools ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "url", "transport"),
    [
        ("npx", None, "stdio"),
        (None, "http://localhost:8000/sse", "sse"),
        (None, "https://x/mcp/sse/?k=1", "sse"),
        (None, "https://x/mcp", "streamable-http"),
        (None, None, None),
    ],
)
def test_mcp_transport_detection(command: str | None, url: str | None, transport: str) -> None:
    assert detect_mcp_transport(command, url) == transport


def test_mcp_transport_is_filled_and_checked() -> None:
    config = load(LLM + "tools:\n  m: {type: mcp, url: 'http://h/sse'}\n").config
    mcp = config.tools["m"]
    assert isinstance(mcp, MCPToolConfig)
    assert mcp.transport == "sse"
    assert problems(LLM + "tools:\n  m: {type: mcp}\n") == [
        "tools.m: mcp tool requires url or command"
    ]
    assert problems(LLM + "tools:\n  m: {type: mcp, transport: stdio, url: 'http://h'}\n") == [
        "tools.m: transport stdio requires command"
    ]


@pytest.mark.parametrize(
    ("tool", "approval"),
    [
        ("{type: command}", True),
        ("{type: commandtool, require_approval: false}", False),
        ("{type: mcp, command: x}", False),
        ("{type: function, handler: f}", False),
        ("{type: memorytool}", False),
        ("{type: searchtool}", False),
        ("{type: todotool}", False),
        ("{type: filetool}", None),
        ("{type: webtool}", None),
        ("{type: approvaltool}", None),
    ],
)
def test_approval_defaults_per_tool_type(tool: str, approval: bool | None) -> None:
    config = load(LLM + f"tools:\n  t: {tool}\n").config
    assert config.tools["t"].require_approval is approval


def test_command_tool_sandbox_defaults() -> None:
    config = load(
        LLM + "tools:\n  a: {type: command}\n  b: {type: command, allowed_commands: [ls]}\n"
    )
    a, b = config.config.tools["a"], config.config.tools["b"]
    assert isinstance(a, CommandToolConfig)
    assert isinstance(b, CommandToolConfig)
    assert a.deny_by_default is False
    assert b.deny_by_default is True
    assert a.max_execution_time == 30
    assert a.working_directory == "./"
    assert a.timeout == 60


def test_builtin_tool_filters_are_checked() -> None:
    assert problems(LLM + "tools:\n  f: {type: filetool, filter: [rm_rf]}\n") == [
        'tools.f.filter: unknown tool "rm_rf" (available: text_editor, grep_search, apply_patch, '
        "read_file, write_file)"
    ]


def test_approvaltool_rejects_require_approval() -> None:
    text = LLM + "tools:\n  a: {type: approvaltool, require_approval: true}\n"
    assert issue_at(text, "tools.a.require_approval").startswith("require_approval does not apply")


def test_webtool_limits() -> None:
    web = load(LLM + "tools:\n  w: {type: webtool}\n").config.tools["w"]
    assert isinstance(web, WebToolConfig)
    assert (web.timeout, web.max_response_size, web.max_redirects) == (
        30,
        5 * 1024 * 1024,
        5,
    )
