"""Workflow agents through the runner (SPEC 4.2, AC 4.a, 4.c, 4.d): sequential, loop,
conditional, parallel. Each child has its own scripted LLM, so a test knows who was asked what;
the concurrency test goes through the real Ollama client against the wire fake."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from agents.config import HectorConfig
from agents.content import TextPart
from agents.events import (
    StatusEvent,
    TextDeltaEvent,
)
from agents.llm_agent import status_of
from agents.runner import Runner
from agents.sessions import Event, InMemorySessionService
from agents.workflow import is_progress
from tests.agents.harness import build, failure, final, finals, run, state_of, texts
from tests.fakes.ollama_server import Fake
from tests.fakes.script import Failure, Reply, Script, ScriptedToolCall

# --- sequential -----------------------------------------------------------------------------


def turns(stored: list[Event]) -> list[Event]:
    """The stored events without the workflows' progress markers."""
    return [e for e in stored if not is_progress(e)]


async def test_ac_4a_sequential_hands_output_key_state_to_the_next_child() -> None:
    runner, llms, store = build(
        {
            "pipeline": {"type": "sequential", "sub_agents": ["a", "b"], "output_key": "final"},
            "a": {"instruction": "Draft.", "output_key": "draft"},
            "b": {"instruction": "Improve: {draft}"},
        },
        {"a": [Reply(text="rough draft")], "b": [Reply(text=["polished ", "draft"])]},
    )
    events = await run(runner, "pipeline", "Write")

    answer = final(events)
    assert (answer.agent, answer.text) == ("pipeline", "polished draft")
    assert len(finals(events)) == 1, "children's answers are the workflow's business"
    assert llms["b"].requests[0].system == "Improve: rough draft"
    # b sees a's turn as context in its history too.
    assert texts(llms["b"]) == ["Write", "For context: [a] said: rough draft"]
    deltas = [(e.agent, e.text) for e in events if isinstance(e, TextDeltaEvent)]
    assert deltas == [("a", "rough draft"), ("b", "polished "), ("b", "draft")]
    session = await store.get(answer.session_id)
    assert session is not None
    assert session.state == {"draft": "rough draft", "final": "polished draft"}
    stored = await store.list_events(answer.session_id)
    assert [e.author for e in turns(stored)] == ["user", "a", "b", "pipeline"]
    assert stored[-1].parts == ()  # only carries output_key: the text is b's


async def test_sequential_stops_when_a_child_escalates() -> None:
    runner, llms, _ = build(
        {
            "pipeline": {"type": "sequential", "sub_agents": ["a", "b"]},
            "a": {"instruction": "Check."},
            "b": {"instruction": "Never reached."},
        },
        {
            "a": [Reply(text="cannot go on", tool_calls=[ScriptedToolCall("escalate", {})])],
            "b": [],
        },
    )
    events = await run(runner, "pipeline")

    answer = final(events)
    assert (answer.text, answer.escalate) == ("cannot go on", True)
    assert [t.name for t in llms["a"].requests[0].tools] == ["escalate"]
    assert llms["b"].requests == []


async def test_sequential_fails_with_its_child_and_keeps_what_ran() -> None:
    runner, _, store = build(
        {
            "pipeline": {"type": "sequential", "sub_agents": ["a", "b"]},
            "a": {"instruction": "x"},
            "b": {"instruction": "y"},
        },
        {"a": [Reply(text="step one done")], "b": [Failure(500, "provider down")]},
    )
    events = await run(runner, "pipeline")

    error = failure(events)
    assert error.code == "llm_unavailable"
    assert "provider down" in error.message
    assert error.session_id is not None
    stored = await store.list_events(error.session_id)
    assert [e.author for e in turns(stored)] == ["user", "a", "pipeline"]
    assert status_of(stored[-1]) == {
        "hector_type": "status",
        "state": "failed",
        "message": error.message,
    }


# --- loop -----------------------------------------------------------------------------------


async def test_ac_4d_loop_runs_its_child_exactly_max_iterations_times() -> None:
    runner, llms, _ = build(
        {
            "refine": {"type": "loop", "sub_agents": ["writer"], "max_iterations": 2},
            "writer": {"instruction": "Improve."},
        },
        {"writer": [Reply(text="v1"), Reply(text="v2"), Reply(text="v3")]},
    )
    events = await run(runner, "refine")

    assert len(llms["writer"].requests) == 2
    assert final(events).text == "v2"
    tools = [t.name for t in llms["writer"].requests[0].tools]
    assert tools == ["exit_loop", "escalate"]


