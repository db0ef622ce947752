"""Workflows go on from where they stopped: after a child's tool call was approved (the next
message decides it) and when an invocation is resumed (a retry after a crash). Children that
already answered are not asked again; their answers still count."""

from __future__ import annotations

from typing import Any

from agents.config import HectorConfig
from agents.events import ErrorEvent, FinalEvent, InterruptedEvent, RunEvent, StatusEvent
from agents.runner import Runner
from agents.sessions import InMemorySessionService
from agents.workflow import is_progress
from tests.fakes.deploy import DEPLOYED, deploy
from tests.fakes.script import Failure, Reply, ScriptedToolCall, Step
from tests.fakes.scripted_llm import ScriptedLLM
from tools.approvals import InMemoryApprovalStore


def build(
    agents: dict[str, Any], scripts: dict[str, list[Step]]
) -> tuple[Runner, dict[str, ScriptedLLM], InMemorySessionService]:
    """One scripted LLM per llm agent (named like it); `deploy` needs approval."""
    DEPLOYED.clear()
    llms = {name: ScriptedLLM(steps) for name, steps in scripts.items()}
    config = HectorConfig.model_validate(
        {
            "llms": {name: {"provider": "ollama", "model": "qwen3"} for name in llms},
            "agents": {
                name: ({"llm": name, **agent} if agent.get("type", "llm") == "llm" else agent)
                for name, agent in agents.items()
            },
            "tools": {
                "deploy": {"type": "function", "handler": "deploy", "require_approval": True}
            },
        },
        context={"env": {}},
    )
    sessions = InMemorySessionService()
    runner = Runner(
        config,
        sessions=sessions,
        tools={"deploy": deploy},
        llms=dict(llms),
        approvals=InMemoryApprovalStore(),
    )
    return runner, llms, sessions


async def turn(
    runner: Runner, agent: str, message: str, session: str = "s1", **kwargs: Any
) -> list[RunEvent]:
    return [
        e
        async for e in runner.run(
            agent=agent, user_id="alice", message=message, session_id=session, **kwargs
        )
    ]


DEPLOY_CALL = Reply(tool_calls=[ScriptedToolCall("deploy", {"target": "prod"}, "c1")])
OPS = {"instruction": "Operate.", "tools": ["deploy"]}


async def test_a_sequential_workflow_goes_on_from_the_step_that_waited_for_approval() -> None:
    runner, llms, sessions = build(
        {
            "pipeline": {"type": "sequential", "sub_agents": ["draft", "ops", "report"]},
            "draft": {"instruction": "Plan."},
            "ops": OPS,
            "report": {"instruction": "Report."},
        },
        {
            "draft": [Reply(text="plan: deploy to prod")],
            "ops": [DEPLOY_CALL, Reply(text="deployed")],
            "report": [Reply(text="all done")],
        },
    )
    paused = await turn(runner, "pipeline", "ship it")
    assert isinstance(paused[-1], InterruptedEvent)
    assert DEPLOYED == []

    events = await turn(runner, "pipeline", "approve")

    answer = events[-1]
    assert isinstance(answer, FinalEvent)
    assert (answer.agent, answer.text) == ("pipeline", "all done")
    assert DEPLOYED == ["prod"]
    # draft answered before the pause: it is not asked again.
    assert [len(llms[name].requests) for name in ("draft", "ops", "report")] == [1, 2, 1]
    running = [e.message for e in events if isinstance(e, StatusEvent) and e.agent == "pipeline"]
    assert running == ['running "ops"', 'running "report"']
    stored = await sessions.list_events("s1")
    progress = [e for e in stored if is_progress(e)]
    assert [p.parts[0].data["message"] for p in progress] == [  # type: ignore[union-attr]
        '"draft" answered',
        '"ops" waits for input',
        '"ops" answered',
        '"report" answered',
    ]


async def test_a_loop_goes_on_in_the_iteration_it_stopped_in() -> None:
    runner, llms, _ = build(
        {
            "rounds": {"type": "loop", "sub_agents": ["scout", "ops"], "max_iterations": 2},
            "scout": {"instruction": "Look."},
            "ops": OPS,
        },
        {
            "scout": [Reply(text="round one"), Reply(text="round two")],
            "ops": [DEPLOY_CALL, Reply(text="deployed"), Reply(text="nothing to do")],
        },
    )
    assert isinstance((await turn(runner, "rounds", "go"))[-1], InterruptedEvent)

    events = await turn(runner, "rounds", "approve")

    answer = events[-1]
    assert isinstance(answer, FinalEvent)
    assert answer.text == "nothing to do"
    assert DEPLOYED == ["prod"]
    assert len(llms["scout"].requests) == 2  # once per iteration, not again for the first
    iterations = [e.message for e in events if isinstance(e, StatusEvent) and e.agent == "rounds"]
    assert iterations == ["iteration 1 of 2", "iteration 2 of 2"]


async def test_a_conditional_keeps_its_verdict_while_its_side_waits() -> None:
    runner, llms, _ = build(
        {
            "router": {
                "type": "conditional",
                "condition_agent": "judge",
                "condition_field": "risky",
                "on_true_agent": "ops",
                "on_false_response": "nothing to do",
            },
            "judge": {"instruction": "Judge."},
            "ops": OPS,
        },
        {
            "judge": [Reply(text='{"risky": true}')],
            "ops": [DEPLOY_CALL, Reply(text="deployed carefully")],
        },
    )
    assert isinstance((await turn(runner, "router", "deploy?"))[-1], InterruptedEvent)

    events = await turn(runner, "router", "approve")

    answer = events[-1]
    assert isinstance(answer, FinalEvent)
    assert (answer.agent, answer.text) == ("router", "deployed carefully")
    assert len(llms["judge"].requests) == 1
    assert DEPLOYED == ["prod"]


async def test_a_resumed_invocation_skips_the_children_that_answered() -> None:
    """A retry of the same invocation (what the task queue does after a failure or a crash)."""
    runner, llms, _ = build(
        {
            "pipeline": {"type": "sequential", "sub_agents": ["draft", "report"]},
            "draft": {"instruction": "Plan."},
            "report": {"instruction": "Report."},
        },
        {
            "draft": [Reply(text="the plan")],
            "report": [Failure(503, "overloaded"), Reply(text="the report")],
        },
    )
    failed = await turn(runner, "pipeline", "go", invocation_id="task-1.1")
    assert isinstance(failed[-1], ErrorEvent)

    events = await turn(runner, "pipeline", "go", invocation_id="task-1.1", resume=True)

    answer = events[-1]
    assert isinstance(answer, FinalEvent)
    assert answer.text == "the report"
    assert len(llms["draft"].requests) == 1


async def test_a_failed_run_does_not_make_the_next_turn_resume() -> None:
    """Only a pause for input, or a resumed invocation, goes on: a new turn after a failure
    starts the workflow from its first child."""
    runner, llms, _ = build(
        {
            "pipeline": {"type": "sequential", "sub_agents": ["draft", "report"]},
            "draft": {"instruction": "Plan."},
            "report": {"instruction": "Report."},
        },
        {
            "draft": [Reply(text="plan one"), Reply(text="plan two")],
            "report": [Failure(500, "boom"), Reply(text="report two")],
        },
    )
    assert isinstance((await turn(runner, "pipeline", "go"))[-1], ErrorEvent)

    events = await turn(runner, "pipeline", "again")

    assert isinstance(events[-1], FinalEvent)
    assert len(llms["draft"].requests) == 2
