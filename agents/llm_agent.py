"""The `llm` agent (SPEC 4.2): instruction + history + tools -> LLM stream -> tool calls -> ...
until the model answers without calling a tool.

Everything the model said or a tool returned is appended to the session as soon as it exists
(one agent event per model turn: thinking with signatures, text, tool calls; one per tool round:
the results), so a failure or cancellation never loses what came before, and the next request is
rebuilt from the stored events. Deltas are yielded to the caller as they stream; thinking is
yielded and stored but never mixed into the answer text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import Any, assert_never

import jsonschema  # type: ignore[import-untyped]

from agents.config import AgentConfig, ContextConfig
from agents.content import (
    DataPart,
    FilePart,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from agents.control import TRANSFER_PREFIX, ControlTool
from agents.errors import HectorError
from agents.events import (
    EventStored,
    FinalEvent,
    InterruptedEvent,
    RunEvent,
    StatusEvent,
    TextDeltaEvent,
    ThinkingEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from agents.invocation import Emit, InvocationContext, InvocationTool
from agents.llm.base import (
    LLM,
    Finished,
    FinishReason,
    LLMEvent,
    LLMRequest,
    Message,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    ToolSpec,
    Usage,
)
from agents.llm.config import LLMConfig
from agents.llm.factory import thinking_of
from agents.sessions import Event, EventActions
from agents.templating import render_instruction
from tools.approvals import Approval, denial_text
from tools.base import Tool, ToolContext, ToolOutput, run_tool

__all__ = [
    "RUNTIME_AUTHOR",
    "AgentError",
    "BoundTool",
    "InvocationContext",
    "LLMAgent",
    "MaxIterationsExceeded",
    "OutputSchemaError",
    "approval_pause",
    "build_history",
    "status_event",
    "status_of",
]

logger = logging.getLogger(__name__)

#: Author of the messages the runtime itself adds to a conversation (output repair requests).
RUNTIME_AUTHOR = "hector"
TRUNCATED_MARKER = "...[truncated]"
INTERRUPTED_RESULT = "no result: the run was interrupted before this tool call finished"
#: How long cancelled tool calls get to finish before the run stops waiting for them.
CANCEL_GRACE_S = 2.0


class AgentError(HectorError):
    code = "agent_error"


class MaxIterationsExceeded(AgentError):
    code = "max_iterations_exceeded"


class OutputSchemaError(AgentError):
    code = "output_schema_invalid"


# --- invocation -----------------------------------------------------------------------------


def status_event(*, agent: str, invocation_id: str, state: str, message: str) -> Event:
    """A stored marker of how an invocation ended early ("canceled", "failed"). It is a data
    part so that history building can skip it: the model never sees it."""
    data = {"hector_type": "status", "state": state, "message": message}
    return Event(author=agent, role="agent", invocation_id=invocation_id, parts=(DataPart(data),))


def status_of(event: Event) -> Mapping[str, Any] | None:
    for part in event.parts:
        if isinstance(part, DataPart) and part.data.get("hector_type") == "status":
            return part.data
    return None


@dataclass(frozen=True, slots=True)
class BoundTool:
    """A tool as one agent offers it: config may rename it, describe it and set its timeout."""

    tool: Tool
    name: str
    description: str
    parameters: Mapping[str, Any]
    timeout_s: float | None
    #: Whether a call with these arguments waits for a person (SPEC 8), and what to ask.
    needs_approval: Callable[[Mapping[str, Any]], bool] = field(default=lambda arguments: False)
    approval_prompt: Callable[[Mapping[str, Any]], str] | None = None

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)

    def prompt_for(self, arguments: Mapping[str, Any]) -> str:
        if self.approval_prompt is not None:
            return self.approval_prompt(arguments)
        return f'Allow the agent to call "{self.name}"?'


# --- the agent ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LLMAgent:
    name: str
    config: AgentConfig
    llm: LLM
    llm_config: LLMConfig
    tools: Mapping[str, BoundTool]
    instruction: str = ""

    async def resume(self, ctx: InvocationContext) -> AsyncGenerator[RunEvent, None]:
        """The rest of `ctx`'s invocation. Completed tool calls are never run again: their
        results are in the session. An answer already stored ends the turn with it; calls of
        the last model turn that have no results yet run now; then the agent goes on from the
        history."""
        own = [
            e for e in ctx.events if e.invocation_id == ctx.invocation_id and status_of(e) is None
        ]
        last = own[-1] if own else None
        if last is not None and last.role == "agent" and last.author == self.name:
            calls = [p for p in last.parts if isinstance(p, ToolCallPart)]
            has_results = any(isinstance(p, ToolResultPart) for p in last.parts)
            output = next((p.data for p in last.parts if isinstance(p, DataPart)), None)
            answered = output is not None or not self.config.output_schema
            if not calls and not has_results and answered:
                text = "".join(p.text for p in last.parts if isinstance(p, TextPart))
                yield FinalEvent(self.name, text, ctx.session.id, output)
                return
            if calls:
                pending = [ToolCall(c.call_id, c.name, c.arguments, c.metadata) for c in calls]
                async with aclosing(self._run_tools(ctx, pending)) as round_events:
                    async for event in round_events:
                        yield event
                        if isinstance(event, InterruptedEvent):
                            return  # still waiting for approval
        async with aclosing(self.run(ctx)) as events:
            async for event in events:
                yield event

    async def run(self, ctx: InvocationContext) -> AsyncGenerator[RunEvent, None]:
        schema_check = _schema_validator(self.config.output_schema)
        max_iterations = self.config.reasoning.max_iterations
        repair_asked = False
        for _ in range(max_iterations):
            turn = _Turn(self.name)
            stream = self.llm.stream(await self._request(ctx))
            try:
                async for llm_event in stream:
                    run_event = turn.add(llm_event)
                    if run_event is not None:
                        yield run_event
            finally:
                await _close_stream(stream)
            if turn.tool_calls:
                yield EventStored(await ctx.append(self._model_event(ctx, turn)))
                control = self._control_of(turn.tool_calls)
                paused = False
                # aclosing: a consumer leaving mid-round must cancel the calls still running.
                async with aclosing(self._run_tools(ctx, turn.tool_calls, control)) as round_events:
                    async for run_event in round_events:
                        paused = paused or isinstance(run_event, InterruptedEvent)
                        yield run_event
                if paused:
                    return  # a call waits for approval; the next message resumes the round
                if control is not None:
                    # A transfer or an escalation ends this agent's turn: no further LLM call.
                    yield FinalEvent(
                        self.name,
                        turn.text,
                        ctx.session.id,
                        escalate=control.action == "escalate",
                        transfer_to=control.target if control.action == "transfer" else None,
                    )
                    return
                continue
            text = turn.text
            parsed, problem = (
                (None, None) if schema_check is None else _check_output(text, schema_check)
            )
            if problem is None:
                for run_event in await self._finish(ctx, turn, text, output=parsed):
                    yield run_event
                return
            yield EventStored(await ctx.append(self._model_event(ctx, turn)))
            if repair_asked:
                raise OutputSchemaError(
                    f"output does not match output_schema after one repair attempt: {problem}"
                )
            repair_asked = True
            yield StatusEvent(
                self.name,
                f"output does not match output_schema ({problem}); asking the model to repair it",
            )
            request = (
                f"Your answer does not match the required output schema: {problem}. "
                "Reply with only the corrected JSON, no other text."
            )
            repair = Event(
                author=RUNTIME_AUTHOR,
                role="user",
                parts=(TextPart(request),),
                invocation_id=ctx.invocation_id,
            )
            yield EventStored(await ctx.append(repair))
        raise MaxIterationsExceeded(
            f'agent "{self.name}" reached reasoning.max_iterations ({max_iterations}) '
            "without a final answer"
        )

    async def _request(self, ctx: InvocationContext) -> LLMRequest:
        """Rebuilt every LLM call: the instruction is templated against the current state."""
        rendered = [
            await render_instruction(text, state=ctx.state, load_artifact=ctx.load_artifact)
            for text in (self.config.global_instruction, self.instruction)
            if text
        ]
        config = self.llm_config
        return LLMRequest(
            messages=build_history(ctx.events, agent=self.name, context=self.config.context),
            system="\n\n".join(rendered) or None,
            tools=tuple(bound.spec for bound in self.tools.values()),
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            thinking=thinking_of(config),
            output_schema=self.config.output_schema,
        )

    def _model_event(
        self,
        ctx: InvocationContext,
        turn: _Turn,
        extra: tuple[Part, ...] = (),
        actions: EventActions | None = None,
    ) -> Event:
        return Event(
            author=self.name,
            role="agent",
            parts=(*turn.parts(), *extra),
            invocation_id=ctx.invocation_id,
            actions=actions or EventActions(),
            usage=turn.usage,
        )

    async def _finish(
        self, ctx: InvocationContext, turn: _Turn, text: str, *, output: Any
    ) -> tuple[EventStored, FinalEvent]:
        """Store the answer and describe it to the caller. With an `output_schema` the event
        also holds the parsed value as a data part, and `output_key` gets the parsed value
        (so templates and routers can read its fields); otherwise `output_key` gets the text."""
        extra: tuple[Part, ...] = ()
        state_value: Any = text
        if self.config.output_schema is not None:
            extra = (DataPart(output if isinstance(output, Mapping) else {"value": output}),)
            state_value = output
        delta = {self.config.output_key: state_value} if self.config.output_key else {}
        event = self._model_event(ctx, turn, extra, EventActions(state_delta=delta))
        stored = await ctx.append(event)
        return EventStored(stored), FinalEvent(self.name, text, ctx.session.id, output)

    def _control_of(self, calls: Sequence[ToolCall]) -> ControlTool | None:
        """The first control tool the response called (one hand-over per turn wins)."""
        for call in calls:
            bound = self.tools.get(call.name)
            if bound is not None and isinstance(bound.tool, ControlTool):
                return bound.tool
        return None

    async def _run_tools(
        self, ctx: InvocationContext, calls: Sequence[ToolCall], control: ControlTool | None = None
    ) -> AsyncGenerator[RunEvent, None]:
        """Run one response's calls concurrently; store their results as one event, in call
        order. Events a call emits while it runs (an agent called as a tool streams its own)
        are yielded as they come. Leaving early (cancel, close) cancels the calls still running.

        Calls that need approval go first (SPEC 8): while any waits for a person, nothing of
        the round runs and the round ends with an `InterruptedEvent` asking for the decisions;
        resumed later, approved calls run (once: their results are then stored) and denied or
        expired ones answer the model with the denial.
        """
        decided: dict[int, ToolOutput] = {}
        waiting: list[Approval] = []
        for index, call in enumerate(calls):
            approval = await self._approval_of(ctx, call)
            if approval is None:
                continue
            state = approval.current_state()
            if state == "pending":
                waiting.append(approval)
            elif state != "approved":
                decided[index] = ToolOutput.error(denial_text(approval))
        if waiting:
            yield approval_pause(self.name, ctx.session.id, waiting)
            return
        contexts = [
            ToolContext(
                agent=self.name,
                user_id=ctx.user_id,
                session=ctx.session,
                invocation_id=ctx.invocation_id,
                store=ctx.store,
                call_id=call.call_id,
                state=ctx.state,
            )
            for call in calls
        ]
        inbox: asyncio.Queue[RunEvent | asyncio.Task[tuple[int, ToolOutput, int]]] = asyncio.Queue()
        tasks = [
            asyncio.create_task(
                self._call(index, call, tc, ctx, inbox.put_nowait), name=f"tool {call.name}"
            )
            for index, (call, tc) in enumerate(zip(calls, contexts, strict=True))
            if index not in decided
        ]
        for task in tasks:
            task.add_done_callback(inbox.put_nowait)
        outputs: dict[int, ToolOutput] = {}
        for index, output in decided.items():
            outputs[index] = output
            call = calls[index]
            yield ToolResultEvent(self.name, call.call_id, call.name, output.content, True, 0)
        try:
            while len(outputs) < len(calls):
                item = await inbox.get()
                if not isinstance(item, asyncio.Task):
                    yield item
                    continue
                index, output, duration_ms = item.result()
                outputs[index] = output
                call = calls[index]
                yield ToolResultEvent(
                    self.name, call.call_id, call.name, output.content, output.is_error, duration_ms
                )
        finally:
            pending = [task for task in tasks if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                # A tool that ignores cancellation must not hold the run (or the cancel) hostage.
                _, stuck = await asyncio.wait(pending, timeout=CANCEL_GRACE_S)
                for task in stuck:
                    logger.warning("agent=%s %s ignored cancellation", self.name, task.get_name())
        state_delta: dict[str, Any] = {}
        artifact_delta: dict[str, int] = {}
        for tool_context in contexts:
            state_delta.update(tool_context.state_delta)
            artifact_delta.update(tool_context.artifact_delta)
        results: tuple[Part, ...] = tuple(
            ToolResultPart(call.call_id, call.name, outputs[i].content, outputs[i].is_error)
            for i, call in enumerate(calls)
        )
        # Images and other files a tool returned follow the results, in call order.
        results += tuple(file for i in range(len(calls)) for file in outputs[i].files)
        if control is not None:
            state_delta.update(control.state)
        event = Event(
            author=self.name,
            role="agent",
            parts=results,
            invocation_id=ctx.invocation_id,
            actions=EventActions(
                state_delta=state_delta,
                artifact_delta=artifact_delta,
                transfer_to_agent=control.target if control is not None else None,
                escalate=control is not None and control.action == "escalate",
            ),
        )
        yield EventStored(await ctx.append(event))

    async def _approval_of(self, ctx: InvocationContext, call: ToolCall) -> Approval | None:
        """The approval this call needs (asked now, or asked by an earlier run), else None."""
        bound = self.tools.get(call.name)
        if ctx.approvals is None or bound is None or not bound.needs_approval(call.arguments):
            return None
        return await ctx.approvals.ask(
            session_id=ctx.session.id,
            agent=self.name,
            call_id=call.call_id,
            tool_name=call.name,
            arguments=call.arguments,
            prompt=bound.prompt_for(call.arguments),
            invocation_id=ctx.invocation_id,
            user_id=ctx.user_id,
            task_id=ctx.task_id,
        )

    async def _call(
        self,
        index: int,
        call: ToolCall,
        context: ToolContext,
        ctx: InvocationContext,
        emit: Emit,
    ) -> tuple[int, ToolOutput, int]:
        started = time.perf_counter()
        bound = self.tools.get(call.name)
        if bound is None:
            output = ToolOutput.error(self._unknown_tool(call.name))
        else:
            tool = bound.tool
            if isinstance(tool, InvocationTool):
                tool = _InInvocation(bound, tool, ctx, emit)
            output = await run_tool(tool, call.arguments, context, timeout_s=bound.timeout_s)
        output = _truncate(output, self.llm_config.max_tool_output_length)
        return index, output, int((time.perf_counter() - started) * 1000)

    def _unknown_tool(self, name: str) -> str:
        if name.startswith(TRANSFER_PREFIX):
            start = len(TRANSFER_PREFIX)
            targets = [n[start:] for n in self.tools if n.startswith(TRANSFER_PREFIX)]
            allowed = ", ".join(targets) or "none"
            return (
                f'transfer to "{name[len(TRANSFER_PREFIX) :]}" refused: not an agent this one can '
                f"hand over to (allowed: {allowed})"
            )
        offered = ", ".join(self.tools) or "none"
        return f'unknown tool "{name}" (available: {offered})'


@dataclass(frozen=True, slots=True)
class _InInvocation:
    """An `InvocationTool` bound to the invocation calling it, shaped as a plain `Tool`, so
    `run_tool` gives it the same deadline and error handling as every other tool."""

    bound: BoundTool
    tool: InvocationTool
    ctx: InvocationContext
    emit: Emit

    @property
    def name(self) -> str:
        return self.bound.name

    @property
    def description(self) -> str:
        return self.bound.description

    @property
    def parameters(self) -> Mapping[str, Any]:
        return self.bound.parameters

    async def call(self, arguments: Mapping[str, Any], context: ToolContext) -> ToolOutput:
        return await self.tool.call_in(self.ctx, arguments, context, self.emit)


def approval_pause(
    agent: str, session_id: str, waiting: Sequence[Approval], note: str = ""
) -> InterruptedEvent:
    """The pause of calls waiting for a person: each prompt as text (after `note`, which says
    why the caller is asked again), each request as data (SPEC 8)."""
    asks = "\n".join(f"- {approval.prompt} ({approval.tool_name})" for approval in waiting)
    return InterruptedEvent(
        agent,
        "input-required",
        f"{note}Approval needed:\n{asks}\nReply approve or deny (a reason may follow).",
        session_id,
        data=tuple(approval.request_data() for approval in waiting),
    )


@dataclass(slots=True)
class _Turn:
    """One streamed model response, folded into the parts of its session event."""

    agent: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    finish: FinishReason | None = None
    _text: list[str] = field(default_factory=list)
    _thinking: list[ThinkingPart] = field(default_factory=list)
    _open_thinking: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self._text)

    def add(self, event: LLMEvent) -> RunEvent | None:
        if not isinstance(event, ThinkingDelta):
            self._close_thinking(None)
        match event:
            case TextDelta(text=text):
                self._text.append(text)
                return TextDeltaEvent(self.agent, text) if text else None
            case ThinkingDelta(text=text, signature=signature):
                self._open_thinking.append(text)
                if signature is not None:
                    self._close_thinking(signature)
                return ThinkingEvent(self.agent, text, signature)
            case ToolCall(call_id=call_id, name=name, arguments=arguments):
                self.tool_calls.append(event)
                return ToolCallEvent(self.agent, call_id, name, arguments)
            case Usage():
                # Providers report running totals; the last report is the turn's usage.
                self.usage = {
                    "input_tokens": event.input_tokens,
                    "output_tokens": event.output_tokens,
                    "thinking_tokens": event.thinking_tokens,
                }
                return None
            case Finished(reason=reason):
                self.finish = reason
                return None
            case _:
                assert_never(event)

    def _close_thinking(self, signature: str | None) -> None:
        if self._open_thinking or signature is not None:
            self._thinking.append(ThinkingPart("".join(self._open_thinking), signature))
            self._open_thinking.clear()

    def parts(self) -> tuple[Part, ...]:
        """Thinking first (Anthropic requires it), then text, then the calls."""
        self._close_thinking(None)
        parts: list[Part] = list(self._thinking)
        if self.text:
            parts.append(TextPart(self.text))
        parts.extend(
            ToolCallPart(c.call_id, c.name, c.arguments, c.metadata) for c in self.tool_calls
        )
        return tuple(parts)


async def _close_stream(stream: AsyncIterator[LLMEvent]) -> None:
    """Stop the provider stream (and its HTTP response) when the loop leaves it early: on a
    cancel, a failure, or a consumer that stopped reading. `LLM.stream` promises only an
    iterator, so `aclose` is used when there is one."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def _truncate(output: ToolOutput, limit: int) -> ToolOutput:
    """SPEC 5.1 `max_tool_output_length` (0 = unlimited), measured on the text the model gets."""
    if not limit:
        return output
    text = ToolResultPart("", "", output.content).content_text()
    if len(text) <= limit:
        return output
    return replace(output, content=text[:limit] + TRUNCATED_MARKER)


