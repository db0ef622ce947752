"""The `runner` agent type (SPEC 4.2): tools executed in a fixed order, without an LLM.

(Named `steps_agent` so it is never confused with `agents/runner.py`, which runs agents.)

Two forms. `steps: [{tool, args, output_key}]`: each step calls its tool with its `args`, string
values templated against session state like instructions (`"{draft}"` alone passes the state
value itself, not its text); a tool that declares an `input` parameter also gets the previous
step's output there unless `args` sets it. `tools: [a, b]`: each tool gets `{"input": ...}`,
the user's message for the first and the previous tool's output after that.

Every call and result is stored as session events (author = this agent), so a run reads like an
LLM agent's tool rounds. A failing step fails the agent (and the task): later steps depend on
its output, so there is nothing sensible to continue with.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

from agents.config import AgentConfig, RunnerStep
from agents.content import TextPart, ToolCallPart, ToolResultPart, text_of
from agents.events import EventStored, FinalEvent, RunEvent, ToolCallEvent, ToolResultEvent
from agents.invocation import InvocationContext
from agents.llm_agent import AgentError, BoundTool
from agents.sessions import Event, EventActions
from agents.templating import render_instruction
from tools.base import ToolContext, run_tool

__all__ = ["StepFailed", "StepsAgent"]

_WHOLE_PLACEHOLDER = re.compile(r"^\{((?:app:|user:|temp:)?[A-Za-z_][A-Za-z0-9_]*)\}$")


class StepFailed(AgentError):
    code = "runner_step_failed"


@dataclass(frozen=True, slots=True)
class StepsAgent:
    name: str
    config: AgentConfig
    tools: Mapping[str, BoundTool]

    async def run(self, ctx: InvocationContext) -> AsyncGenerator[RunEvent, None]:
        chained = not self.config.steps
        steps = self.config.steps or [RunnerStep(tool=name) for name in self.config.tools]
        previous: Any = _user_input(ctx)
        for number, step in enumerate(steps, start=1):
            bound = self.tools.get(step.tool)
            if bound is None:
                raise StepFailed(
                    f'runner agent "{self.name}": step {number} uses tool "{step.tool}", '
                    "which is not available"
                )
            if chained:
                arguments: dict[str, Any] = {"input": previous}
            else:
                arguments = await self._arguments(step, bound, previous, ctx)
            call_id = f"{self.name}-{number}-{uuid.uuid4().hex[:8]}"
            yield ToolCallEvent(self.name, call_id, step.tool, arguments)
            call = Event(
                author=self.name,
                role="agent",
                parts=(ToolCallPart(call_id, step.tool, arguments),),
                invocation_id=ctx.invocation_id,
            )
            yield EventStored(await ctx.append(call))
            context = ToolContext(
                agent=self.name,
                user_id=ctx.user_id,
                session=ctx.session,
                invocation_id=ctx.invocation_id,
                store=ctx.store,
                call_id=call_id,
                state=ctx.state,
            )
            started = time.perf_counter()
            output = await run_tool(bound.tool, arguments, context, timeout_s=bound.timeout_s)
            duration_ms = int((time.perf_counter() - started) * 1000)
            yield ToolResultEvent(
                self.name, call_id, step.tool, output.content, output.is_error, duration_ms
            )
            delta = dict(context.state_delta)
            if step.output_key and not output.is_error:
                delta[step.output_key] = output.content
            result = Event(
                author=self.name,
                role="agent",
                parts=(ToolResultPart(call_id, step.tool, output.content, output.is_error),),
                invocation_id=ctx.invocation_id,
                actions=EventActions(state_delta=delta, artifact_delta=context.artifact_delta),
            )
            yield EventStored(await ctx.append(result))
            if output.is_error:
                detail = ToolResultPart("", "", output.content).content_text()
                raise StepFailed(
                    f'runner agent "{self.name}": step {number} ({step.tool}) failed: {detail}'
                )
            previous = output.content
        text = previous if isinstance(previous, str) else json.dumps(previous, default=str)
        delta = {self.config.output_key: previous} if self.config.output_key else {}
        answer = Event(
            author=self.name,
            role="agent",
            parts=(TextPart(text),),
            invocation_id=ctx.invocation_id,
            actions=EventActions(state_delta=delta),
        )
        yield EventStored(await ctx.append(answer))
        yield FinalEvent(self.name, text, ctx.session.id)

    async def _arguments(
        self, step: RunnerStep, bound: BoundTool, previous: Any, ctx: InvocationContext
    ) -> dict[str, Any]:
        arguments = {key: await _render(value, ctx) for key, value in step.args.items()}
        properties = bound.parameters.get("properties")
        if "input" not in arguments and isinstance(properties, Mapping) and "input" in properties:
            arguments["input"] = previous
        return arguments


async def _render(value: Any, ctx: InvocationContext) -> Any:
    """Template strings (nested ones too) against the state; a missing key fails the step."""
    if isinstance(value, str):
        whole = _WHOLE_PLACEHOLDER.match(value)
        if whole and whole[1] in ctx.state:
            return ctx.state[whole[1]]
        return await render_instruction(value, state=ctx.state, load_artifact=ctx.load_artifact)
    if isinstance(value, Mapping):
        return {key: await _render(item, ctx) for key, item in value.items()}
    if isinstance(value, list):
        return [await _render(item, ctx) for item in value]
    return value


def _user_input(ctx: InvocationContext) -> str:
    """The text of the message this run answers: the newest user turn on this branch."""
    for event in reversed(ctx.events):
        if event.role == "user":
            return text_of(event.parts)
    return ""
