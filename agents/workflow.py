"""Workflow agents (SPEC 4.2): `sequential`, `parallel`, `loop` and `conditional`.

They call no LLM themselves; they run other agents and decide what happens next. Children's
events pass through unchanged (each names its own agent), children's answers do not: a
workflow ends with its own `FinalEvent`, so the caller sees exactly one answer per run.

Sequential, loop and conditional children share the workflow's context: they see each other's
turns in the history and `output_key` state as it is written. Parallel children each get a fork
on branch `parent.child` and run in their own asyncio tasks; what they write is merged in
declaration order at the end, so the result never depends on which branch finished first.
An `InterruptedEvent` (a remote agent asking for input, a tool call waiting for approval) stops
a sequential, loop or conditional workflow at once and goes up.

Those three store their progress in the session (a status event the model never sees) after each
child answers and when one asks for input. A run that stopped for input goes on with the
caller's next message from the child that asked, with the answers so far; a resumed invocation
(a retry after a crash, an approval decided) goes on after the last child that answered. No
child that answered runs again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from agents.config import AgentConfig
from agents.content import DataPart, TextPart
from agents.errors import HectorError
from agents.events import EventStored, FinalEvent, InterruptedEvent, RunEvent, StatusEvent
from agents.invocation import Agent, InvocationContext
from agents.invocation import resume as resume_agent
from agents.llm.base import LLMError
from agents.llm_agent import CANCEL_GRACE_S, AgentError, status_event, status_of
from agents.sessions import Event, EventActions

__all__ = [
    "PROGRESS",
    "ConditionalAgent",
    "LoopAgent",
    "ParallelAgent",
    "SequentialAgent",
    "condition_holds",
    "is_progress",
]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Ending:
    """How a child's run ended, filled in by `_relay`."""

    final: FinalEvent | None = None
    interrupted: InterruptedEvent | None = None


async def _relay(
    agent: Agent, ctx: InvocationContext, ending: _Ending, *, resume: bool = False
) -> AsyncGenerator[RunEvent, None]:
    """A child's events, minus its answer and its interruption (kept in `ending`: the workflow
    stores its progress before passing an interruption on). `resume`: the child goes on with
    the invocation it stopped in (`agents.invocation.resume`)."""
    run = resume_agent(agent, ctx) if resume else agent.run(ctx)
    async with aclosing(run) as events:
        async for event in events:
            if isinstance(event, FinalEvent):
                ending.final = event
            elif isinstance(event, InterruptedEvent):
                ending.interrupted = event
            else:
                yield event


# --- progress -------------------------------------------------------------------------------

#: The `state` of a workflow's progress markers (status events: history building skips them).
PROGRESS = "progress"


@dataclass(frozen=True, slots=True)
class _Progress:
    """Where a workflow's run stands: the child to run next (`step`, in `iteration` for a loop;
    for a conditional 0 is the condition, 1 the side it chose), the answer so far, and whether
    the run stopped for input or is over."""

    invocation_id: str
    step: int = 0
    iteration: int = 1
    answer: FinalEvent | None = None
    interrupted: bool = False
    finished: bool = False
    side: str | None = None


def is_progress(event: Event) -> bool:
    """A workflow's progress marker (see the module docstring)."""
    data = status_of(event)
    return data is not None and data.get("state") == PROGRESS


def _resume_point(ctx: InvocationContext, name: str) -> _Progress | None:
    """Where this run of workflow `name` goes on from: its last run on this branch stopped for
    input, or this invocation is being resumed and got that far. None: from the start."""
    for event in reversed(ctx.events):
        data = status_of(event) if event.author == name else None
        if data is None or data.get("state") != PROGRESS:
            continue
        progress = _progress_from(event.invocation_id, data, ctx.session.id)
        if progress.finished or not (
            progress.interrupted or progress.invocation_id == ctx.invocation_id
        ):
            return None
        return progress
    return None


