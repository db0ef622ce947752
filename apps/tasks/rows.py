"""The sync half of `TaskService`: one function per ORM hop, on the connection's current schema.

Only `apps.tasks.service` calls these, each through one `in_schema(schema, ...)` hop, so the service
stays the one place that changes Task rows; this module only keeps the SQL apart from the async
orchestration. Every function speaks the domain types of `agents.tasks`, never rows.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from agents.tasks import (
    FINAL_STATES,
    INTERRUPTED_STATES,
    TERMINAL_STATES,
    InvalidParams,
    PushConfig,
    Task,
    TaskArtifact,
    TaskMessage,
    TaskNotFound,
    TaskPage,
    TaskStatus,
    UnsupportedOperation,
)
from apps.tasks.codec import (
    artifact_from_json,
    artifact_to_json,
    message_from_json,
    message_to_json,
)
from apps.tasks.mapping import RESPONSE_ARTIFACT
from apps.tasks.models import Checkpoint as CheckpointRow
from apps.tasks.models import PushNotificationConfig, TaskState
from apps.tasks.models import Task as TaskRow
from apps.tenancy.context import prepared_cursor


@dataclass(frozen=True)
class Admission:
    """`task` as admitted (state submitted: what a stream shows first) or claimed; None when the
    session was busy (`busy`) or, for a claim, when there is nothing to run now (the flags say
    why: spent, expired, not due yet; none of them: someone else has it or it is finished)."""

    task: Task | None
    context_id: str
    busy: bool = False
    # Queue claims (`claim_queued`) only:
    attempts: int = 0
    max_retries: int = 0
    exhausted: bool = False  # every attempt used: dead-letter it with `last_error`
    expired: bool = False  # its deadline passed: dead-letter it
    last_error: str = ""
    not_due_s: float = 0.0  # claimed too early (a retry's message ran ahead): wait this long
    checkpoint: StoredCheckpoint | None = None  # the last one, when this claim is a retry
    deadline_at: datetime | None = None
    latency_s: float | None = None  # queued (or due) -> claimed


@dataclass(frozen=True)
class StoredCheckpoint:
    sequence: int
    kind: str
    snapshot: Any


def task_from_row(
    row: TaskRow, *, history_length: int | None = None, include_artifacts: bool = True
) -> Task:
    history = row.history or []
    if history_length is not None:
        history = history[len(history) - history_length :] if history_length else []
    return Task(
        id=row.id,
        context_id=row.context_id,
        agent=row.agent,
        user_id=row.user_id,
        status=TaskStatus(
            state=row.state,  # type: ignore[arg-type]  # the column's choices are the Literal's
            timestamp=row.status_timestamp,
            message=message_from_json(row.status_message) if row.status_message else None,
        ),
        history=tuple(message_from_json(m) for m in history),
        artifacts=(
            tuple(artifact_from_json(a) for a in row.artifacts or []) if include_artifacts else ()
        ),
        metadata=row.metadata or {},
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _insert(row: TaskRow) -> None:
    """`row.save(force_insert=True)`, one INSERT of every column, without the ORM's per-save
    machinery (signals, the SQL compiler): on the path of every A2A message, it cost more CPU
    than the statement itself. Values are prepared by the fields, as `save` prepares them."""
    fields = TaskRow._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    values = [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
    placeholders = ", ".join(["%s"] * len(fields))
    with prepared_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(TaskRow._meta.db_table)} ({columns}) "
            f"VALUES ({placeholders})",
            values,
        )
    row._state.adding = False


def _submitted_view(row: TaskRow) -> Task:
    """The row as a client first sees it: submitted, even if the same hop already claimed it."""
    task = task_from_row(row)
    return replace(task, status=TaskStatus("submitted", row.created_at))


def access_task(task_id: str, user_id: str | None, *, for_update: bool = False) -> TaskRow:
    rows = TaskRow.objects.select_for_update() if for_update else TaskRow.objects.all()
    row = rows.filter(pk=task_id).first() if task_id else None
    if row is None or (user_id is not None and row.user_id != user_id):
        raise TaskNotFound(task_id)
    return row


def get_task(task_id: str, *, user_id: str | None, history_length: int | None) -> Task:
    return task_from_row(access_task(task_id, user_id), history_length=history_length)


def _lock_session(context_id: str) -> None:
    """Serialise session claims of one context until the transaction ends. Advisory locks are
    database-wide: the schema is part of the key."""
    key = f"tasks.session:{connection.schema_name}:{context_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def _session_busy(context_id: str, *, task_id: str, at: datetime) -> bool:
    return (
        TaskRow.objects.filter(
            context_id=context_id, state=TaskState.WORKING, lease_expires_at__gt=at
        )
        .exclude(pk=task_id)
        .exists()
    )


def _claim_fields(row: TaskRow, *, owner: str, lease_s: float, at: datetime) -> None:
    row.state = TaskState.WORKING
    row.status_timestamp = at
    row.lease_owner = owner
    row.lease_expires_at = at + timedelta(seconds=lease_s)
    row.claimed_at = at
    row.next_attempt_at = None
    row.attempts += 1


def admit_new(
    *,
    task_id: str,
    context_id: str,
    context_is_new: bool,
    agent: str,
    user_id: str,
    message: TaskMessage,
    metadata: dict[str, Any],
    push: PushConfig | None,
    owner: str,
    lease_s: float,
    claim: bool,
    max_retries: int = 3,
    deadline_at: datetime | None = None,
    queued: bool = False,
) -> Admission:
    """Create the task. With `claim` it must also take its session (busy: nothing is stored);
    without, it is stored submitted for `execute` (`queued`: a worker's). A context nobody named
    before cannot be busy: one INSERT, no lock, no transaction."""
    at = timezone.now()
    stored = replace(message, task_id=task_id, context_id=context_id)
    row = TaskRow(
        id=task_id,
        context_id=context_id,
        agent=agent,
        user_id=user_id,
        state=TaskState.SUBMITTED,
        status_timestamp=at,
        history=[message_to_json(stored)],
        artifacts=[],
        metadata=metadata,
        created_at=at,
        updated_at=at,
        max_retries=max_retries,
        deadline_at=deadline_at,
        queued_at=at if queued else None,
    )
    check_session = claim and not context_is_new
    with transaction.atomic() if check_session or push is not None else nullcontext():
        if check_session:
            _lock_session(context_id)
            if _session_busy(context_id, task_id=task_id, at=at):
                return Admission(None, context_id=context_id, busy=True)
        if claim:
            _claim_fields(row, owner=owner, lease_s=lease_s, at=at)
        _insert(row)
        if push is not None:
            _store_push_config(row.id, push)
    return Admission(_submitted_view(row), context_id=context_id)


def admit_continuation(
    *,
    task_id: str,
    agent: str,
    user_id: str,
    message: TaskMessage,
    metadata: dict[str, Any],
    push: PushConfig | None,
    owner: str,
    lease_s: float,
    claim: bool,
    queued: bool = False,
) -> Admission:
    """Give an interrupted task (input-required, auth-required) its next user message; `claim`
    and `queued` as for `admit_new` (busy: nothing changes). The new turn starts its attempts
    afresh."""
    at = timezone.now()
    with transaction.atomic():
        row = access_task(task_id, user_id, for_update=True)
        if row.state in TERMINAL_STATES:
            raise UnsupportedOperation(
                f"Task is {row.state}: it cannot take more messages; start a new task "
                "(with the same contextId to continue the conversation)",
                data={"reason": "task_terminal", "taskId": task_id, "state": row.state},
            )
        if row.state not in INTERRUPTED_STATES:
            raise UnsupportedOperation(
                f"Task is {row.state}: it takes a message only when it asks for input",
                data={"reason": "task_not_interrupted", "taskId": task_id, "state": row.state},
            )
        if message.context_id is not None and message.context_id != row.context_id:
            raise InvalidParams(
                "contextId does not match the task's context",
                data={"fields": ["message.contextId"]},
            )
        if row.agent != agent:
            raise UnsupportedOperation(
                f"Task belongs to agent {row.agent!r}",
                data={"reason": "agent_mismatch", "taskId": task_id},
            )
        if claim:
            _lock_session(row.context_id)
            if _session_busy(row.context_id, task_id=task_id, at=at):
                return Admission(None, context_id=row.context_id, busy=True)
        stored = replace(message, task_id=row.id, context_id=row.context_id)
        row.history = [*(row.history or []), message_to_json(stored)]
        row.metadata = {**(row.metadata or {}), **metadata}
        row.state = TaskState.SUBMITTED
        row.status_message = None
        row.status_timestamp = at
        row.updated_at = at
        row.attempts = 0
        row.last_error = ""
        row.queued_at = at if queued else None
        if claim:
            _claim_fields(row, owner=owner, lease_s=lease_s, at=at)
        row.save()
        if push is not None:
            _store_push_config(row.id, push)
    task = replace(task_from_row(row), status=TaskStatus("submitted", at))
    return Admission(task, context_id=row.context_id)


def _is_pending(row: TaskRow) -> bool:
    """Waiting for a run: stored for the queue, or released for a retry (or by recovery)."""
    return (
        row.state in (TaskState.SUBMITTED, TaskState.WORKING)
        and not row.lease_owner
        and row.dead_lettered_at is None
    )


def claim_queued(task_id: str, *, owner: str, lease_s: float) -> Admission:
    """Claim a pending task for a run (`execute`, a worker). `task` None: nothing to run now
    (someone holds the row, it is finished, its session is busy, it is not due yet, or it is
    spent: see the flags). The row lock is `SKIP LOCKED`: two workers with one id never wait on
    each other; the one that does not get the lock simply lets go."""
    at = timezone.now()
    with transaction.atomic():
        row = TaskRow.objects.select_for_update(skip_locked=True).filter(pk=task_id).first()
        if row is None:
            if not TaskRow.objects.filter(pk=task_id).exists():
                raise TaskNotFound(task_id)
            return Admission(None, context_id="")
        if not _is_pending(row):
            return Admission(None, context_id=row.context_id)
        if row.next_attempt_at is not None and row.next_attempt_at > at:
            wait = (row.next_attempt_at - at).total_seconds()
            return Admission(None, context_id=row.context_id, not_due_s=wait)
        if row.deadline_at is not None and row.deadline_at <= at:
            return Admission(None, context_id=row.context_id, expired=True)
        if row.attempts > row.max_retries:
            return Admission(
                None, context_id=row.context_id, exhausted=True, last_error=row.last_error
            )
        _lock_session(row.context_id)
        if _session_busy(row.context_id, task_id=task_id, at=at):
            return Admission(None, context_id=row.context_id, busy=True)
        waiting_since = row.next_attempt_at or row.queued_at
        _claim_fields(row, owner=owner, lease_s=lease_s, at=at)
        row.updated_at = at
        row.save()
        checkpoint = _last_checkpoint(row.id) if row.attempts > 1 else None
    return Admission(
        task_from_row(row),
        context_id=row.context_id,
        attempts=row.attempts,
        max_retries=row.max_retries,
        checkpoint=checkpoint,
        deadline_at=row.deadline_at,
        latency_s=(at - waiting_since).total_seconds() if waiting_since else None,
    )


_PROBE_SQL = """
UPDATE {table} SET
    state = 'completed', attempts = attempts + 1, claimed_at = %(now)s, updated_at = %(now)s,
    status_timestamp = %(now)s, next_attempt_at = NULL, lease_owner = '', lease_expires_at = NULL
WHERE id = (
    SELECT id FROM {table}
    WHERE id = %(id)s AND state IN ('submitted', 'working') AND lease_owner = ''
      AND dead_lettered_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)
    FOR UPDATE SKIP LOCKED
)
RETURNING agent, COALESCE(queued_at, created_at)
"""


def complete_probe(task_id: str) -> tuple[str, datetime] | None:
    """A probe's claim and finish in one statement (it has no run, so no lease to hold):
    (agent, waiting since) when this call took it, None when it was not pending."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_PROBE_SQL.format(table=TaskRow._meta.db_table), {"id": task_id, "now": now})
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def renew_lease(task_id: str, *, owner: str, lease_s: float) -> bool:
    """False when the lease is no longer ours (recovery gave the task to another run)."""
    renewed = TaskRow.objects.filter(pk=task_id, lease_owner=owner, state=TaskState.WORKING).update(
        lease_expires_at=timezone.now() + timedelta(seconds=lease_s)
    )
    return renewed == 1