async def test_loop_default_is_three_iterations() -> None:
    runner, llms, _ = build(
        {"refine": {"type": "loop", "sub_agents": ["writer"]}, "writer": {"instruction": "x"}},
        {"writer": [Reply(text=f"v{i}") for i in range(5)]},
    )
    await run(runner, "refine")
    assert len(llms["writer"].requests) == 3


async def test_exit_loop_ends_the_loop_with_the_last_answer() -> None:
    runner, llms, store = build(
        {
            "refine": {"type": "loop", "sub_agents": ["writer", "critic"], "max_iterations": 5},
            "writer": {"instruction": "Write."},
            "critic": {"instruction": "Judge; call exit_loop when good."},
        },
        {
            "writer": [Reply(text="draft 1"), Reply(text="draft 2")],
            "critic": [
                Reply(text="needs work"),
                Reply(tool_calls=[ScriptedToolCall("exit_loop", {})]),
            ],
        },
    )
    events = await run(runner, "refine")

    answer = final(events)
    assert (answer.agent, answer.text, answer.escalate) == ("refine", "draft 2", False)
    assert len(llms["writer"].requests) == 2
    assert len(llms["critic"].requests) == 2
    stored = await store.list_events(answer.session_id)
    escalations = [e for e in stored if e.actions.escalate]
    assert [e.author for e in escalations] == ["critic"]


# --- conditional ----------------------------------------------------------------------------

CLASSIFIER_SCHEMA = {
    "type": "object",
    "properties": {"category": {"type": "boolean"}},
    "required": ["category"],
}


def router(**extra: Any) -> dict[str, Any]:
    return {
        "router": {
            "type": "conditional",
            "condition_agent": "classifier",
            "condition_field": "category",
            "on_true_agent": "helper",
            "on_false_response": "Redirecting to support...",
            **extra,
        },
        "classifier": {"instruction": "Classify.", "output_schema": CLASSIFIER_SCHEMA},
        "helper": {"instruction": "Help."},
    }


async def test_ac_4c_false_branch_answers_verbatim_without_an_llm_call() -> None:
    runner, llms, store = build(
        router(), {"classifier": [Reply(text='{"category": false}')], "helper": []}
    )
    events = await run(runner, "router", "my bill is wrong")

    answer = final(events)
    assert (answer.agent, answer.text) == ("router", "Redirecting to support...")
    assert llms["helper"].requests == []
    assert len(llms["classifier"].requests) == 1
    stored = await store.list_events(answer.session_id)
    assert [e.author for e in turns(stored)] == ["user", "classifier", "router"]
    assert stored[-1].parts == (TextPart("Redirecting to support..."),)
    routing = [e.message for e in events if isinstance(e, StatusEvent) and e.agent == "router"]
    assert routing == ["category = false: false -> the fixed response"]


async def test_true_branch_runs_its_agent() -> None:
    runner, llms, _ = build(
        router(), {"classifier": [Reply(text='{"category": true}')], "helper": [Reply(text="hi!")]}
    )
    answer = final(await run(runner, "router"))
    assert (answer.agent, answer.text) == ("router", "hi!")
    assert len(llms["helper"].requests) == 1


async def test_condition_value_compares_and_state_is_the_fallback() -> None:
    agents = router(condition_value="billing", condition_field="topic")
    agents["classifier"] = {"instruction": "Classify.", "output_key": "ignored"}
    scripts = {"classifier": [Reply(text="no json here")], "helper": [Reply(text="billing help")]}
    runner, _, _ = build(agents, scripts)
    answer = final(await run(runner, "router", state_delta={"topic": "Billing"}))
    assert answer.text == "billing help"  # from state, compared case-insensitively


@pytest.mark.parametrize(
    ("value", "expected", "holds"),
    [
        (True, None, True),
        ("yes", None, True),
        (0, None, False),
        (None, None, False),
        ("billing", "billing", True),
        (3, "3", True),
        (True, 1, False),
        (True, "true", True),
        (2.0, 2, True),
    ],
)
def test_condition_holds(value: Any, expected: Any, holds: bool) -> None:
    from agents.workflow import condition_holds

    assert condition_holds(value, expected) is holds


# --- parallel -------------------------------------------------------------------------------


def fan_out(**extra: Any) -> dict[str, Any]:
    return {
        "fan": {"type": "parallel", "sub_agents": ["a", "b"], "output_key": "both", **extra},
        "a": {"instruction": "A.", "output_key": "shared"},
        "b": {"instruction": "B.", "output_key": "shared"},
    }


