"""Forms that write config sections without YAML: LLM providers, tools, guardrails, agents.

Each form edits the keys it knows and keeps every other key of the entry as it was, so editing
an entry written by hand never loses what the form does not show. Empty fields are left out of
the document (the lean config holds only what a person chose). Whether the values make a valid
config is decided by the config loader, not here; its errors come back by YAML path and
`add_config_errors` puts each on the field it belongs to.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from django import forms

from agents.config import AGENT_NAME_PATTERN, AGENT_TYPES
from apps.tenancy.models import APP_ID_PATTERN

NAME_HELP = "Letters, digits, '-' and '_'; starts with a letter or digit. Cannot be changed later."
PROVIDERS = ("openai", "anthropic", "gemini", "ollama")
TOOL_TYPES = (
    ("mcp", "MCP server"),
    ("function", "Python function (registered in code)"),
    ("command", "Shell commands"),
    ("filetool", "Files (read, write, search)"),
    ("webtool", "Web (fetch, request, search)"),
    ("memorytool", "Long-term memory"),
    ("searchtool", "Document search (RAG)"),
    ("todotool", "Todo list"),
    ("approvaltool", "Ask a person for approval"),
)
_PATH_HEAD = re.compile(r"^([^.\[]+)")


# --- Apps ---------------------------------------------------------------------------------------


class AppCreateForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="Shown in the app switcher; unique.")
    id = forms.RegexField(
        regex=APP_ID_PATTERN,
        required=False,
        max_length=63,
        help_text="Optional: lowercase letters, digits and '-'. Generated when empty.",
        error_messages={"invalid": "Use lowercase letters, digits and '-' (start with one)."},
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


# --- Helpers ------------------------------------------------------------------------------------


def _words(value: str) -> list[str]:
    """`a, b c` -> ["a", "b", "c"] (commas or whitespace)."""
    return [w for w in re.split(r"[\s,]+", value or "") if w]


def _lines(value: str) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def _pairs(value: str, separator: str, field: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for number, line in enumerate(_lines(value), start=1):
        key, found, rest = line.partition(separator)
        if not found or not key.strip():
            raise forms.ValidationError(f"line {number}: expected KEY{separator}VALUE")
        pairs[key.strip()] = rest.strip()
    return pairs


def _get(entry: Mapping[str, Any], path: Sequence[str]) -> Any:
    node: Any = entry
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _set(entry: dict[str, Any], path: Sequence[str], value: Any) -> None:
    """Set `path` to `value`; None (or empty) removes it, and parents left empty with it."""
    *parents, last = path
    node = entry
    trail: list[tuple[dict[str, Any], str]] = []
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            if value in (None, "", [], {}):
                return
            child = {}
            node[key] = child
        trail.append((node, key))
        node = child
    if value in (None, "", [], {}):
        node.pop(last, None)
        for parent, key in reversed(trail):
            if parent[key]:
                break
            del parent[key]
    else:
        node[last] = value


class EntryForm(forms.Form):
    """A form for one `<section>.<name>` entry of the config."""

    section: ClassVar[str]
    #: YAML path below the entry -> form field, for paths that are not simply the field name.
    paths: ClassVar[dict[str, str]] = {}
    #: (form field, YAML path below the entry) for every key this form writes.
    keys: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = ()
    #: (legend, `select:value,value` it applies to, fields): optional fieldsets after the rest.
    groups: ClassVar[tuple[tuple[str, str, tuple[str, ...]], ...]] = ()

    name = forms.RegexField(
        regex=AGENT_NAME_PATTERN,
        max_length=64,
        help_text=NAME_HELP,
        error_messages={"invalid": "Use letters, digits, '-' and '_' (start with one)."},
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        entry: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.entry: dict[str, Any] = copy.deepcopy(dict(entry or {}))
        self.entry_name = name
        self.is_new = name is None
        self.config = config or {}
        super().__init__(data, initial={"name": name, **self.initial_from(self.entry)})
        if not self.is_new:
            self.fields["name"].disabled = True
            self.fields["name"].help_text = ""
        self.setup()

    def setup(self) -> None:
        """Choices that depend on the rest of the config."""

    def fieldsets(self) -> list[tuple[str, str, list[forms.BoundField]]]:
        """The always-shown fields first (no legend), then each group."""
        grouped = {name for _, _, names in self.groups for name in names}
        plain = [self[name] for name in self.fields if name not in grouped]
        return [("", "", plain)] + [
            (legend, shown_for, [self[name] for name in names])
            for legend, shown_for, names in self.groups
        ]

    def initial_from(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        return {field: self.show(field, _get(entry, path)) for field, path in self.keys}

    def show(self, field: str, value: Any) -> Any:
        """How a stored value appears in its field (lists as text, booleans as choices)."""
        if isinstance(self.base_fields[field], forms.MultipleChoiceField):
            return list(value or [])
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if isinstance(value, dict):
            separator = ": " if field.endswith("headers") else "="
            return "\n".join(f"{k}{separator}{v}" for k, v in value.items())
        return value

    def body(self) -> dict[str, Any]:
        """The entry to store: the original with this form's keys replaced."""
        entry = copy.deepcopy(self.entry)
        for field, path in self.keys:
            _set(entry, path, self.cleaned_data.get(field))
        return entry

    def add_config_errors(self, details: Sequence[Mapping[str, Any]], name: str) -> None:
        """Put each config issue on its field; issues elsewhere go above the form, with path."""
        prefix = f"{self.section}.{name}"
        for issue in details:
            path, message = str(issue.get("path") or ""), str(issue.get("message") or "")
            field = (
                self._field_for(path[len(prefix) :].lstrip("."))
                if path.startswith(prefix)
                else None
            )
            if field is not None:
                self.add_error(field, message)
            else:
                self.add_error(None, f"{path}: {message}" if path else message)

    def _field_for(self, rest: str) -> str | None:
        if rest in self.paths:
            return self.paths[rest]
        head = _PATH_HEAD.match(rest)
        if head is None:
            return None
        key = head.group(1)
        return self.paths.get(key, key if key in self.fields and key != "name" else None)


