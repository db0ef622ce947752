"""`TaskService`: A2A tasks of one app — the only code that changes Task rows.

Shape of a run. A send admits the task in one ORM hop (the row is created, or an interrupted task
takes the new message). A blocking send or a stream also claims the task's session in that hop
and then `_run` drives the app's Runner in its own asyncio task, turns run events into updates
(`mapping.RunTranslator`), publishes them on the bus and finishes the row. A non-blocking send
stores the task submitted and hands it to the durable queue (`apps.tasks.queue`): published for a
worker in the same hop, or, without workers, run here by `execute(task_id)`, which is also what a
worker calls. Callers only wait on or subscribe to the run's asyncio task, so a client that leaves
a stream, or a blocking caller that is cancelled, never stops the run; only `cancel` does.

Durability (SPEC 8). The row is the truth: attempts, the next retry, the last error, the lease
and the dead-letter reason are its columns. A run stores a checkpoint after each model turn that
called tools and each round of tool results (the answer's rides along with the final update), and
keeps one invocation id per turn, so a retry or a run recovered after its process died resumes
from the session (`Runner.run(resume=True)`): completed tool calls are not run again. Retryable
failures (provider busy or down) back off per `queue.policy_for`; the last one dead-letters the
task with its reason. A run whose lease was taken over by recovery stops without a word.

Transitions are conditional updates (`... WHERE state NOT IN terminal`), and whoever makes one
announces it (final status update, push notifications). A run finishing after a cancel therefore
changes nothing and says nothing.

Sessions: two runs on one session are serialised. The running task holds a lease on its row
(`lease_owner`, `lease_expires_at`, renewed while it runs); admission checks for a live lease on
the same context under a transaction-scoped advisory lock, so two processes cannot both pass.
A busy session is waited for up to `session_wait_s` (local releases wake waiters at once, other
processes' are noticed by polling), then `UnsupportedOperation(reason="session_busy")`.

Each ORM hop is a sync function of `apps.tasks.rows`, run through `in_schema(schema, ...)`, so it
works the same in a request, an SSE body that outlives the tenant middleware, and a worker.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import aclosing, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from asgiref.sync import async_to_sync

from agents.content import DataPart, TextPart, ToolCallPart, ToolResultPart
from agents.errors import HectorError
from agents.events import ErrorEvent, EventStored, FinalEvent, InterruptedEvent
from agents.sessions import Event as SessionEvent
from agents.tasks import (
    ArtifactUpdate,
    InvalidParams,
    PushConfig,
    StatusUpdate,
    Task,
    TaskArtifact,
    TaskMessage,
    TaskNotCancelable,
    TaskPage,
    TaskStatus,
    TaskUpdate,
    UnsupportedOperation,
)
from apps.tasks import bus, metrics, queue, rows, runtime
from apps.tasks.mapping import (
    RunTranslator,
    agent_message,
    answer_parts,
    is_final_update,
)
from apps.tasks.models import MAX_CONTEXT_ID_LENGTH, TaskState
from apps.tenancy.context import deferred_commits, in_schema
from apps.tenancy.models import App

__all__ = ["TaskService"]

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
CANCEL_WAIT_S = 5.0  # how long `cancel` waits for a local run to stop (the runner records it)
RECHECK_S = 15.0  # a quiet resubscription re-reads the row this often (missed final update?)


# --- The service --------------------------------------------------------------------------------


class TaskService:
    """A2A tasks of one app. All methods are async; every ORM hop names the app's schema.

    `user_id`, where accepted, restricts access to that user's tasks: another user's task is
    `TaskNotFound`, as is another app's (it is not in this schema), so ids never leak.
    """

    session_wait_s: float = 30.0  # SPEC 6: a second run on a session waits this long

    def __init__(self, app: App) -> None:
        self.app = app
        self.schema: str = app.schema_name
        # A run renews its lease every third of this; a lease this old is stale (recovery).
        self.lease_s: float = queue.queue_settings().stale_threshold_s

    # --- sending ---

    async def send(
        self,
        *,
        agent: str,
        user_id: str,
        message: TaskMessage,
        blocking: bool = True,
        history_length: int | None = None,
        push_config: PushConfig | None = None,
        metadata: Mapping[str, Any] | None = None,
        wire_version: Literal["0.3", "1.0"] = "0.3",
    ) -> Task:
        """Start (or continue) a task. Blocking: return it in a final state (terminal or
        interrupted). Non-blocking: return it at once; the run goes on in this process."""
        _check_history_length(history_length)
        queued = not blocking and queue.uses_workers()
        # A blocking send tells its caller nothing before the final state's synchronous commit.
        with deferred_commits(blocking):
            task = await self._admit(
                agent=agent,
                user_id=user_id,
                message=message,
                push_config=push_config,
                metadata=metadata,
                wire_version=wire_version,
                blocking=blocking,
                queued=queued,
            )
        if not blocking:
            if not queued:  # no workers: this process is the queue
                self._start(task.id, self.execute(task.id))
            return _trimmed(task, history_length)
        run = self._start(task.id, self._run(task))
        await asyncio.wait({run})  # a cancelled caller leaves; the run goes on
        if run.cancelled() or run.exception() is not None:
            final = await self.get(task.id)
        else:
            final = run.result()
        return _trimmed(final, history_length)

    async def stream(
        self,
        *,
        agent: str,
        user_id: str,
        message: TaskMessage,
        blocking: bool = True,
        history_length: int | None = None,
        push_config: PushConfig | None = None,
        metadata: Mapping[str, Any] | None = None,
        wire_version: Literal["0.3", "1.0"] = "0.3",
    ) -> AsyncIterator[TaskUpdate]:
        """The task (submitted) first, then every update in run order, ending with a final
        status update. Errors of admission (unknown task, busy session, ...) raise from the
        first `__anext__`, before anything is yielded. Closing the iterator early only
        unsubscribes: the run continues and can be resubscribed. `blocking` is accepted so
        send and stream take the same arguments; a stream always follows the run."""
        _check_history_length(history_length)
        task = await self._admit(
            agent=agent,
            user_id=user_id,
            message=message,
            push_config=push_config,
            metadata=metadata,
            wire_version=wire_version,
            blocking=True,
        )
        # The run is ours, in this process: a local subscription sees all it publishes.
        subscription = await bus.subscribe(self.schema, task.id, remote=False)
        try:
            run = self._start(task.id, self._run(task))
            run.add_done_callback(lambda _: subscription.end())
            yield _trimmed(task, history_length)
            async for update in subscription:
                yield update
                if is_final_update(update):
                    return
            # The run ended without announcing an end: another process finished the row
            # (a cancel) and told its own subscribers. The row says how it ended.
            current = await self.get(task.id)
            yield StatusUpdate(task.id, task.context_id, current.status, final=True)
        finally:
            subscription.close()

    async def execute(self, task_id: str, *, in_worker: bool = False) -> Task:
        """Run a pending task (stored for the queue, released for a retry or by recovery) to a
        final state and return it: the entry point of queue workers and of local dispatch.
        Waits for the task's session like a send. A task that is not pending (finished, held by
        another run) is returned as it is; one whose attempts are spent or whose deadline passed
        is dead-lettered. `in_worker`: a retry goes back to the queue instead of being waited
        out here."""
        current = asyncio.current_task()
        if current is not None and runtime.local_run(self.schema, task_id) is None:
            runtime.track_run(self.schema, task_id, current)
        owner, lease_s = runtime.PROCESS_ID, self.lease_s
        try:
            claim = await self._when_session_free(
                lambda: in_schema(
                    self.schema, rows.claim_queued, task_id, owner=owner, lease_s=lease_s
                )
            )
        except UnsupportedOperation:
            row = await self.get(task_id)
            failure = _Outcome("failed", error="session busy: another run holds this session")
            return await self._finish(row, failure)
        if claim.task is not None:
            return await self._run(claim.task, claim, in_worker=in_worker)
        if claim.exhausted or claim.expired:
            reason = "task deadline exceeded" if claim.expired else claim.last_error
            failure = _Outcome("failed", error=reason or "no attempts left", dead_letter=reason)
            return await self._finish(await self.get(task_id), failure)
        if claim.not_due_s > 0:
            if in_worker:
                await in_schema(
                    self.schema, queue.publish_run, self.schema, task_id, delay_s=claim.not_due_s
                )
            else:
                await asyncio.sleep(claim.not_due_s)
                return await self.execute(task_id)
        return await self.get(task_id)

    # --- reading ---

    async def get(
        self, task_id: str, *, user_id: str | None = None, history_length: int | None = None
    ) -> Task:
        _check_history_length(history_length)
        return await in_schema(
            self.schema, rows.get_task, task_id, user_id=user_id, history_length=history_length
        )

    async def list(
        self,
        *,
        user_id: str | None = None,
        context_id: str | None = None,
        state: str | None = None,
        page_size: int = 50,
        page_token: str | None = None,
        history_length: int | None = None,
        include_artifacts: bool = False,
        last_updated_after: datetime | None = None,
    ) -> TaskPage:
        """Most recently updated first. `page_token` is the previous page's `next_page_token`
        ("" on the last page); `total_size` counts every match, not just this page."""
        if state is not None and state not in TaskState.values:
            raise InvalidParams(f"Unknown task state {state!r}", data={"fields": ["status"]})
        if isinstance(page_size, bool) or not isinstance(page_size, int):
            raise InvalidParams("pageSize must be an integer", data={"fields": ["pageSize"]})
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidParams(
                f"pageSize must be between 1 and {MAX_PAGE_SIZE}", data={"fields": ["pageSize"]}
            )
        _check_history_length(history_length)
        after = rows.decode_page_token(page_token) if page_token else None
        return await in_schema(
            self.schema,
            rows.list_tasks,
            user_id=user_id,
            context_id=context_id,
            state=state,
            page_size=page_size,
            after=after,
            history_length=history_length,
            include_artifacts=include_artifacts,
            last_updated_after=last_updated_after,
        )

    async def subscribe(
        self, task_id: str, *, user_id: str | None = None
    ) -> AsyncIterator[TaskUpdate]:
        """The task as it is now, then its live updates until a final one. A task already in a
        final state gives just the Task. Subscribes before reading the row, so nothing published
        in between is lost."""
        subscription = await bus.subscribe(self.schema, task_id)
        try:
            task = await self.get(task_id, user_id=user_id)
            yield task
            if task.is_final:
                return
            async for update in self._follow(task, subscription):
                yield update
        finally:
            subscription.close()

    async def _follow(
        self, task: Task, subscription: bus.Subscription
    ) -> AsyncIterator[TaskUpdate]:
        """Live updates of a task someone else runs, until its final status update.

        A subscriber that joined mid-answer saw only the later chunks of an artifact, or none
        (the bus sends chunks to other processes only once it knows of a follower): before the
        final status it gets each artifact it did not see from its first chunk whole (from the
        row), as one replacing chunk.
        """
        started: set[str] = set()  # artifacts seen from their first (or a replacing) chunk
        while True:
            update = await subscription.get(RECHECK_S)
            if update is None:  # quiet: maybe the final update was missed (backend outage)
                current = await self.get(task.id)
                if current.is_final:
                    yield StatusUpdate(task.id, task.context_id, current.status, final=True)
                    return
                continue
            if isinstance(update, ArtifactUpdate) and not update.append:
                started.add(update.artifact.artifact_id)
            if is_final_update(update):
                current = await self.get(task.id)
                for artifact in current.artifacts:
                    if artifact.artifact_id not in started:
                        yield ArtifactUpdate(
                            task.id, task.context_id, artifact, append=False, last_chunk=True
                        )
            yield update
            if is_final_update(update):
                return

    # --- cancel ---

    async def cancel(self, task_id: str, *, user_id: str | None = None) -> Task:
        """Mark the task canceled, then stop its run: here (waiting until the runner recorded
        the cancellation in the session) or, through the bus, in the process that runs it."""
        task = await self.get(task_id, user_id=user_id)
        if task.is_terminal:
            raise TaskNotCancelable(task_id, task.status.state)
        canceled = await self._finish(task, _Outcome("canceled"))
        if canceled.status.state != "canceled":  # it ended on its own just before
            raise TaskNotCancelable(task_id, canceled.status.state)
        run = runtime.cancel_local_run(self.schema, task_id)
        if run is None:
            await bus.request_cancel(self.schema, task_id)
        elif run.get_loop() is asyncio.get_running_loop():
            await asyncio.wait({run}, timeout=CANCEL_WAIT_S)
        return canceled

    # --- push notification configs ---

    async def set_push_config(
        self, task_id: str, config: PushConfig, *, user_id: str | None = None
    ) -> PushConfig:
        """Create or replace (same id) a config of the task; an id is generated when empty.
        A URL the SSRF policy refuses is `InvalidParams` (SPEC 7.8)."""
        await _validate_push_url(config.url)
        return await in_schema(self.schema, rows.set_push_config, task_id, config, user_id=user_id)

    async def get_push_config(
        self, task_id: str, config_id: str | None = None, *, user_id: str | None = None
    ) -> PushConfig:
        """The named config, or the task's first one when `config_id` is None."""
        return await in_schema(
            self.schema, rows.get_push_config, task_id, config_id, user_id=user_id
        )

    async def list_push_configs(
        self, task_id: str, *, user_id: str | None = None
    ) -> tuple[PushConfig, ...]:
        return await in_schema(self.schema, rows.list_push_configs, task_id, user_id=user_id)

    async def delete_push_config(
        self, task_id: str, config_id: str, *, user_id: str | None = None
    ) -> None:
        """Remove the config; removing one that does not exist is not an error."""
        await in_schema(self.schema, rows.delete_push_config, task_id, config_id, user_id=user_id)

    # --- internals: admission ---

    async def _admit(
        self,
        *,
        agent: str,
        user_id: str,
        message: TaskMessage,
        push_config: PushConfig | None,
        metadata: Mapping[str, Any] | None,
        wire_version: Literal["0.3", "1.0"],
        blocking: bool,
        queued: bool = False,
    ) -> Task:
        """Store the new task, or the new message of an interrupted one; returns the task as
        submitted. `blocking` (a blocking send or a stream): the task also takes its session,
        waiting while another run holds it, and nothing is stored if it never gets it.
        Otherwise it stays submitted for `execute`; `queued`: it is published for a worker in the
        same hop, once stored. A push config given here was created by this request's protocol
        version."""
        _check_message(message)
        push = replace(push_config, wire_version=wire_version) if push_config else None
        if push is not None:
            await _validate_push_url(push.url)
        owner, lease_s = runtime.PROCESS_ID, self.lease_s
        publish_to = self.schema if queued else None
        if message.task_id:
            task_id = message.task_id

            def attempt() -> Awaitable[rows.Admission]:
                return in_schema(
                    self.schema,
                    _stored_then_published,
                    publish_to,
                    rows.admit_continuation,
                    task_id=task_id,
                    agent=agent,
                    user_id=user_id,
                    message=message,
                    metadata=dict(metadata or {}),
                    push=push,
                    owner=owner,
                    lease_s=lease_s,
                    claim=blocking,
                    queued=queued,
                )

        else:
            context_id = message.context_id or uuid.uuid4().hex
            new_task_id = uuid.uuid4().hex
            max_retries, deadline_at = queue.admission_terms(self.app, agent, metadata)

            def attempt() -> Awaitable[rows.Admission]:
                return in_schema(
                    self.schema,
                    _stored_then_published,
                    publish_to,
                    rows.admit_new,
                    task_id=new_task_id,
                    context_id=context_id,
                    context_is_new=message.context_id is None,
                    agent=agent,
                    user_id=user_id,
                    message=message,
                    metadata=dict(metadata or {}),
                    push=push,
                    owner=owner,
                    lease_s=lease_s,
                    claim=blocking,
                    max_retries=max_retries,
                    deadline_at=deadline_at,
                    queued=queued,
                )

        admission = await self._when_session_free(attempt)
        assert admission.task is not None  # not busy: admitted
        return admission.task

    async def _when_session_free(
        self, attempt: Callable[[], Awaitable[rows.Admission]]
    ) -> rows.Admission:
        """Repeat `attempt` while it finds the session busy, up to `session_wait_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.session_wait_s
        pause = 0.02
        key: tuple[str, str] | None = None
        waiter: asyncio.Future[None] | None = None
        try:
            while True:
                admission = await attempt()
                if not admission.busy:
                    return admission
                if key is None:  # now we know the session: listen for its release, then retry
                    key = (self.schema, admission.context_id)
                    waiter = _session_waiters.add(key)
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise UnsupportedOperation(
                        "Session is busy: another run on this context did not finish within "
                        f"{self.session_wait_s:g} s",
                        data={"reason": "session_busy", "contextId": admission.context_id},
                    )
                assert waiter is not None
                with suppress(TimeoutError):
                    async with asyncio.timeout(min(pause, remaining)):
                        await asyncio.shield(waiter)
                if waiter.done():
                    _session_waiters.discard(key, waiter)
                    waiter = _session_waiters.add(key)
                pause = min(pause * 2, 0.5)
        finally:
            if key is not None and waiter is not None:
                _session_waiters.discard(key, waiter)

    def _start(self, task_id: str, work: Coroutine[Any, Any, Task]) -> asyncio.Task[Task]:
        """Run `work` as its own asyncio task, registered so a cancel can find it."""
        started = asyncio.create_task(
            work, name=f"hector-task:{self.schema}:{task_id}", context=runtime.detached_context()
        )
        runtime.track_run(self.schema, task_id, started)
        return started

    # --- internals: running ---

    async def _run(
        self, task: Task, claim: rows.Admission | None = None, *, in_worker: bool = False
    ) -> Task:
        """Drive the Runner for a claimed task, retry what is worth retrying (SPEC 8) and finish
        its row. `claim` is the queue's (None: the first attempt of a blocking send or stream,
        claimed at admission). A retryable failure waits here, lease held, unless `in_worker`:
        then the task is released and republished with the delay. Cancellation (`cancel`, the
        bus) stops the runner, which records "canceled" in the session; the row is then marked
        canceled unless whoever cancelled already did. A run whose lease was taken over
        (recovery decided it was dead) stops without touching the row."""
        lost = asyncio.Event()
        runner_task = asyncio.current_task()
        assert runner_task is not None
        lease = asyncio.create_task(self._keep_lease(task.id, lost, runner_task))
        started = time.monotonic()
        if claim is not None and claim.latency_s is not None:
            metrics.observe_latency(self.app.id, task.agent, claim.latency_s)
        try:
            while True:
                outcome = await self._attempt(task, claim)
                retry = await self._retry_decision(task, claim, outcome)
                if retry is None:
                    break
                outcome, delay_s = retry
                if outcome.dead_letter:
                    break
                released = await in_schema(
                    self.schema,
                    rows.record_retry,
                    task.id,
                    owner=runtime.PROCESS_ID,
                    error=outcome.error,
                    delay_s=delay_s,
                    release=in_worker,
                )
                if not released:
                    return await self.get(task.id)  # no longer ours
                metrics.count_retry(self.app.id, task.agent)
                logger.info(
                    "task=%s app=%s attempt failed (%s); retry in %.2fs",
                    task.id,
                    self.app.id,
                    outcome.error,
                    delay_s,
                )
                if in_worker:
                    await in_schema(
                        self.schema, queue.publish_run, self.schema, task.id, delay_s=delay_s
                    )
                    return await self.get(task.id)
                await asyncio.sleep(delay_s)
                claim = await in_schema(
                    self.schema,
                    rows.retry_in_place,
                    task.id,
                    owner=runtime.PROCESS_ID,
                    lease_s=self.lease_s,
                )
                if claim.task is None:
                    if not claim.expired:
                        return await self.get(task.id)
                    outcome = _Outcome(
                        "failed",
                        error="task deadline exceeded",
                        dead_letter="task deadline exceeded",
                    )
                    break
                task = claim.task
        except asyncio.CancelledError:
            if lost.is_set():
                runner_task.uncancel()
                logger.warning(
                    "task=%s app=%s lost its lease; another run took it over", task.id, self.app.id
                )
                return await self.get(task.id)
            await asyncio.shield(self._finish(task, _Outcome("canceled")))
            raise
        finally:
            lease.cancel()
            metrics.observe_processing(self.app.id, task.agent, time.monotonic() - started)
        # Shielded: a cancel arriving now must not lose the final write and announcement.
        return await asyncio.shield(self._finish(task, outcome))

    async def _retry_decision(
        self, task: Task, claim: rows.Admission | None, outcome: _Outcome
    ) -> tuple[_Outcome, float] | None:
        """None: finish with `outcome`. Else (outcome, delay): retry after the delay, or, when
        the outcome now names a dead-letter reason, the last attempt is spent."""
        if outcome.state != "failed" or outcome.dead_letter or not queue.is_retryable(outcome.code):
            return None
        policy = queue.policy_for(self.app, task.agent)
        attempts = claim.attempts if claim is not None else 1
        max_retries = claim.max_retries if claim is not None else policy.max_retries
        if attempts > max_retries:
            reason = f"failed after {attempts} attempt(s): {outcome.error}"
            return replace(outcome, dead_letter=reason), 0.0
        return outcome, policy.delay_s(attempts)

    async def _attempt(self, task: Task, claim: rows.Admission | None) -> _Outcome:
        """One attempt: resume from the last checkpoint when this is not the turn's first."""
        translator = RunTranslator(task.id, task.context_id, _include_thinking(task))
        invocation_id = _invocation_id(task)
        resume = claim is not None and claim.attempts > 1
        if resume and claim is not None and claim.checkpoint is not None:
            try:
                invocation_id = _resume_point(task, claim.checkpoint)
            except CorruptCheckpoint as exc:
                logger.error("task=%s app=%s %s", task.id, self.app.id, exc)
                return _Outcome("failed", error=str(exc), dead_letter=str(exc))
        await bus.publish(self.schema, task.id, translator.working())
        deadline = claim.deadline_at if claim is not None else None
        try:
            # The run's writes commit without a flush each: `_finish` flushes them all.
            async with asyncio.timeout(_seconds_until(deadline)):
                with deferred_commits():
                    return await self._consume(
                        task, translator, invocation_id=invocation_id, resume=resume
                    )
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            reason = "task deadline exceeded"
            return _Outcome("failed", error=reason, dead_letter=reason)
        except Exception as exc:
            logger.exception("task=%s app=%s run failed", task.id, self.app.id)
            return _Outcome("failed", error=f"internal error: {type(exc).__name__}")

    async def _consume(
        self, task: Task, translator: RunTranslator, *, invocation_id: str, resume: bool
    ) -> _Outcome:
        try:
            runner = runtime.runner_for(self.app)
        except HectorError as exc:  # e.g. the stored config no longer validates
            return _Outcome("failed", error=str(exc))
        user_message = next((m for m in reversed(task.history) if m.role == "user"), None)
        if user_message is None:
            return _Outcome("failed", error="the task has no user message to answer")
        outcome = _Outcome("failed", error="the run ended without an answer")
        last_stored: SessionEvent | None = None
        events = runner.run(
            agent=task.agent,
            user_id=task.user_id,
            message=user_message.parts,
            session_id=task.context_id,
            invocation_id=invocation_id,
            resume=resume,
            task_id=task.id,
        )
        async with aclosing(events):
            async for event in events:
                for update in translator.updates(event):
                    await bus.publish(self.schema, task.id, update)
                if isinstance(event, EventStored):
                    last_stored = event.event
                    checkpoint = _checkpoint_of(task, event.event)
                    if checkpoint is not None:
                        kind, snapshot = checkpoint
                        await in_schema(
                            self.schema, rows.save_checkpoint, task.id, kind=kind, snapshot=snapshot
                        )
                elif isinstance(event, FinalEvent):
                    answer = agent_message(
                        answer_parts(event), task_id=task.id, context_id=task.context_id
                    )
                    outcome = _Outcome(
                        "completed",
                        message=answer,
                        history=(answer,),
                        artifact=translator.final_artifact(event),
                        checkpoint=_snapshot(task, invocation_id, "final", last_stored),
                    )
                elif isinstance(event, InterruptedEvent):  # waits for the caller's next message
                    # SPEC 8: the question as text, each structured request as a data part.
                    parts = (TextPart(event.message), *(DataPart(item) for item in event.data))
                    question = agent_message(parts, task_id=task.id, context_id=task.context_id)
                    outcome = _Outcome(event.state, message=question, history=(question,))
                elif isinstance(event, ErrorEvent):
                    outcome = _Outcome("failed", error=event.message, code=event.code)
        return outcome

    async def _keep_lease(self, task_id: str, lost: asyncio.Event, run: asyncio.Task[Any]) -> None:
        """Renew the run's lease every third of its length. When the row says the lease is no
        longer ours (recovery released it after a stall, or the task was finished elsewhere),
        stop the run: another may be running it now."""
        owner = runtime.PROCESS_ID
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                renewed = await in_schema(
                    self.schema, rows.renew_lease, task_id, owner=owner, lease_s=self.lease_s
                )
            except Exception:
                logger.warning("task=%s could not renew its session lease", task_id, exc_info=True)
                continue
            if not renewed:
                lost.set()
                run.cancel()
                return

    async def _finish(self, task: Task, outcome: _Outcome) -> Task:
        """Move the row to the outcome's state unless it is already terminal. Whoever moves it
        announces it: final status update (to other processes by the row's own statement when
        the bus allows), push notifications, session waiters woken."""
        status_message = outcome.message
        if outcome.error:
            parts = (TextPart(outcome.error),)
            status_message = agent_message(parts, task_id=task.id, context_id=task.context_id)
        at = datetime.now(UTC)
        status = TaskStatus(outcome.state, at, status_message)  # type: ignore[arg-type]
        final = StatusUpdate(task.id, task.context_id, status, final=True)
        frame = bus.row_frame(self.schema, task.id, final)
        # The row's write commits synchronously by itself: the connection keeps the run's
        # deferred mode (no switch back and forth for every run).
        with deferred_commits():
            finished, configs = await in_schema(
                self.schema,
                rows.finish_row,
                task.id,
                state=outcome.state,
                status_message=status_message,
                history=outcome.history,
                artifact=outcome.artifact,
                last_error=outcome.error,
                at=at,
                dead_letter=outcome.dead_letter,
                checkpoint=outcome.checkpoint,
                notify=frame,
            )
        _session_waiters.wake((self.schema, task.context_id))
        if finished is None:
            return await self.get(task.id)
        if outcome.dead_letter:
            metrics.count_dead_letter(self.app.id, task.agent)
            logger.warning(
                "task=%s app=%s dead-lettered: %s", task.id, self.app.id, outcome.dead_letter
            )
        await bus.publish(self.schema, task.id, final, sent=frame is not None)
        if configs:
            await _notify_push(finished, configs, app_id=self.app.id)
        return finished