def record_retry(task_id: str, *, owner: str, error: str, delay_s: float, release: bool) -> bool:
    """A failed attempt that will be retried in `delay_s`. `release`: the run lets the task go
    (a worker republishes it); otherwise it keeps the lease and retries in place (a blocking
    caller is waiting). False when the lease was no longer ours."""
    at = timezone.now()
    fields: dict[str, Any] = {
        "last_error": error,
        "next_attempt_at": at + timedelta(seconds=delay_s),
        "updated_at": at,
    }
    if release:
        fields.update(lease_owner="", lease_expires_at=None, queued_at=at)
    updated = TaskRow.objects.filter(pk=task_id, lease_owner=owner, state=TaskState.WORKING).update(
        **fields
    )
    return updated == 1


def retry_in_place(task_id: str, *, owner: str, lease_s: float) -> Admission:
    """The next attempt of a run that kept its lease while it waited (see `record_retry`)."""
    at = timezone.now()
    with transaction.atomic():
        row = (
            TaskRow.objects.select_for_update()
            .filter(pk=task_id, lease_owner=owner, state=TaskState.WORKING)
            .first()
        )
        if row is None:
            return Admission(None, context_id="")
        if row.deadline_at is not None and row.deadline_at <= at:
            return Admission(None, context_id=row.context_id, expired=True)
        _claim_fields(row, owner=owner, lease_s=lease_s, at=at)
        row.updated_at = at
        row.save()
        checkpoint = _last_checkpoint(row.id)
    return Admission(
        task_from_row(row),
        context_id=row.context_id,
        attempts=row.attempts,
        max_retries=row.max_retries,
        checkpoint=checkpoint,
        deadline_at=row.deadline_at,
    )