def _optional_int(**kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(required=False, **kwargs)


# --- LLM providers ------------------------------------------------------------------------------


class LLMForm(EntryForm):
    section = "llms"
    keys = (
        ("provider", ("provider",)),
        ("model", ("model",)),
        ("api_key", ("api_key",)),
        ("base_url", ("base_url",)),
        ("api", ("api",)),
        ("temperature", ("temperature",)),
        ("max_tokens", ("max_tokens",)),
        ("thinking_budget", ("thinking", "budget_tokens")),
        ("timeout", ("timeout",)),
        ("max_retries", ("max_retries",)),
    )
    paths = {"thinking.budget_tokens": "thinking_budget", "thinking": "thinking_budget"}

    provider = forms.ChoiceField(choices=[(p, p) for p in PROVIDERS])
    model = forms.CharField(required=False, help_text="Empty: the provider's default model.")
    api_key = forms.CharField(
        required=False,
        label="API key",
        help_text="Write ${OPENAI_API_KEY}-style placeholders: the value is stored as typed.",
    )
    base_url = forms.CharField(
        required=False,
        label="Base URL",
        help_text="For proxies and OpenAI-compatible servers (vLLM, llama.cpp).",
    )
    api = forms.ChoiceField(
        required=False,
        label="API",
        choices=[("", "default (responses)"), ("responses", "responses"), ("chat", "chat")],
        help_text="openai only: Chat Completions for compatible servers without Responses.",
    )
    temperature = forms.FloatField(required=False, help_text="0 to 2; default 0.7.")
    max_tokens = _optional_int(help_text="Default 4096.")
    thinking_budget = _optional_int(
        label="Thinking budget", help_text="Tokens of extended thinking; empty: thinking off."
    )
    timeout = forms.CharField(required=False, help_text="Per request, e.g. 120s or 2m.")
    max_retries = _optional_int(help_text="Default 3.")

    def body(self) -> dict[str, Any]:
        entry = super().body()
        if self.cleaned_data.get("thinking_budget"):
            entry["thinking"] = {**(entry.get("thinking") or {}), "enabled": True}
            entry["thinking"]["budget_tokens"] = self.cleaned_data["thinking_budget"]
        else:
            entry.pop("thinking", None)
        return entry


class _ApprovalSelect(forms.NullBooleanSelect):
    def __init__(self) -> None:
        super().__init__()
        self.choices = [("unknown", "Default for the type"), ("true", "Yes"), ("false", "No")]


# --- Tools --------------------------------------------------------------------------------------


class ToolForm(EntryForm):
    section = "tools"
    keys = (
        ("type", ("type",)),
        ("description", ("description",)),
        ("require_approval", ("require_approval",)),
        ("timeout", ("timeout",)),
        ("transport", ("transport",)),
        ("url", ("url",)),
        ("command", ("command",)),
        ("args", ("args",)),
        ("env", ("env",)),
        ("headers", ("headers",)),
        ("filter", ("filter",)),
        ("prefix", ("prefix",)),
        ("handler", ("handler",)),
        ("allowed_commands", ("allowed_commands",)),
        ("working_directory", ("working_directory",)),
    )

    groups = (
        (
            "MCP server",
            "type:mcp",
            ("transport", "url", "command", "args", "env", "headers", "prefix"),
        ),
        ("Function", "type:function", ("handler",)),
        ("Commands", "type:command", ("allowed_commands", "working_directory")),
        (
            "Exposed tools",
            "type:" + ",".join(t for t, _ in TOOL_TYPES if t != "function"),
            ("filter",),
        ),
    )

    type = forms.ChoiceField(choices=TOOL_TYPES)
    description = forms.CharField(required=False)
    require_approval = forms.NullBooleanField(
        required=False, widget=_ApprovalSelect(), help_text="Ask a person before each call."
    )
    timeout = forms.CharField(required=False, help_text="Per call, e.g. 60s.")
    transport = forms.ChoiceField(
        required=False,
        choices=[
            ("", "auto (command: stdio; URL ending /sse: sse; other URL: HTTP)"),
            ("stdio", "stdio"),
            ("sse", "sse"),
            ("streamable-http", "streamable-http"),
        ],
    )
    url = forms.CharField(required=False, label="URL", help_text="MCP server URL.")
    command = forms.CharField(required=False, help_text="stdio: the program to start.")
    args = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="One per line."
    )
    env = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="KEY=VALUE lines."
    )
    headers = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Name: value lines."
    )
    filter = forms.CharField(required=False, help_text="Expose only these tools (comma list).")
    prefix = forms.CharField(required=False, help_text="Prepended to every tool name.")
    handler = forms.CharField(required=False, help_text="Name registered in Python code.")
    allowed_commands = forms.CharField(required=False, help_text="Comma list; others refused.")
    working_directory = forms.CharField(required=False)

    def show(self, field: str, value: Any) -> Any:
        if field == "args":
            return "\n".join(str(v) for v in value or [])
        return super().show(field, value)

    def clean_args(self) -> list[str]:
        return _lines(self.cleaned_data.get("args", ""))

    def clean_env(self) -> dict[str, str]:
        return _pairs(self.cleaned_data.get("env", ""), "=", "env")

    def clean_headers(self) -> dict[str, str]:
        return _pairs(self.cleaned_data.get("headers", ""), ":", "headers")

    def clean_filter(self) -> list[str]:
        return _words(self.cleaned_data.get("filter", ""))

    def clean_allowed_commands(self) -> list[str]:
        return _words(self.cleaned_data.get("allowed_commands", ""))