async def test_parallel_merges_in_declaration_order_whoever_finishes_first() -> None:
    runner, _, store = build(
        fan_out(),
        # b answers first; the merge still lists a first and b wins the shared key.
        {"a": [Reply(text="from a", delay_s=0.05)], "b": [Reply(text="from b")]},
    )
    events = await run(runner, "fan")

    answer = final(events)
    assert answer.text == "[a]\nfrom a\n\n[b]\nfrom b"
    stored = await store.list_events(answer.session_id)
    assert [(e.author, e.branch) for e in stored] == [
        ("user", ""),
        ("b", "fan.b"),
        ("a", "fan.a"),
        ("fan", ""),
    ]
    session = await store.get(answer.session_id)
    assert session is not None
    assert session.state == {"shared": "from b", "both": answer.text}


async def test_parallel_branches_do_not_see_each_other() -> None:
    runner, llms, _ = build(
        fan_out(),
        {"a": [Reply(text="A1"), Reply(text="A2")], "b": [Reply(text="B1"), Reply(text="B2")]},
    )
    first = final(await run(runner, "fan", "one"))
    await run(runner, "fan", "two", session_id=first.session_id)

    # Second turn: a sees the conversation (incl. the merged answer) and its own branch, not b's.
    assert texts(llms["a"]) == [
        "one",
        "A1",
        "For context: [fan] said: [a]\nA1\n\n[b]\nB1",
        "two",
    ]
    assert "B1" not in texts(llms["a"])[1]


async def test_parallel_branches_run_concurrently_on_the_wire_fake() -> None:
    fake = Fake(Script.of(default=Reply(text="done", delay_s=0.3)))
    fake.start()
    try:
        config = HectorConfig.model_validate(
            {
                "llms": {"default": {"provider": "ollama", "model": "qwen3", "base_url": fake.url}},
                "agents": {
                    "fan": {"type": "parallel", "sub_agents": ["a", "b"]},
                    "a": {"instruction": "A."},
                    "b": {"instruction": "B."},
                },
            },
            context={"env": {}},
        )
        runner = Runner(config, sessions=InMemorySessionService())
        await run(runner, "fan")  # warm the client's connection pool
        started = time.perf_counter()
        events = await run(runner, "fan")
        elapsed = time.perf_counter() - started
        await runner.aclose()
    finally:
        fake.stop()
    assert final(events).text == "[a]\ndone\n\n[b]\ndone"
    assert elapsed < 0.5, f"two 300 ms branches took {elapsed:.3f}s: not concurrent"


async def test_parallel_first_failure_fails_the_parent_and_cancels_the_rest() -> None:
    runner, llms, store = build(
        fan_out(), {"a": [Reply(text="slow", delay_s=5)], "b": [Failure(500, "b is down")]}
    )
    started = time.perf_counter()
    events = await run(runner, "fan")

    assert time.perf_counter() - started < 2
    error = failure(events)
    assert "b is down" in error.message
    assert llms["a"].streams_closed_early == 1
    assert error.session_id is not None
    stored = await store.list_events(error.session_id)
    assert state_of(stored[-1]) == "failed"


async def test_parallel_continue_on_error_reports_the_failure_and_keeps_the_others() -> None:
    runner, _, store = build(
        fan_out(continue_on_error=True),
        {"a": [Reply(text="a is fine")], "b": [Failure(500, "b is down")]},
    )
    events = await run(runner, "fan")

    answer = final(events)
    assert answer.text.startswith("[a]\na is fine\n\n[b] failed: ")
    assert "b is down" in answer.text
    stored = await store.list_events(answer.session_id)
    failed = [e for e in stored if status_of(e) is not None]
    assert [(e.author, e.branch) for e in failed] == [("b", "fan.b")]
    session = await store.get(answer.session_id)
    assert session is not None
    assert session.state["shared"] == "a is fine"


# --- cancellation ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["parallel", "sequential"])
async def test_cancelling_a_workflow_cancels_its_running_children(kind: str) -> None:
    runner, llms, store = build(
        {
            "flow": {"type": kind, "sub_agents": ["a", "b"]},
            "a": {"instruction": "A."},
            "b": {"instruction": "B."},
        },
        {"a": [Reply(text="late", delay_s=30)], "b": [Reply(text="late", delay_s=30)]},
    )
    session = await store.create(user_id="u1", agent="flow")
    expected = 2 if kind == "parallel" else 1  # a sequential is still at its first child

    async def consume() -> None:
        async for _ in runner.run(agent="flow", user_id="u1", message="Go", session_id=session.id):
            pass

    task = asyncio.create_task(consume())
    async with asyncio.timeout(5):
        while sum(len(llm.requests) for llm in llms.values()) < expected:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    task.cancel()
    async with asyncio.timeout(3):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sum(llm.streams_closed_early for llm in llms.values()) == expected
    stored = await store.list_events(session.id)
    assert state_of(stored[-1]) == "canceled"