def _progress_from(invocation_id: str, data: dict[str, Any], session_id: str) -> _Progress:
    answer = data.get("answer")
    return _Progress(
        invocation_id,
        step=int(data.get("step", 0)),
        iteration=int(data.get("iteration", 1)),
        answer=(
            FinalEvent(
                str(answer.get("agent", "")),
                str(answer.get("text", "")),
                session_id,
                answer.get("output"),
                escalate=bool(answer.get("escalate")),
            )
            if isinstance(answer, dict)
            else None
        ),
        interrupted=bool(data.get("interrupted")),
        finished=bool(data.get("finished")),
        side=data.get("side"),
    )


async def _mark(
    ctx: InvocationContext,
    name: str,
    note: str,
    *,
    step: int,
    iteration: int = 1,
    answer: FinalEvent | None = None,
    interrupted: bool = False,
    finished: bool = False,
    side: str | None = None,
) -> EventStored:
    """Store the workflow's progress (`note` says it in words, for the Studio's trace)."""
    data: dict[str, Any] = {
        "hector_type": "status",
        "state": PROGRESS,
        "message": note,
        "step": step,
        "iteration": iteration,
        "interrupted": interrupted,
        "finished": finished,
    }
    if answer is not None:
        data["answer"] = {
            "agent": answer.agent,
            "text": answer.text,
            "output": answer.output,
            "escalate": answer.escalate,
        }
    if side is not None:
        data["side"] = side
    event = Event(
        author=name, role="agent", invocation_id=ctx.invocation_id, parts=(DataPart(data),)
    )
    return EventStored(await ctx.append(event))


def _answer_of(agent: Agent, ending: _Ending) -> FinalEvent:
    if ending.final is None:
        raise AgentError(f'agent "{agent.name}" ended without an answer')
    return ending.final


async def _finish(
    ctx: InvocationContext,
    name: str,
    config: AgentConfig,
    answer: FinalEvent,
    *,
    escalate: bool = False,
    store_text: bool = False,
) -> tuple[RunEvent, ...]:
    """The workflow's own answer. The text is stored only when no child stored it already
    (a verbatim response, a merge); `output_key` gets the answer's value either way."""
    value = answer.output if answer.output is not None else answer.text
    delta = {config.output_key: value} if config.output_key else {}
    events: list[RunEvent] = []
    if store_text or delta:
        event = Event(
            author=name,
            role="agent",
            parts=(TextPart(answer.text),) if store_text else (),
            invocation_id=ctx.invocation_id,
            actions=EventActions(state_delta=delta),
        )
        events.append(EventStored(await ctx.append(event)))
    final = FinalEvent(name, answer.text, ctx.session.id, answer.output, escalate=escalate)
    return (*events, final)


class _Resumable:
    """A workflow that stores its progress: `run` and `resume` walk its children the same way;
    resuming, the child that stopped goes on with its own invocation (`_relay(resume=True)`)."""

    __slots__ = ()

    def run(self, ctx: InvocationContext) -> AsyncGenerator[RunEvent, None]:
        return self._run(ctx, resuming=False)

    def resume(self, ctx: InvocationContext) -> AsyncGenerator[RunEvent, None]:
        return self._run(ctx, resuming=True)

    def _run(self, ctx: InvocationContext, *, resuming: bool) -> AsyncGenerator[RunEvent, None]:
        raise NotImplementedError


# --- sequential and loop --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SequentialAgent(_Resumable):
    """Children in order on one context; stops early when one escalates (or fails)."""

    name: str
    config: AgentConfig
    children: Sequence[Agent]

    async def _run(
        self, ctx: InvocationContext, *, resuming: bool
    ) -> AsyncGenerator[RunEvent, None]:
        point = _resume_point(ctx, self.name)
        answer = point.answer if point is not None else None
        first = point.step if point is not None else 0
        escalated = False
        last = len(self.children) - 1
        for index in range(first, last + 1):
            child = self.children[index]
            yield StatusEvent(self.name, f'running "{child.name}"')
            ending = _Ending()
            go_on = resuming and point is not None and index == first
            async with aclosing(_relay(child, ctx, ending, resume=go_on)) as events:
                async for event in events:
                    yield event
            if ending.interrupted is not None:
                note = f'"{child.name}" waits for input'
                yield await _mark(ctx, self.name, note, step=index, answer=answer, interrupted=True)
                yield ending.interrupted
                return
            final = _answer_of(child, ending)
            # A child that only escalated (no text) leaves the previous answer standing.
            if final.text or answer is None:
                answer = final
            escalated = final.escalate
            done = escalated or index == last
            note = f'"{child.name}" answered'
            yield await _mark(ctx, self.name, note, step=index + 1, answer=answer, finished=done)
            if escalated:
                break
        assert answer is not None  # validation guarantees children
        for event in await _finish(ctx, self.name, self.config, answer, escalate=escalated):
            yield event