# --- Outcomes and argument checks ---------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    state: str
    message: TaskMessage | None = None
    history: tuple[TaskMessage, ...] = ()
    artifact: TaskArtifact | None = None
    error: str = ""
    code: str = ""  # the run's error code: decides whether the queue retries
    dead_letter: str = ""  # a reason: the task also goes to the dead-letter queue
    checkpoint: dict[str, Any] | None = None  # the run's final checkpoint


class CorruptCheckpoint(Exception):
    """A stored checkpoint that cannot be resumed from; its task is dead-lettered."""


def execute_on_own_loop(app: App, task_id: str, *, in_worker: bool = False) -> Task:
    """`TaskService.execute` from sync code (a queue worker, a thread): on a loop of its own,
    whose LLM and remote-agent clients are closed before it ends."""

    async def execute() -> Task:
        try:
            return await TaskService(app).execute(task_id, in_worker=in_worker)
        finally:
            await runtime.release_loop_clients()

    return async_to_sync(execute)()


def _stored_then_published(
    publish_to: str | None, admit: Callable[..., rows.Admission], **kwargs: Any
) -> rows.Admission:
    """Admission, then (for the queue) the publish, in one ORM hop: the row committed first,
    so a worker never gets an id it cannot find."""
    admission = admit(**kwargs)
    if publish_to is not None and admission.task is not None:
        queue.publish_run(publish_to, admission.task.id)
    return admission