# --- Guardrails ---------------------------------------------------------------------------------


class GuardrailForm(EntryForm):
    section = "guardrails"
    keys = (
        ("chain_mode", ("chain_mode",)),
        ("max_length", ("input", "length", "max_length")),
        ("injection_action", ("input", "injection", "action")),
        ("block_patterns", ("input", "pattern", "block_patterns")),
        ("pii_redact_mode", ("output", "pii", "redact_mode")),
        ("blocked_keywords", ("output", "content", "blocked_keywords")),
        ("blocked_tools", ("tool", "authorization", "blocked_tools")),
    )
    paths = {
        "input.length": "max_length",
        "input.length.max_length": "max_length",
        "input.injection": "injection_action",
        "input.injection.action": "injection_action",
        "input.pattern": "block_patterns",
        "input.pattern.block_patterns": "block_patterns",
        "output.pii": "pii_redact_mode",
        "output.pii.redact_mode": "pii_redact_mode",
        "output.content": "blocked_keywords",
        "output.content.blocked_keywords": "blocked_keywords",
        "tool.authorization": "blocked_tools",
        "tool.authorization.blocked_tools": "blocked_tools",
    }
    _actions = [("", "off"), ("block", "block"), ("warn", "warn")]

    chain_mode = forms.ChoiceField(
        required=False,
        choices=[
            ("", "default (fail_fast)"),
            ("fail_fast", "fail_fast"),
            ("collect_all", "collect_all"),
        ],
    )
    max_length = _optional_int(
        label="Input: maximum length", help_text="Characters; empty: no length check."
    )
    injection_action = forms.ChoiceField(
        required=False, choices=_actions, label="Input: prompt-injection check"
    )
    block_patterns = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Input: blocked patterns",
        help_text="Regular expressions, one per line.",
    )
    pii_redact_mode = forms.ChoiceField(
        required=False,
        choices=[("", "off"), ("mask", "mask"), ("remove", "remove"), ("hash", "hash")],
        label="Output: PII redaction",
        help_text="E-mail addresses, phone numbers, SSNs and card numbers.",
    )
    blocked_keywords = forms.CharField(
        required=False, label="Output: blocked keywords", help_text="Comma list."
    )
    blocked_tools = forms.CharField(
        required=False, label="Tools: blocked", help_text="Tool names or globs, comma list."
    )

    def show(self, field: str, value: Any) -> Any:
        if field == "block_patterns":
            return "\n".join(str(v) for v in value or [])
        return super().show(field, value)

    def clean_block_patterns(self) -> list[str]:
        return _lines(self.cleaned_data.get("block_patterns", ""))

    def clean_blocked_keywords(self) -> list[str]:
        return [
            w.strip() for w in self.cleaned_data.get("blocked_keywords", "").split(",") if w.strip()
        ]

    def clean_blocked_tools(self) -> list[str]:
        return _words(self.cleaned_data.get("blocked_tools", ""))