@dataclass(frozen=True, slots=True)
class LoopAgent(_Resumable):
    """Children in order, again and again, until `max_iterations` or a child escalates
    (`exit_loop`). The escalation is the loop's own business: it does not go further up."""

    name: str
    config: AgentConfig
    children: Sequence[Agent]
    max_iterations: int

    async def _run(
        self, ctx: InvocationContext, *, resuming: bool
    ) -> AsyncGenerator[RunEvent, None]:
        point = _resume_point(ctx, self.name)
        answer = point.answer if point is not None else None
        start = (point.iteration, point.step) if point is not None else (1, 0)
        last = len(self.children) - 1
        for iteration in range(start[0], self.max_iterations + 1):
            yield StatusEvent(self.name, f"iteration {iteration} of {self.max_iterations}")
            first = start[1] if iteration == start[0] else 0
            for index in range(first, last + 1):
                child = self.children[index]
                ending = _Ending()
                go_on = resuming and point is not None and (iteration, index) == start
                async with aclosing(_relay(child, ctx, ending, resume=go_on)) as events:
                    async for event in events:
                        yield event
                if ending.interrupted is not None:
                    yield await _mark(
                        ctx,
                        self.name,
                        f'"{child.name}" waits for input',
                        step=index,
                        iteration=iteration,
                        answer=answer,
                        interrupted=True,
                    )
                    yield ending.interrupted
                    return
                final = _answer_of(child, ending)
                if final.text or answer is None:
                    answer = final
                ends_round = index == last
                yield await _mark(
                    ctx,
                    self.name,
                    f'"{child.name}" answered',
                    step=0 if ends_round else index + 1,
                    iteration=iteration + 1 if ends_round else iteration,
                    answer=answer,
                    finished=final.escalate or (ends_round and iteration == self.max_iterations),
                )
                if final.escalate:
                    yield StatusEvent(self.name, f'"{child.name}" ended the loop')
                    assert answer is not None
                    for event in await _finish(ctx, self.name, self.config, answer):
                        yield event
                    return
        assert answer is not None
        for event in await _finish(ctx, self.name, self.config, answer):
            yield event


# --- parallel -------------------------------------------------------------------------------

_DONE = object()