def _seconds_until(deadline: datetime | None) -> float | None:
    if deadline is None:
        return None
    return max((deadline - datetime.now(UTC)).total_seconds(), 0.0)


def _invocation_id(task: Task) -> str:
    """Stable across the attempts of one turn (the n-th user message of the task), so a resumed
    run finds what earlier attempts stored in the session under it."""
    turn = sum(1 for m in task.history if m.role == "user")
    return f"{task.id}.{turn}"


def _snapshot(
    task: Task, invocation_id: str, phase: str, event: SessionEvent | None
) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        "invocation_id": invocation_id,
        "session_id": task.context_id,
        "agent": task.agent,
        "phase": phase,
    }
    if event is not None:
        snapshot["event_id"] = event.id
        snapshot["event_sequence"] = event.sequence
    return snapshot


def _checkpoint_of(task: Task, event: SessionEvent) -> tuple[str, dict[str, Any]] | None:
    """A model turn that called tools, or a round of tool results, is a checkpoint (SPEC 8,
    strategy `event`); the user's message and the answer are not (the answer's rides along
    with the final row update)."""
    calls = [p.call_id for p in event.parts if isinstance(p, ToolCallPart)]
    results = [p.call_id for p in event.parts if isinstance(p, ToolResultPart)]
    if calls:
        snapshot = _snapshot(task, event.invocation_id, "llm_turn", event)
        snapshot["pending_tool_calls"] = calls
        return "llm_turn", snapshot
    if results:
        snapshot = _snapshot(task, event.invocation_id, "tool_result", event)
        snapshot["completed_tool_calls"] = results
        return "tool_result", snapshot
    return None


