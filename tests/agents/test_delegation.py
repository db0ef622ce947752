"""Delegation (SPEC 4.3): agents as tools on their own branch, and `transfer_to_<agent>`
hand-overs that make the target the session's active agent."""

from __future__ import annotations

from typing import Any

from agents.content import TextPart, ToolResultPart
from agents.control import active_agent_key
from agents.events import FinalEvent, RunEvent, StatusEvent, TextDeltaEvent, ToolResultEvent
from tests.agents.harness import build, final, run, texts
from tests.fakes.script import Failure, Reply, ScriptedToolCall

# --- agent tools ----------------------------------------------------------------------------


def with_researcher(**researcher: Any) -> dict[str, Any]:
    return {
        "assistant": {"instruction": "Answer.", "agent_tools": ["researcher"]},
        "researcher": {"instruction": "Research.", "description": "Finds facts.", **researcher},
    }


def ask(request: str) -> Reply:
    return Reply(tool_calls=[ScriptedToolCall("researcher", {"request": request}, "c1")])


async def test_agent_tool_runs_the_child_on_its_branch_and_returns_its_answer() -> None:
    runner, llms, store = build(
        with_researcher(output_key="facts"),
        {
            "assistant": [ask("find the answer"), Reply(text="It is 42.")],
            "researcher": [Reply(text=["The answer ", "is 42"])],
        },
    )
    events = await run(runner, "assistant", "What is it?")

    answer = final(events)
    assert (answer.agent, answer.text) == ("assistant", "It is 42.")
    offered = llms["assistant"].requests[0].tools
    assert [(t.name, t.description) for t in offered] == [("researcher", "Finds facts.")]
    assert offered[0].parameters["required"] == ["request"]
    # The child saw only the request, as a user message.
    assert texts(llms["researcher"]) == ["find the answer"]
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert [(r.agent, r.name, r.result) for r in results] == [
        ("assistant", "researcher", "The answer is 42")
    ]
    # The child's deltas stream through, named after the child.
    deltas = [(e.agent, e.text) for e in events if isinstance(e, TextDeltaEvent)]
    assert deltas[:2] == [("researcher", "The answer "), ("researcher", "is 42")]
    stored = await store.list_events(answer.session_id)
    assert [(e.author, e.role, e.branch) for e in stored] == [
        ("user", "user", ""),
        ("assistant", "agent", ""),
        ("assistant", "user", "assistant.researcher"),  # the request
        ("researcher", "agent", "assistant.researcher"),
        ("assistant", "agent", ""),  # tool results, with the child's state writes
        ("assistant", "agent", ""),
    ]
    assert stored[4].actions.state_delta == {"facts": "The answer is 42"}
    # The parent's next LLM call sees the tool result, not the child's turn.
    assert texts(llms["assistant"]) == ["What is it?"]
    assert any(
        isinstance(p, ToolResultPart)
        for m in llms["assistant"].requests[-1].messages
        for p in m.parts
    )


async def test_next_turns_do_not_show_the_childs_branch_to_the_parent() -> None:
    runner, llms, _ = build(
        with_researcher(),
        {
            "assistant": [ask("look"), Reply(text="found"), Reply(text="bye")],
            "researcher": [Reply(text="secret notes")],
        },
    )
    first = final(await run(runner, "assistant", "one"))
    await run(runner, "assistant", "two", session_id=first.session_id)
    assert "secret notes" not in " ".join(texts(llms["assistant"]))


async def test_a_failing_child_is_an_error_result_and_the_parent_carries_on() -> None:
    runner, _, store = build(
        with_researcher(),
        {
            "assistant": [ask("look"), Reply(text="could not research")],
            "researcher": [Failure(500, "researcher down")],
        },
    )
    events = await run(runner, "assistant")

    assert final(events).text == "could not research"
    (result,) = [e for e in events if isinstance(e, ToolResultEvent)]
    assert result.is_error
    assert 'agent "researcher" failed' in str(result.result)
    stored = await store.list_events(final(events).session_id)
    assert any(e.author == "researcher" and e.branch == "assistant.researcher" for e in stored)


async def test_request_is_required() -> None:
    runner, _, _ = build(
        with_researcher(),
        {
            "assistant": [
                Reply(tool_calls=[ScriptedToolCall("researcher", {"request": ""})]),
                Reply(text="ok"),
            ],
            "researcher": [],
        },
    )
    events = await run(runner, "assistant")
    (result,) = [e for e in events if isinstance(e, ToolResultEvent)]
    assert result.is_error
    assert '"request" is required' in str(result.result)