@dataclass(frozen=True, slots=True)
class ParallelAgent:
    """Children at once, each on its own branch; their events interleave as they happen.

    The answer lists each child's answer in declaration order, and the children's state writes
    are re-applied in that order on the answer event (last declared child wins a shared key).
    The first failure cancels the rest and fails the agent, unless `continue_on_error`: then
    the failure is recorded on its branch and reported in the answer, and the others go on.
    """

    name: str
    config: AgentConfig
    children: Sequence[Agent]

    async def run(self, ctx: InvocationContext) -> AsyncGenerator[RunEvent, None]:
        forks = [ctx.fork(ctx.child_branch(self.name, child.name)) for child in self.children]
        yield StatusEvent(self.name, "running " + ", ".join(f'"{f.branch}"' for f in forks))
        inbox: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        tasks = [
            asyncio.create_task(self._drive(i, child, fork, inbox), name=f"branch {fork.branch}")
            for i, (child, fork) in enumerate(zip(self.children, forks, strict=True))
        ]
        finals: dict[int, FinalEvent] = {}
        failures: dict[int, str] = {}
        first_error: BaseException | None = None
        running = len(tasks)
        try:
            while running:
                index, item = await inbox.get()
                child = self.children[index]
                if item is _DONE:
                    running -= 1
                elif isinstance(item, FinalEvent):
                    finals[index] = item
                elif isinstance(item, InterruptedEvent):
                    # A branch cannot pause its siblings: asking for input fails that branch.
                    failures[index] = (
                        f"asked for input, which a parallel branch cannot do: {item.message}"
                    )
                    for event in await self._branch_failed(forks[index], child, failures[index]):
                        yield event
                    if not self.config.continue_on_error:
                        raise AgentError(f'branch "{forks[index].branch}" {failures[index]}')
                elif isinstance(item, BaseException):
                    running -= 1
                    failures[index] = _describe(item)
                    first_error = first_error or item
                    for event in await self._branch_failed(forks[index], child, failures[index]):
                        yield event
                    if not self.config.continue_on_error:
                        raise item
                else:
                    yield item
        finally:
            await _stop(tasks)
        if len(failures) == len(self.children) and first_error is not None:
            raise first_error  # nothing left to merge
        for event in await self._merge(ctx, forks, finals, failures):
            yield event

    async def _drive(
        self,
        index: int,
        child: Agent,
        fork: InvocationContext,
        inbox: asyncio.Queue[tuple[int, Any]],
    ) -> None:
        """Run one branch, posting its events; a failure is posted, never raised (the parent
        decides what it means)."""
        try:
            async with aclosing(child.run(fork)) as events:
                async for event in events:
                    inbox.put_nowait((index, event))
            inbox.put_nowait((index, _DONE))
        except Exception as exc:  # cancellation is not an Exception: it ends the task as usual
            if not isinstance(exc, HectorError | LLMError):
                logger.exception("agent=%s branch=%s failed", self.name, fork.branch)
            inbox.put_nowait((index, exc))

    async def _branch_failed(
        self, fork: InvocationContext, child: Agent, message: str
    ) -> tuple[RunEvent, ...]:
        if not self.config.continue_on_error:
            return (StatusEvent(child.name, f"failed: {message}"),)
        marker = status_event(
            agent=child.name, invocation_id=fork.invocation_id, state="failed", message=message
        )
        stored = await fork.append(marker)
        return EventStored(stored), StatusEvent(child.name, f"failed: {message}")

    async def _merge(
        self,
        ctx: InvocationContext,
        forks: Sequence[InvocationContext],
        finals: Mapping[int, FinalEvent],
        failures: Mapping[int, str],
    ) -> tuple[RunEvent, ...]:
        sections: list[str] = []
        delta: dict[str, Any] = {}
        escalate = False
        for index, (child, fork) in enumerate(zip(self.children, forks, strict=True)):
            delta.update(fork.written)
            if index in failures:
                sections.append(f"[{child.name}] failed: {failures[index]}")
                continue
            final = finals.get(index)
            if final is None:  # a branch that ended without answering (none of ours does)
                sections.append(f"[{child.name}] failed: ended without an answer")
                continue
            escalate = escalate or final.escalate
            sections.append(f"[{child.name}]\n{final.text}")
        text = "\n\n".join(sections)
        if self.config.output_key:
            delta[self.config.output_key] = text
        event = Event(
            author=self.name,
            role="agent",
            parts=(TextPart(text),),
            invocation_id=ctx.invocation_id,
            actions=EventActions(state_delta=delta),
        )
        stored = await ctx.append(event)
        return EventStored(stored), FinalEvent(self.name, text, ctx.session.id, escalate=escalate)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, HectorError | LLMError):
        return str(exc)
    return f"internal error: {type(exc).__name__}"