# --- structured output ------------------------------------------------------------------------

_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(?P<body>.*?)\n?```$", re.DOTALL)


def _schema_validator(schema: Mapping[str, Any] | None) -> Any:
    if schema is None:
        return None
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        raise AgentError(f"output_schema is not a valid JSON Schema: {exc.message}") from None
    return cls(schema)


def _check_output(text: str, validator: Any) -> tuple[Any, str | None]:
    """(parsed value, problem or None). Code fences around the JSON are tolerated: models add
    them even when told not to, and they carry no meaning."""
    candidate = text.strip()
    fenced = _FENCE.match(candidate)
    if fenced:
        candidate = fenced["body"].strip()
    try:
        value = json.loads(candidate)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        return None, f"the answer is not valid JSON ({exc.msg} at {where})"
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return value, None
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return value, f"{path}: {error.message}"


# --- history ----------------------------------------------------------------------------------

_summary_warned: set[str] = set()


def build_history(
    events: Sequence[Event], *, agent: str, context: ContextConfig
) -> tuple[Message, ...]:
    """The stored events as provider messages, windowed by the agent's `context` strategy.

    Windows cut only where a user turn starts, so a tool call is never separated from its
    result. Calls left without a result (a canceled run) get an error result, and results
    without their call are dropped: providers reject both.
    """
    messages = _repair_tool_pairs(_to_messages(events, agent))
    match context.strategy:
        case "none":
            kept = messages
        case "buffer_window":
            starts = _turn_starts(messages)
            window = context.window_size
            kept = messages[starts[-window] :] if len(starts) > window else messages
        case "token_window":
            kept = _token_window(messages, context.budget, context.preserve_recent)
        case "summary_buffer":
            if agent not in _summary_warned:
                _summary_warned.add(agent)
                logger.warning(
                    "agent=%s context strategy summary_buffer is not implemented yet; "
                    "using token_window with budget %s",
                    agent,
                    context.budget,
                )
            kept = _token_window(messages, context.budget, context.preserve_recent)
        case _:
            assert_never(context.strategy)
    return tuple(_merge_roles(kept))


def _to_messages(events: Sequence[Event], agent: str) -> list[Message]:
    messages: list[Message] = []
    for event in events:
        if status_of(event) is not None:
            continue
        if event.role == "user":
            parts = tuple(_user_part(p) for p in event.parts)
            messages.append(Message("user", parts))
        elif event.author == agent:
            said = tuple(
                p for p in event.parts if isinstance(p, TextPart | ThinkingPart | ToolCallPart)
            )
            results: tuple[Part, ...] = tuple(
                p for p in event.parts if isinstance(p, ToolResultPart)
            )
            if results:  # files tools returned go with the results: media only rides a user turn
                results += tuple(p for p in event.parts if isinstance(p, FilePart))
            if said:
                messages.append(Message("assistant", said))
            if results:
                messages.append(Message("user", results))
        else:
            notes = tuple(_context_note(event.author, p) for p in event.parts)
            parts = tuple(TextPart(n) for n in notes if n)
            if parts:
                messages.append(Message("user", parts))
    return [m for m in messages if m.parts]


def _user_part(part: Part) -> Part:
    if isinstance(part, DataPart):
        return TextPart(json.dumps(dict(part.data), ensure_ascii=False, default=str))
    return part


def _context_note(author: str, part: Part) -> str | None:
    """Another agent's turn, told to this one as context (its calls are not this agent's)."""
    match part:
        case TextPart(text=text) if text:
            return f"For context: [{author}] said: {text}"
        case ToolCallPart(name=name, arguments=arguments):
            args = json.dumps(dict(arguments), ensure_ascii=False, default=str)
            return f"For context: [{author}] called tool `{name}` with parameters: {args}"
        case ToolResultPart(name=name):
            return f"For context: [{author}] `{name}` tool returned result: {part.content_text()}"
    return None


def _repair_tool_pairs(messages: list[Message]) -> list[Message]:
    out: list[Message] = []
    open_calls: list[ToolCallPart] = []
    for message in messages:
        answered = {p.call_id for p in message.parts if isinstance(p, ToolResultPart)}
        out += _interrupted([c for c in open_calls if c.call_id not in answered])
        valid = {c.call_id for c in open_calls}
        parts = tuple(
            p for p in message.parts if not isinstance(p, ToolResultPart) or p.call_id in valid
        )
        if parts:
            out.append(Message(message.role, parts))
        is_model = message.role == "assistant"
        open_calls = [p for p in parts if isinstance(p, ToolCallPart)] if is_model else []
    return out + _interrupted(open_calls)


def _interrupted(calls: Sequence[ToolCallPart]) -> list[Message]:
    """Error results standing in for calls whose run ended before they finished."""
    if not calls:
        return []
    results = tuple(
        ToolResultPart(c.call_id, c.name, INTERRUPTED_RESULT, is_error=True) for c in calls
    )
    return [Message("user", results)]


def _turn_starts(messages: Sequence[Message]) -> list[int]:
    """Indices of messages where a user turn starts (user input, not tool results)."""
    return [
        i
        for i, m in enumerate(messages)
        if m.role == "user" and not any(isinstance(p, ToolResultPart) for p in m.parts)
    ]


def _token_window(messages: list[Message], budget: int, preserve_recent: int) -> list[Message]:
    """Keep the last `preserve_recent` messages (widened to the start of their turn), then
    whole older turns while the total stays within `budget` tokens (~4 characters each)."""
    starts = _turn_starts(messages)
    if not starts:
        return messages
    floor = max(len(messages) - preserve_recent, 0)
    start = max((s for s in starts if s <= floor), default=starts[0])
    start = min(start, starts[-1])
    total = sum(_tokens(m) for m in messages[start:])
    for candidate in reversed([s for s in starts if s < start]):
        cost = sum(_tokens(m) for m in messages[candidate:start])
        if total + cost > budget:
            break
        start, total = candidate, total + cost
    return messages[start:]


def _tokens(message: Message) -> int:
    chars = 0
    for part in message.parts:
        match part:
            case TextPart(text=text) | ThinkingPart(text=text):
                chars += len(text)
            case ToolCallPart(arguments=arguments):
                chars += len(part.name) + len(json.dumps(dict(arguments), default=str))
            case ToolResultPart():
                chars += len(part.content_text())
            case _:
                chars += 1024  # files and data: a flat estimate; their real cost is provider's
    return chars // 4 + 1


def _merge_roles(messages: Sequence[Message]) -> list[Message]:
    """Consecutive messages of one role become one (e.g. tool results then a user question)."""
    merged: list[Message] = []
    for message in messages:
        if merged and merged[-1].role == message.role:
            merged[-1] = Message(message.role, (*merged[-1].parts, *message.parts))
        else:
            merged.append(message)
    return merged