# --- transfers ------------------------------------------------------------------------------


def desk() -> dict[str, Any]:
    return {
        "triage": {"instruction": "Route.", "sub_agents": ["billing"]},
        "billing": {"instruction": "Bills.", "description": "Handles invoices."},
    }


def transfer(to: str, reason: str | None = None) -> Reply:
    arguments = {"reason": reason} if reason else {}
    return Reply(tool_calls=[ScriptedToolCall(f"transfer_to_{to}", arguments)])


async def test_transfer_hands_the_turn_to_the_sub_agent_which_answers() -> None:
    runner, llms, store = build(
        desk(),
        {"triage": [transfer("billing", "invoice question")], "billing": [Reply(text="Paid.")]},
    )
    events = await run(runner, "triage", "Was my invoice paid?")

    answer = final(events)
    assert (answer.agent, answer.text) == ("billing", "Paid.")
    assert [e for e in events if isinstance(e, FinalEvent)] == [answer]
    assert [t.name for t in llms["triage"].requests[0].tools] == ["transfer_to_billing"]
    transfer_tool = llms["triage"].requests[0].tools[0]
    assert "reason" in transfer_tool.parameters["properties"]
    assert [t.name for t in llms["billing"].requests[0].tools] == ["transfer_to_triage"]
    assert len(llms["triage"].requests) == 1, "the transfer ended triage's turn"
    moved = [e.message for e in events if isinstance(e, StatusEvent)]
    assert moved == ['transferred the conversation to "billing"']
    stored = await store.list_events(answer.session_id)
    assert [e.author for e in stored] == ["user", "triage", "triage", "billing"]
    assert stored[2].actions.transfer_to_agent == "billing"
    session = await store.get(answer.session_id)
    assert session is not None
    assert session.state == {active_agent_key("triage"): "billing"}


async def test_later_messages_go_to_the_active_agent_until_it_transfers_back() -> None:
    runner, llms, store = build(
        desk(),
        {
            "triage": [transfer("billing"), Reply(text="Back at triage.")],
            "billing": [Reply(text="Paid."), Reply(text="Yes, also paid."), transfer("triage")],
        },
    )
    first = final(await run(runner, "triage", "Invoice 1?"))
    second = final(await run(runner, "triage", "Invoice 2?", session_id=first.session_id))
    assert (second.agent, second.text) == ("billing", "Yes, also paid.")
    assert len(llms["triage"].requests) == 1

    third = final(await run(runner, "triage", "Something else", session_id=first.session_id))
    assert (third.agent, third.text) == ("triage", "Back at triage.")
    session = await store.get(first.session_id)
    assert session is not None
    assert session.state[active_agent_key("triage")] == "triage"
    # triage sees what billing said while it was away, as context.
    assert "For context: [billing] said: Yes, also paid." in texts(llms["triage"])


async def test_transfer_to_an_agent_not_in_sub_agents_is_refused() -> None:
    runner, _, _ = build(
        {**desk(), "sales": {"instruction": "Sell."}},
        {"triage": [transfer("sales"), Reply(text="I will help myself.")], "billing": []},
    )
    events = await run(runner, "triage")

    assert final(events).text == "I will help myself."
    (result,) = [e for e in events if isinstance(e, ToolResultEvent)]
    assert result.is_error
    assert result.result == (
        'transfer to "sales" refused: not an agent this one can hand over to (allowed: billing)'
    )


async def test_endless_ping_pong_is_stopped() -> None:
    runner, _, _ = build(
        desk(),
        {"triage": [transfer("billing")] * 20, "billing": [transfer("triage")] * 20},
    )
    events: list[RunEvent] = await run(runner, "triage")
    end = events[-1]
    assert end.kind == "error"
    assert "transfers in one turn" in end.message  # type: ignore[union-attr]


async def test_text_said_before_a_transfer_is_kept_in_the_session() -> None:
    runner, _, store = build(
        desk(),
        {
            "triage": [
                Reply(text="Let me get billing.", tool_calls=transfer("billing").tool_calls)
            ],
            "billing": [Reply(text="Hi.")],
        },
    )
    answer = final(await run(runner, "triage"))
    stored = await store.list_events(answer.session_id)
    assert stored[1].parts[0] == TextPart("Let me get billing.")