# --- Checkpoints ---------------------------------------------------------------------------------

_CHECKPOINT_SQL = """
INSERT INTO {table} (task_id, sequence, kind, snapshot, created_at)
SELECT %(task_id)s::text, COALESCE(MAX(sequence), 0) + 1, %(kind)s, %(snapshot)s::jsonb, %(at)s
  FROM {table} WHERE task_id = %(task_id)s::text
"""


def save_checkpoint(task_id: str, *, kind: str, snapshot: dict[str, Any]) -> None:
    """Append the task's next checkpoint: one statement (only its run writes them)."""
    sql = _CHECKPOINT_SQL.format(table=CheckpointRow._meta.db_table)
    params = {
        "task_id": task_id,
        "kind": kind,
        "snapshot": json.dumps(snapshot, default=str),
        "at": timezone.now(),
    }
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)


def _last_checkpoint(task_id: str) -> StoredCheckpoint | None:
    row = CheckpointRow.objects.filter(task_id=task_id).order_by("-sequence").first()
    if row is None:
        return None
    return StoredCheckpoint(row.sequence, row.kind, row.snapshot)


_FINISH_SQL = """
UPDATE {table} SET
    state = %(state)s,
    status_message = %(status_message)s::jsonb,
    status_timestamp = %(at)s,
    updated_at = %(at)s,
    history = history || %(history)s::jsonb,
    artifacts = CASE WHEN %(artifact)s::jsonb IS NULL THEN artifacts ELSE
        COALESCE((SELECT jsonb_agg(a.value ORDER BY a.ordinality)
                    FROM jsonb_array_elements(artifacts) WITH ORDINALITY AS a
                   WHERE a.value->>'artifact_id' IS DISTINCT FROM %(artifact_id)s), '[]'::jsonb)
        || jsonb_build_array(%(artifact)s::jsonb) END,
    last_error = CASE WHEN %(last_error)s::text = '' THEN last_error ELSE %(last_error)s::text END,
    dead_lettered_at = CASE WHEN %(dead_letter)s::text = '' THEN dead_lettered_at ELSE %(at)s END,
    dead_letter_reason = CASE WHEN %(dead_letter)s::text = '' THEN dead_letter_reason
                              ELSE %(dead_letter)s::text END,
    next_attempt_at = NULL,
    lease_owner = '',
    lease_expires_at = NULL
WHERE id = %(id)s::text AND NOT (state = ANY(%(terminal)s))
RETURNING *, EXISTS (SELECT 1 FROM {push_configs} p WHERE p.task_id = {table}.id) AS has_push,
          set_config('synchronous_commit', 'on', true) AS commit_mode{notify}
"""