# --- Agents -------------------------------------------------------------------------------------


class AgentForm(EntryForm):
    section = "agents"
    keys = (
        ("type", ("type",)),
        ("description", ("description",)),
        ("llm", ("llm",)),
        ("instruction", ("instruction",)),
        ("tools", ("tools",)),
        ("sub_agents", ("sub_agents",)),
        ("agent_tools", ("agent_tools",)),
        ("guardrails", ("guardrails",)),
        ("visibility", ("visibility",)),
        ("output_key", ("output_key",)),
        ("max_iterations", ("max_iterations",)),
        ("url", ("url",)),
        ("condition_agent", ("condition_agent",)),
        ("condition_field", ("condition_field",)),
        ("on_true_agent", ("on_true_agent",)),
        ("on_false_agent", ("on_false_agent",)),
        ("on_true_response", ("on_true_response",)),
        ("on_false_response", ("on_false_response",)),
    )

    groups = (
        ("Loop", "type:loop", ("max_iterations",)),
        ("Remote A2A agent", "type:remote", ("url",)),
        (
            "Conditional",
            "type:conditional",
            (
                "condition_agent",
                "condition_field",
                "on_true_agent",
                "on_false_agent",
                "on_true_response",
                "on_false_response",
            ),
        ),
    )

    type = forms.ChoiceField(
        choices=[("", "llm (default)")] + [(t, t) for t in AGENT_TYPES[1:]], required=False
    )
    description = forms.CharField(required=False)
    llm = forms.ChoiceField(required=False, label="LLM")
    instruction = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Templated every turn: {var}, {user:var}, {app:var}, {artifact.NAME}.",
    )
    tools = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, choices=[]
    )
    sub_agents = forms.CharField(
        required=False,
        label="Sub-agents",
        help_text="In order, comma list. Workflows run them; llm agents can transfer to them.",
    )
    agent_tools = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, choices=[], label="Agents as tools"
    )
    guardrails = forms.ChoiceField(required=False)
    visibility = forms.ChoiceField(
        required=False,
        choices=[
            ("", "default (public)"),
            ("public", "public"),
            ("internal", "internal"),
            ("private", "private"),
        ],
    )
    output_key = forms.CharField(required=False, help_text="Session state key for the answer.")
    max_iterations = _optional_int(help_text="loop: rounds (default 3).")
    url = forms.CharField(required=False, label="URL", help_text="remote: the A2A agent's URL.")
    condition_agent = forms.ChoiceField(required=False)
    condition_field = forms.CharField(required=False, help_text="Default: safe.")
    on_true_agent = forms.ChoiceField(required=False)
    on_false_agent = forms.ChoiceField(required=False)
    on_true_response = forms.CharField(required=False, help_text="Answer verbatim, no LLM call.")
    on_false_response = forms.CharField(required=False)

    def setup(self) -> None:
        def names(section: str) -> list[str]:
            return list((self.config.get(section) or {}).keys())

        agents = [a for a in names("agents") if a != self.entry_name]
        blank = [("", "—")]
        self.fields["llm"].choices = [("", "default LLM")] + [(n, n) for n in names("llms")]
        self.fields["guardrails"].choices = [("", "default")] + [
            (n, n) for n in names("guardrails")
        ]
        self.fields["tools"].choices = [(n, n) for n in names("tools")]
        self.fields["agent_tools"].choices = [(n, n) for n in agents]
        for field in ("condition_agent", "on_true_agent", "on_false_agent"):
            self.fields[field].choices = blank + [(n, n) for n in agents]
        if agents:
            self.fields["sub_agents"].help_text += f" Agents: {', '.join(agents)}."

    def clean_sub_agents(self) -> list[str]:
        return _words(self.cleaned_data.get("sub_agents", ""))
