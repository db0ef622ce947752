"""Cross-references and whole-document rules (SPEC 2.3, 4.2, 4.3, 9.2, 12.2)."""

from __future__ import annotations

import textwrap

import pytest

from agents.triggers import WebhookTrigger
from tests.config.helpers import LLM, issue_at, load, problems


def doc(body: str) -> str:
    return LLM + textwrap.dedent(body)


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        (
            "agents:\n  a: {llm: gpt5}\n",
            "agents.a.llm",
            'unknown llm "gpt5" (defined: default)',
        ),
        (
            "agents:\n  a: {tools: [hammer]}\n",
            "agents.a.tools[0]",
            'unknown tool "hammer" (none defined)',
        ),
        (
            "agents:\n  a: {sub_agents: [x]}\n",
            "agents.a.sub_agents[0]",
            'agent "x" not found in sub_agents',
        ),
        (
            "agents:\n  a: {agent_tools: [b, x]}\n  b: {}\n",
            "agents.a.agent_tools[1]",
            'agent "x" not found in agent_tools',
        ),
        (
            "agents:\n  a: {guardrails: strict}\n",
            "agents.a.guardrails",
            'unknown guardrails "strict" (none defined)',
        ),
        (
            "agents:\n  a: {document_stores: [kb]}\n",
            "agents.a.document_stores[0]",
            'unknown document store "kb" (none defined)',
        ),
        (
            "agents:\n  a: {context: {strategy: summary_buffer, summarizer_llm: cheap}}\n",
            "agents.a.context.summarizer_llm",
            'unknown llm "cheap" (defined: default)',
        ),
        (
            "agents:\n  r:\n    type: conditional\n    condition_agent: judge\n"
            "    on_true_response: yes\n    on_false_response: no\n",
            "agents.r.condition_agent",
            'unknown agent "judge" (defined: r)',
        ),
        (
            "agents:\n  r:\n    type: conditional\n    condition_agent: r2\n"
            "    on_true_agent: ghost\n    on_false_response: no\n  r2: {}\n",
            "agents.r.on_true_agent",
            'unknown agent "ghost" (defined: r, r2)',
        ),
        (
            "agents:\n  a:\n    type: runner\n    steps: [{tool: hammer}]\n",
            "agents.a.steps[0].tool",
            'unknown tool "hammer" (none defined)',
        ),
        (
            "defaults: {llm: gpt5}\n",
            "defaults.llm",
            'unknown llm "gpt5" (defined: default)',
        ),
        (
            "defaults: {embedder: e, vector_store: v, guardrails: g, agent: a}\n",
            "defaults.agent",
            'unknown agent "a" (none defined)',
        ),
        (
            "document_stores:\n  kb: {source: {path: ./docs}, embedder: e}\n",
            "document_stores.kb.embedder",
            'unknown embedder "e" (none defined)',
        ),
        (
            "document_stores:\n  kb: {source: {path: ./docs}, vector_store: qd}\n",
            "document_stores.kb.vector_store",
            'unknown vector store "qd" (none defined)',
        ),
        (
            "document_stores:\n  kb:\n    source: {path: ./docs}\n"
            "    search: {enable_hyde: true, hyde_llm: h}\n",
            "document_stores.kb.search.hyde_llm",
            'unknown llm "h" (defined: default)',
        ),
        (
            "document_stores:\n  kb:\n    source: {path: ./docs}\n"
            "    search: {enable_rerank: true, rerank_llm: r}\n",
            "document_stores.kb.search.rerank_llm",
            'unknown llm "r" (defined: default)',
        ),
        (
            "document_stores:\n  kb:\n    source: {path: ./docs}\n"
            "    search: {enable_multi_query: true, multi_query_llm: m}\n",
            "document_stores.kb.search.multi_query_llm",
            'unknown llm "m" (defined: default)',
        ),
        (
            "document_stores:\n  kb: {source: {type: sql, database: crm, query: select 1}}\n",
            "document_stores.kb.source.database",
            'unknown database "crm" (none defined)',
        ),
        (
            "tools:\n  s: {type: searchtool, document_stores: [kb]}\n",
            "tools.s.document_stores[0]",
            'unknown document store "kb" (none defined)',
        ),
        (
            "tools:\n  t: {type: agenttool, agent: ghost}\n",
            "tools.t.agent",
            'unknown agent "ghost" (none defined)',
        ),
        (
            "storage:\n  memory: {backend: vector, embedder: e}\n",
            "storage.memory.embedder",
            'unknown embedder "e" (none defined)',
        ),
        (
            "guardrails:\n  g:\n    moderation: {strategy: prompt, prompt: {llm: judge}}\n",
            "guardrails.g.moderation.prompt.llm",
            'unknown llm "judge" (defined: default)',
        ),
    ],
)
def test_unknown_reference(body: str, path: str, message: str) -> None:
    assert issue_at(doc(body), path) == message