# The run's last checkpoint rides along with the final UPDATE: no round trip of its own.
_FINAL_CHECKPOINT_SQL = """
WITH checkpoint AS (
    INSERT INTO {checkpoints} (task_id, sequence, kind, snapshot, created_at)
    SELECT %(id)s::text, COALESCE(MAX(sequence), 0) + 1, 'final', %(checkpoint)s::jsonb, %(at)s
      FROM {checkpoints} WHERE task_id = %(id)s::text
)
"""


def finish_row(
    task_id: str,
    *,
    state: str,
    status_message: TaskMessage | None,
    history: tuple[TaskMessage, ...],
    artifact: TaskArtifact | None,
    last_error: str,
    at: datetime,
    dead_letter: str = "",
    checkpoint: dict[str, Any] | None = None,
    notify: tuple[str, str] | None = None,
) -> tuple[Task | None, tuple[PushConfig, ...]]:
    """One conditional UPDATE; None when the task was already terminal (someone else finished
    it). The push configs come along when there are any (the state is terminal or
    interrupted). `dead_letter` (a reason) also moves it to the dead-letter queue; `checkpoint`
    is stored as the run's final one in the same statement; `notify` (channel, payload) is sent
    by it too, delivered when the state commits (`bus.row_frame`), and only if it moved.

    It commits synchronously whatever the connection's mode (`deferred_commits`): its RETURNING
    turns `synchronous_commit` on for its own transaction, so the hop needs no switch of its
    connection, and the flush makes the run's deferred writes durable before anyone hears of
    the final state. (No row returned: nothing is announced, nothing needs the flush.)"""
    params = {
        "state": state,
        "status_message": json.dumps(message_to_json(status_message)) if status_message else None,
        "at": at,
        "history": json.dumps([message_to_json(m) for m in history]),
        "artifact": json.dumps(artifact_to_json(artifact)) if artifact else None,
        "artifact_id": artifact.artifact_id if artifact else RESPONSE_ARTIFACT,
        "last_error": last_error,
        "dead_letter": dead_letter,
        "id": task_id,
        "terminal": sorted(TERMINAL_STATES),
    }
    sql = _FINISH_SQL.format(
        table=TaskRow._meta.db_table,
        push_configs=PushNotificationConfig._meta.db_table,
        notify=",\n          pg_notify(%(channel)s, %(payload)s) AS notified" if notify else "",
    )
    if notify is not None:
        params["channel"], params["payload"] = notify
    if checkpoint is not None:
        params["checkpoint"] = json.dumps(checkpoint, default=str)
        prefix = _FINAL_CHECKPOINT_SQL.format(checkpoints=CheckpointRow._meta.db_table)
        sql = prefix + sql
    with prepared_cursor() as cursor:  # a plain cursor: no model instance per returned row
        cursor.execute(sql, params)
        record = cursor.fetchone()
        names = [column.name for column in cursor.description or ()]
    if record is None:
        return None, ()
    row = _RowView(dict(zip(names, record, strict=True)))
    configs: tuple[PushConfig, ...] = ()
    if state in FINAL_STATES and row.has_push:  # most tasks have none: no query
        configs = tuple(
            _push_from_row(c) for c in PushNotificationConfig.objects.filter(task_id=task_id)
        )
    return task_from_row(row), configs  # type: ignore[arg-type]  # the columns task_from_row reads