async def _stop(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel the branches still running and wait for them (a cancelled workflow cancels its
    children); one that ignores cancellation is not waited for past the grace period."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        _, stuck = await asyncio.wait(pending, timeout=CANCEL_GRACE_S)
        for task in stuck:
            logger.warning("%s ignored cancellation", task.get_name())


# --- conditional ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConditionalAgent(_Resumable):
    """Runs `condition`, reads `condition_field`, then one side: an agent, or a fixed response
    given verbatim without any LLM call (SPEC 4.2)."""

    name: str
    config: AgentConfig
    condition: Agent
    on_true: Agent | None
    on_false: Agent | None

    async def _run(
        self, ctx: InvocationContext, *, resuming: bool
    ) -> AsyncGenerator[RunEvent, None]:
        point = _resume_point(ctx, self.name)
        if point is not None and point.step == 1 and point.side in ("true", "false"):
            side = point.side  # the condition answered before the run stopped
        else:
            ending = _Ending()
            go_on = resuming and point is not None
            async with aclosing(_relay(self.condition, ctx, ending, resume=go_on)) as events:
                async for event in events:
                    yield event
            if ending.interrupted is not None:
                note = f'"{self.condition.name}" waits for input'
                yield await _mark(ctx, self.name, note, step=0, interrupted=True)
                yield ending.interrupted
                return
            verdict = _answer_of(self.condition, ending)
            field_name = self.config.condition_field or "safe"
            value = _condition_field(verdict, field_name, ctx.state)
            side = "true" if condition_holds(value, self.config.condition_value) else "false"
            target = self.on_true if side == "true" else self.on_false
            routed = f'agent "{target.name}"' if target is not None else "the fixed response"
            note = f"{field_name} = {json.dumps(value)}: {side} -> {routed}"
            yield StatusEvent(self.name, note)
            yield await _mark(ctx, self.name, note, step=1, side=side, finished=target is None)
            point = None  # the side runs from its start
        target = self.on_true if side == "true" else self.on_false
        if target is None:
            response = (
                self.config.on_true_response if side == "true" else self.config.on_false_response
            )
            answer = FinalEvent(self.name, response or "", ctx.session.id)
            for event in await _finish(ctx, self.name, self.config, answer, store_text=True):
                yield event
            return
        ending = _Ending()
        go_on = resuming and point is not None
        async with aclosing(_relay(target, ctx, ending, resume=go_on)) as events:
            async for event in events:
                yield event
        if ending.interrupted is not None:
            note = f'"{target.name}" waits for input'
            yield await _mark(ctx, self.name, note, step=1, side=side, interrupted=True)
            yield ending.interrupted
            return
        final = _answer_of(target, ending)
        yield await _mark(ctx, self.name, f'"{target.name}" answered', step=2, finished=True)
        for event in await _finish(ctx, self.name, self.config, final, escalate=final.escalate):
            yield event


def _condition_field(verdict: FinalEvent, field_name: str, state: Mapping[str, Any]) -> Any:
    """From the condition agent's structured output; else from its answer when that is a JSON
    object (a model told to answer in JSON without an `output_schema`); else session state."""
    output = verdict.output
    if output is None:
        output = _json_object(verdict.text)
    if isinstance(output, Mapping) and field_name in output:
        return output[field_name]
    return state.get(field_name)


def _json_object(text: str) -> Mapping[str, Any] | None:
    candidate = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```")
    start, end = candidate.find("{"), candidate.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        value = json.loads(candidate[start : end + 1])
    except ValueError:
        return None
    return value if isinstance(value, Mapping) else None


_TRUE_WORDS = frozenset({"true", "yes", "1"})


def condition_holds(value: Any, expected: Any) -> bool:
    """With `condition_value`: equality, where text compares case-insensitively with the other
    side's JSON spelling (so `"True"` matches `true` and `"3"` matches `3`). Without: truthy
    (booleans; "true"/"yes"/"1"; non-zero numbers; non-empty collections)."""
    if expected is not None:
        if isinstance(value, bool) or isinstance(expected, bool):
            if isinstance(value, bool) and isinstance(expected, bool):
                return value is expected  # never True == 1
        elif value == expected:
            return True
        if isinstance(value, str) or isinstance(expected, str):
            return _spelling(value) == _spelling(expected)
        return False
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return bool(value)


def _spelling(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text.strip().lower()