def test_defined_names_are_listed_in_config_order() -> None:
    text = (
        "llms:\n  zeta: {provider: ollama}\n  alpha: {provider: ollama}\nagents:\n  a: {llm: x}\n"
    )
    assert problems(text) == ['agents.a.llm: unknown llm "x" (defined: zeta, alpha)']


@pytest.mark.parametrize(
    "name", ["-leading-dash", "_underscore", "has space", "dots.not.allowed", "x" * 65]
)
def test_invalid_agent_names(name: str) -> None:
    message = issue_at(doc(f"agents:\n  '{name}': {{}}\n"), f"agents.{name}")
    assert message.startswith(f'invalid agent name "{name}" (must match ^[a-zA-Z0-9]')


@pytest.mark.parametrize("name", ["a", "A1", "9lives", "writer_v2", "my-agent", "x" * 64])
def test_valid_agent_names(name: str) -> None:
    assert name in load(doc(f"agents:\n  '{name}': {{}}\n")).config.agents


def test_llm_agent_without_any_llm() -> None:
    assert problems("agents:\n  a: {instruction: hi}\n") == [
        "agents.a.llm: no llm configured (add one under llms)"
    ]


def test_llm_agent_without_a_resolvable_default_llm() -> None:
    text = "llms:\n  one: {provider: ollama}\n  two: {provider: ollama}\nagents:\n  a: {}\n"
    assert issue_at(text, "agents.a.llm").startswith("no llm given and no default")
    assert load(text + "defaults: {llm: two}\n").config.agents["a"].llm == "two"


@pytest.mark.parametrize("kind", ["sequential", "parallel", "loop"])
def test_workflow_agents_need_sub_agents(kind: str) -> None:
    text = doc(f"agents:\n  w: {{type: {kind}}}\n")
    assert problems(text) == [f"agents.w.sub_agents: {kind} agent requires at least one sub-agent"]
    assert problems(doc(f"agents:\n  w: {{type: {kind}, sub_agents: []}}\n")) == [
        f"agents.w.sub_agents: {kind} agent requires at least one sub-agent"
    ]


def test_conditional_needs_condition_agent_and_one_target_per_side() -> None:
    assert problems(doc("agents:\n  r: {type: conditional}\n")) == [
        "agents.r.condition_agent: conditional agent requires condition_agent",
        "agents.r.on_true_agent: conditional agent requires on_true_agent or on_true_response",
        "agents.r.on_false_agent: conditional agent requires on_false_agent or on_false_response",
    ]
    both = doc(
        """\
        agents:
          c: {}
          r:
            type: conditional
            condition_agent: c
            on_true_agent: c
            on_true_response: hi
            on_false_response: bye
        """
    )
    assert problems(both) == [
        "agents.r.on_true_response: set on_true_agent or on_true_response, not both"
    ]


def test_conditional_defaults() -> None:
    text = doc(
        """\
        agents:
          c: {}
          r: {type: conditional, condition_agent: c, on_true_agent: c, on_false_response: no}
        """
    )
    router = load(text).config.agents["r"]
    assert router.condition_field == "safe"
    assert router.llm is None


def test_remote_needs_an_address() -> None:
    assert problems(doc("agents:\n  r: {type: remote}\n")) == [
        "agents.r.url: remote agent requires url, agent_card_url or agent_card_file"
    ]
    remote = load(doc("agents:\n  r: {type: remote, agent_card_url: https://x/card}\n"))
    assert remote.config.agents["r"].timeout == 30


def test_runner_needs_steps_or_tools() -> None:
    assert problems(doc("agents:\n  r: {type: runner}\n")) == [
        "agents.r.steps: runner agent requires steps or tools"
    ]


def test_agent_lists_only_where_they_mean_something() -> None:
    text = doc(
        """\
        agents:
          c: {}
          r: {type: runner, tools: [c], sub_agents: [c], agent_tools: [c]}
          w: {type: sequential, sub_agents: [c], agent_tools: [c]}
        """
    )
    assert [p for p in problems(text) if "only valid" in p] == [
        "agents.r.sub_agents: only valid for type llm or sequential or parallel or loop "
        "(this agent is runner)",
        "agents.r.agent_tools: only valid for type llm (this agent is runner)",
        "agents.w.agent_tools: only valid for type llm (this agent is sequential)",
    ]