class _RowView:
    """A task row fetched by a plain cursor, read like a model instance: JSON columns arrive as
    text (Django's connection loads jsonb that way) and are decoded on first use."""

    _JSON = frozenset({"status_message", "history", "artifacts", "metadata"})

    def __init__(self, columns: dict[str, Any]) -> None:
        self._columns = columns

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._columns[name]
        except KeyError:
            raise AttributeError(name) from None
        if name in self._JSON and isinstance(value, str):
            value = json.loads(value)
            self._columns[name] = value
        return value


# Page tokens: "<updated_at ISO>|<id>" of the previous page's last task, base64url.


def _encode_page_token(row: TaskRow) -> str:
    raw = f"{row.updated_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        stamp, _, task_id = raw.partition("|")
        updated_at = datetime.fromisoformat(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidParams("Invalid pageToken", data={"fields": ["pageToken"]}) from None
    if not task_id or updated_at.tzinfo is None:
        raise InvalidParams("Invalid pageToken", data={"fields": ["pageToken"]})
    return updated_at, task_id


def list_tasks(
    *,
    user_id: str | None,
    context_id: str | None,
    state: str | None,
    page_size: int,
    after: tuple[datetime, str] | None,
    history_length: int | None,
    include_artifacts: bool,
    last_updated_after: datetime | None,
) -> TaskPage:
    rows = TaskRow.objects.all()
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    if context_id is not None:
        rows = rows.filter(context_id=context_id)
    if state is not None:
        rows = rows.filter(state=state)
    if last_updated_after is not None:
        rows = rows.filter(updated_at__gt=last_updated_after)
    total = rows.count()
    if after is not None:
        updated_at, task_id = after
        rows = rows.filter(Q(updated_at__lt=updated_at) | Q(updated_at=updated_at, id__lt=task_id))
    if not include_artifacts:
        rows = rows.defer("artifacts")
    if history_length == 0:
        rows = rows.defer("history")
    page = list(rows.order_by("-updated_at", "-id")[: page_size + 1])
    more = len(page) > page_size
    page = page[:page_size]
    return TaskPage(
        tasks=tuple(
            task_from_row(r, history_length=history_length, include_artifacts=include_artifacts)
            for r in page
        ),
        next_page_token=_encode_page_token(page[-1]) if more else "",
        total_size=total,
    )


def _push_from_row(row: PushNotificationConfig) -> PushConfig:
    return PushConfig(
        id=row.config_id,
        task_id=row.task_id,
        url=row.url,
        token=row.token,
        authentication=row.authentication,
        wire_version=row.wire_version,  # type: ignore[arg-type]  # choices are the Literal's
    )


def _store_push_config(task_id: str, config: PushConfig) -> PushConfig:
    config_id = config.id or uuid.uuid4().hex
    PushNotificationConfig.objects.update_or_create(
        task_id=task_id,
        config_id=config_id,
        defaults={
            "url": config.url,
            "token": config.token,
            "authentication": dict(config.authentication) if config.authentication else None,
            "wire_version": config.wire_version,
        },
    )
    return replace(config, id=config_id, task_id=task_id)


def set_push_config(task_id: str, config: PushConfig, *, user_id: str | None) -> PushConfig:
    with transaction.atomic():
        access_task(task_id, user_id)
        return _store_push_config(task_id, config)


def get_push_config(task_id: str, config_id: str | None, *, user_id: str | None) -> PushConfig:
    access_task(task_id, user_id)
    rows = PushNotificationConfig.objects.filter(task_id=task_id)
    if config_id is not None:
        rows = rows.filter(config_id=config_id)
    row = rows.order_by("created_at", "id").first()
    if row is None:
        raise InvalidParams(
            "Push notification config not found",
            data={"fields": ["pushNotificationConfigId"], "taskId": task_id},
        )
    return _push_from_row(row)


def list_push_configs(task_id: str, *, user_id: str | None) -> tuple[PushConfig, ...]:
    access_task(task_id, user_id)
    rows = PushNotificationConfig.objects.filter(task_id=task_id).order_by("created_at", "id")
    return tuple(_push_from_row(row) for row in rows)


def delete_push_config(task_id: str, config_id: str, *, user_id: str | None) -> None:
    access_task(task_id, user_id)
    PushNotificationConfig.objects.filter(task_id=task_id, config_id=config_id).delete()