def _resume_point(task: Task, checkpoint: rows.StoredCheckpoint) -> str:
    """The invocation a retry continues, from the task's last checkpoint. A checkpoint that
    does not describe this task's run is corrupt: resuming from it could replay or skip work."""
    snapshot = checkpoint.snapshot
    problem = None
    if not isinstance(snapshot, dict):
        problem = "snapshot is not an object"
    elif not isinstance(snapshot.get("invocation_id"), str) or not str(
        snapshot["invocation_id"]
    ).startswith(f"{task.id}."):
        problem = "invocation_id missing or not of this task"
    elif snapshot.get("session_id") != task.context_id:
        problem = "session_id does not match the task's context"
    elif snapshot.get("agent") != task.agent:
        problem = "agent does not match the task's agent"
    if problem is not None:
        raise CorruptCheckpoint(f"corrupt checkpoint #{checkpoint.sequence}: {problem}")
    return str(snapshot["invocation_id"])


def _include_thinking(task: Task) -> bool:
    """SPEC 4.5: thinking reaches A2A clients only when they ask (request or message metadata)."""
    if task.metadata.get("include_thinking") is True:
        return True
    last = next((m for m in reversed(task.history) if m.role == "user"), None)
    return last is not None and last.metadata.get("include_thinking") is True