def test_type_specific_keys_on_the_wrong_type() -> None:
    text = doc("agents:\n  a: {max_iterations: 5, url: http://x, steps: []}\n")
    assert problems(text) == [
        "agents.a.max_iterations: only valid for type loop (this agent is llm)",
        "agents.a.url: only valid for type remote (this agent is llm)",
        "agents.a.steps: only valid for type runner (this agent is llm)",
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  a: {sub_agents: [a]}\n", "agents.a.sub_agents: cycle detected: a -> a"),
        (
            "  a: {sub_agents: [b]}\n  b: {sub_agents: [a]}\n",
            "agents.a.sub_agents: cycle detected: a -> b -> a",
        ),
        (
            "  a: {agent_tools: [b]}\n  b: {type: sequential, sub_agents: [c]}\n"
            "  c: {agent_tools: [a]}\n",
            "agents.a.agent_tools: cycle detected: a -> b -> c -> a",
        ),
        (
            "  judge: {agent_tools: [r]}\n"
            "  r: {type: conditional, condition_agent: judge, on_true_response: y,"
            " on_false_response: n}\n",
            "agents.judge.agent_tools: cycle detected: judge -> r -> judge",
        ),
    ],
)
def test_cycles_are_errors(body: str, expected: str) -> None:
    assert expected in problems(doc("agents:\n" + body))


def test_shared_children_are_not_cycles() -> None:
    text = doc(
        """\
        agents:
          a: {type: sequential, sub_agents: [b, c]}
          b: {agent_tools: [d]}
          c: {agent_tools: [d]}
          d: {}
        """
    )
    assert set(load(text).config.agents) == {"a", "b", "c", "d"}


def test_webhook_paths_must_be_unique_including_defaults() -> None:
    text = doc(
        """\
        agents:
          github: {trigger: {type: webhook}}
          other: {trigger: {type: webhook, path: /webhooks/github}}
        """
    )
    assert problems(text) == [
        'agents.other.trigger.path: webhook path "/webhooks/github" is already used by '
        "agents.github"
    ]


def test_webhook_path_default_and_prefix_rule() -> None:
    config = load(doc("agents:\n  github: {trigger: {type: webhook}}\n")).config
    trigger = config.agents["github"].trigger
    assert isinstance(trigger, WebhookTrigger)
    assert trigger.path == "/webhooks/github"
    assert problems(doc("agents:\n  a: {trigger: {type: webhook, path: /hooks/a}}\n")) == [
        'agents.a.trigger.path: webhook path must start with "/webhooks/" (e.g. /webhooks/github)'
    ]


def test_notification_ids_are_unique_per_agent() -> None:
    text = doc(
        """\
        agents:
          a:
            notifications:
              - {id: n, url: https://x, events: [task_failed]}
              - {id: n, url: https://y, events: [task_completed]}
        """
    )
    assert problems(text) == ['agents.a.notifications[1].id: duplicate notification id "n"']


def test_tools_exposed_by_toolsets_can_be_referenced() -> None:
    text = doc(
        """\
        tools:
          files: {type: filetool, filter: [read_file]}
          gh: {type: mcp, url: https://gh/mcp, filter: [issues], prefix: gh_}
        agents:
          a: {tools: [read_file, gh_issues, files]}
        """
    )
    assert load(text).config.agents["a"].tools == ["read_file", "gh_issues", "files"]
    assert problems(text.replace("gh_issues", "issues")) == [
        'agents.a.tools[1]: unknown tool "issues" (defined: files, gh)'
    ]


def test_unfiltered_mcp_servers_may_provide_any_tool() -> None:
    text = doc("tools:\n  m: {type: mcp, command: srv}\nagents:\n  a: {tools: [whatever]}\n")
    assert load(text).config.agents["a"].tools == ["whatever"]


def test_tool_name_conflicts_within_an_agent() -> None:
    text = doc(
        """\
        tools:
          mine: {type: filetool}
          theirs: {type: mcp, command: fs, filter: [read_file, other]}
        agents:
          a: {tools: [mine, theirs]}
          b: {tools: [theirs]}
        """
    )
    assert problems(text) == [
        'agents.a.tools[1]: tool "read_file" is provided by both tools.mine and tools.theirs '
        "(narrow one with filter, or set an MCP prefix)"
    ]
    fixed = text.replace("filter: [read_file, other]", "filter: [read_file, other], prefix: x_")
    assert load(fixed).config.agents["a"].tools == ["mine", "theirs"]


def test_broken_references_are_reported_with_schema_errors() -> None:
    text = doc("agents:\n  a: {llm: gpt5, visibility: secret}\n")
    assert problems(text) == [  # both, in the order they appear on the line
        'agents.a.llm: unknown llm "gpt5" (defined: default)',
        "agents.a.visibility: invalid value \"secret\" (expected 'public', 'internal' or "
        "'private')",
    ]