def _check_history_length(history_length: int | None) -> None:
    if history_length is None:
        return
    is_int = isinstance(history_length, int) and not isinstance(history_length, bool)
    if not is_int or history_length < 0:
        raise InvalidParams(
            "historyLength must be a non-negative integer", data={"fields": ["historyLength"]}
        )


def _check_message(message: TaskMessage) -> None:
    if not message.parts:
        raise InvalidParams("message.parts must not be empty", data={"fields": ["message.parts"]})
    if message.context_id is not None and not 0 < len(message.context_id) <= MAX_CONTEXT_ID_LENGTH:
        raise InvalidParams(
            f"contextId must be 1 to {MAX_CONTEXT_ID_LENGTH} characters",
            data={"fields": ["message.contextId"]},
        )


def _trimmed(task: Task, history_length: int | None) -> Task:
    if history_length is None or len(task.history) <= history_length:
        return task
    return replace(task, history=task.history[len(task.history) - history_length :])


# --- Session waiters ----------------------------------------------------------------------------


class _SessionWaiters:
    """Futures of local runs waiting for a session, resolved when a local run releases it
    (on whichever loop the waiter lives)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[tuple[str, str], list[asyncio.Future[None]]] = {}

    def add(self, key: tuple[str, str]) -> asyncio.Future[None]:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiters.setdefault(key, []).append(waiter)
        return waiter

    def discard(self, key: tuple[str, str], waiter: asyncio.Future[None]) -> None:
        with self._lock:
            waiters = self._waiters.get(key)
            if waiters and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[key]

    def wake(self, key: tuple[str, str]) -> None:
        with self._lock:
            waiters = self._waiters.pop(key, [])
        for waiter in waiters:
            with suppress(RuntimeError):  # its loop is closed
                waiter.get_loop().call_soon_threadsafe(_resolve, waiter)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


_session_waiters = _SessionWaiters()


# --- Push notifications -------------------------------------------------------------------------


def _push_module() -> Any:
    """`apps.tasks.push` (its own developer's module), or None while it is not installed."""
    try:
        return importlib.import_module("apps.tasks.push")
    except ModuleNotFoundError as exc:
        if exc.name != "apps.tasks.push":
            raise
        logger.warning("push notifications skipped: apps.tasks.push is not installed")
        return None


async def _validate_push_url(url: str) -> None:
    if not url:
        raise InvalidParams("url is required", data={"fields": ["url"]})
    push = _push_module()
    if push is not None:
        await push.validate_push_url(url)


async def _notify_push(task: Task, configs: Sequence[PushConfig], *, app_id: str) -> None:
    """Hand the task to `push.notify`, which returns at once (delivery, SSRF checks and retries
    run in the background) and never raises for a delivery problem."""
    push = _push_module()
    if push is None:
        return
    try:
        await push.notify(task, configs, app_id=app_id)
    except Exception:
        logger.exception("task=%s app=%s push notification not started", task.id, app_id)
