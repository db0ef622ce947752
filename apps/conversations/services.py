"""The only code that changes conversation rows; sync, on the connection's current schema.

`PostgresSessionService` (stores.py) reaches these functions through one `in_schema` hop per call;
the Admin API views call them directly in the schema the tenant middleware set. Semantics follow
`agents.sessions.InMemorySessionService` exactly (the contract suite checks both), and every
function speaks the domain dataclasses of `agents.sessions`, never rows.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Q

from agents.content import part_from_json, part_to_json
from agents.sessions import (
    APP_PREFIX,
    USER_PREFIX,
    Artifact,
    Event,
    EventActions,
    Session,
    SessionNotFound,
    artifact_bytes,
    merged_state,
    now,
    split_state_delta,
    stored_event,
)
from apps.conversations.models import MAX_SESSION_ID_LENGTH, AppState, UserState
from apps.conversations.models import Artifact as ArtifactRow
from apps.conversations.models import Event as EventRow
from apps.conversations.models import Session as SessionRow
from apps.tenancy.context import prepared_cursor
from hector_site.errors import BadRequest, NotFound

# --- Sessions -----------------------------------------------------------------------------------


def create_session(
    *,
    user_id: str,
    agent: str,
    session_id: str | None = None,
    state: Mapping[str, Any] | None = None,
) -> Session:
    """A new session; `app:`/`user:` keys of the initial state go to their shared scopes.

    One `INSERT ... ON CONFLICT DO NOTHING` tells "created" from "exists" without a transaction
    of its own: a new session is on the path of every first A2A message. With no shared keys to
    write, the same statement reads the shared state the new session starts with.
    """
    session_id = session_id or uuid.uuid4().hex
    if len(session_id) > MAX_SESSION_ID_LENGTH:
        raise ValueError(f"session id longer than {MAX_SESSION_ID_LENGTH} characters")
    session_part, app_part, user_part = split_state_delta(state or {})
    created = now()
    row = SessionRow(
        id=session_id,
        user_id=user_id,
        agent=agent,
        state=session_part,
        created_at=created,
        updated_at=created,
    )
    insert = (
        f"INSERT INTO {SessionRow._meta.db_table} "
        "(id, user_id, agent, state, created_at, updated_at, last_sequence) "
        "VALUES (%s, %s, %s, %s::jsonb, %s, %s, 0) ON CONFLICT (id) DO NOTHING RETURNING id"
    )
    values = [session_id, user_id, agent, json.dumps(session_part), created, created]
    if not (app_part or user_part):
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH created AS ({insert}) SELECT true, NULL, NULL, NULL FROM created "
                f"UNION ALL {_SHARED_STATE_SQL}",
                [*values, [user_id]],
            )
            found = cursor.fetchall()
        if not any(tag is True for tag, *_ in found):
            raise ValueError(f'session "{session_id}" already exists')
        return _sessions([row], {}, _shared_state([r for r in found if r[0] is not True]))[0]
    with _atomic_if(True), connection.cursor() as cursor:
        cursor.execute(insert, values)
        if cursor.fetchone() is None:
            raise ValueError(f'session "{session_id}" already exists')
        _write_shared_state(user_id=user_id, app_part=app_part, user_part=user_part)
    return _views([row], new=True)[0]


def _atomic_if(needed: bool) -> Any:
    """A transaction only when several statements must commit together.

    Inside a caller's atomic block a savepoint is still taken, so a failed statement cannot poison
    the caller's transaction; in autocommit a single statement is atomic by itself.
    """
    if needed or connection.in_atomic_block:
        return transaction.atomic()
    return contextlib.nullcontext()


def open_session(session_id: str, *, user_id: str, agent: str) -> Session:
    """The session, created when absent: one hop for the runner, whichever it turns out to be
    (a first A2A message names a new context, a follow-up an existing one)."""
    if len(session_id) > MAX_SESSION_ID_LENGTH:
        raise ValueError(f"session id longer than {MAX_SESSION_ID_LENGTH} characters")
    try:
        return create_session(user_id=user_id, agent=agent, session_id=session_id)
    except ValueError:  # it exists
        pass
    return _existing(session_id)


def open_or_start(
    session_id: str, *, user_id: str, agent: str, first: Event
) -> tuple[Session, Event | None]:
    """`open_session`, and when it creates the session, `first` stored as its event 1.

    A new conversation's first message is one statement: the session INSERT, the event INSERT
    under it and the read of the shared state it starts with. When the event writes shared
    (`app:`/`user:`) keys, or is partial, the session is opened first and the event appended
    as usual, in the same hop.
    """
    if len(session_id) > MAX_SESSION_ID_LENGTH:
        raise ValueError(f"session id longer than {MAX_SESSION_ID_LENGTH} characters")
    stored = stored_event(first, 1)
    session_part, app_part, user_part = split_state_delta(stored.actions.state_delta)
    if first.partial or app_part or user_part:
        try:
            session = create_session(user_id=user_id, agent=agent, session_id=session_id)
        except ValueError:  # it exists
            return _existing(session_id), None
        if first.partial:
            return session, None
        return session, append_event(session_id=session_id, event=first)
    created = now()
    try:
        with prepared_cursor() as cursor:
            cursor.execute(
                _START_SQL,
                [
                    session_id,
                    user_id,
                    agent,
                    json.dumps(session_part),
                    created,
                    created,
                    *_event_values(stored),
                    [user_id],
                ],
            )
            found = cursor.fetchall()
    except IntegrityError as exc:  # the session id is taken care of: the event id clashed
        raise ValueError(f'event "{first.id}" already exists') from exc
    if not any(tag is True for tag, *_ in found):
        return _existing(session_id), None
    row = SessionRow(
        id=session_id,
        user_id=user_id,
        agent=agent,
        state={},
        created_at=created,
        updated_at=created,
    )
    shared = _shared_state([r for r in found if r[0] is not True])
    return _sessions([row], {}, shared)[0], stored


def _existing(session_id: str) -> Session:
    session = get_session(session_id)
    if session is None:  # deleted between the two statements
        raise SessionNotFound(session_id)
    return session


def get_session(session_id: str, *, user_id: str | None = None) -> Session | None:
    """The session with its merged state; None when absent or owned by another user."""
    rows = SessionRow.objects.filter(pk=session_id)
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    row = rows.first()
    return _views([row])[0] if row is not None else None


def list_sessions(
    *,
    user_id: str | None = None,
    agent: str | None = None,
    limit: int = 50,
    after: str | None = None,
) -> list[Session]:
    """Most recently updated first (ties: larger id first); `after` is the id of the previous
    page's last session. An `after` that is not among the filtered sessions gives an empty page,
    as in the in-memory store."""
    rows = SessionRow.objects.all()
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    if agent is not None:
        rows = rows.filter(agent=agent)
    if after is not None:
        anchor = rows.filter(pk=after).values_list("updated_at", flat=True).first()
        if anchor is None:
            return []
        rows = rows.filter(Q(updated_at__lt=anchor) | Q(updated_at=anchor, id__lt=after))
    return _views(list(rows.order_by("-updated_at", "-id")[:limit]))


def delete_session(session_id: str) -> bool:
    """Remove the session, its events and its own artifacts; `user:` artifacts stay with the
    user."""
    with transaction.atomic():
        ArtifactRow.objects.filter(owner=session_id).delete()
        _, deleted = SessionRow.objects.filter(pk=session_id).delete()
    return deleted.get(SessionRow._meta.label, 0) > 0


def _session_exists(session_id: str) -> bool:
    return SessionRow.objects.filter(pk=session_id).exists()


def _views(rows: Sequence[SessionRow], *, new: bool = False) -> list[Session]:
    """Domain sessions for rows, in three queries however many rows (no N+1); two for `new` ones,
    which have no events to count."""
    if not rows:
        return []
    counts: dict[str, int] = (
        {}
        if new
        else dict(
            EventRow.objects.filter(session_id__in=[row.id for row in rows])
            .order_by()
            .values_list("session_id")
            .annotate(count=Count("pk"))
        )
    )
    with connection.cursor() as cursor:  # both shared scopes in one round trip
        cursor.execute(_SHARED_STATE_SQL, [sorted({row.user_id for row in rows})])
        shared = _shared_state(cursor.fetchall())
    return _sessions(rows, counts, shared)


#: (NULL, NULL, key, value) of the app-wide state and (NULL, user, key, value) of the users'.
_SHARED_STATE_SQL = (
    f"SELECT NULL, NULL, key, value::text FROM {AppState._meta.db_table} UNION ALL "
    f"SELECT NULL, user_id, key, value::text FROM {UserState._meta.db_table} "
    "WHERE user_id = ANY(%s)"
)


@dataclass(frozen=True)
class _SharedState:
    app: dict[str, Any]
    users: dict[str, dict[str, Any]]


def _shared_state(rows: Sequence[tuple[Any, ...]]) -> _SharedState:
    shared = _SharedState({}, defaultdict(dict))
    for _, user_id, key, value in rows:
        target = shared.app if user_id is None else shared.users[user_id]
        target[key] = None if value is None else json.loads(value)
    return shared


def _sessions(
    rows: Sequence[SessionRow], counts: Mapping[str, int], shared: _SharedState
) -> list[Session]:
    return [
        Session(
            id=row.id,
            user_id=row.user_id,
            agent=row.agent,
            state=merged_state(row.state, shared.app, shared.users.get(row.user_id, {})),
            created_at=row.created_at,
            updated_at=row.updated_at,
            event_count=counts.get(row.id, 0),
        )
        for row in rows
    ]


def _write_shared_state(
    *, user_id: str, app_part: Mapping[str, Any], user_part: Mapping[str, Any]
) -> None:
    """Upsert app-wide and per-user keys, one statement per scope.

    Keys go in sorted order so two transactions writing overlapping keys lock the rows in the same
    order and cannot deadlock (the session row lock does not cover the shared scopes).
    """
    if app_part:
        AppState.objects.bulk_create(
            [AppState(key=key, value=app_part[key]) for key in sorted(app_part)],
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=["value"],
        )
    if user_part:
        UserState.objects.bulk_create(
            [
                UserState(user_id=user_id, key=key, value=user_part[key])
                for key in sorted(user_part)
            ],
            update_conflicts=True,
            unique_fields=["user_id", "key"],
            update_fields=["value"],
        )


# --- Events -------------------------------------------------------------------------------------


_APPEND_SQL = f"""
WITH locked AS (
    UPDATE {SessionRow._meta.db_table}
       SET last_sequence = last_sequence + 1,
           state = state || %s::jsonb,
           updated_at = GREATEST(%s, updated_at)
     WHERE id = %s
 RETURNING id, last_sequence, user_id
)
INSERT INTO {EventRow._meta.db_table}
       (session_id, sequence, event_id, invocation_id, author, role, parts, actions, partial,
        usage, timestamp, branch)
SELECT locked.id, locked.last_sequence, %s, %s, %s, %s, %s::jsonb, %s::jsonb, false, %s::jsonb, %s,
       %s
  FROM locked
RETURNING sequence, (SELECT user_id FROM locked)
"""


#: A new session (its state: the first event's delta; its sequence: 1) and its first event, then
#: the shared state it starts with (the session as opened has not seen the event yet).
_START_SQL = f"""
WITH created AS (
    INSERT INTO {SessionRow._meta.db_table}
           (id, user_id, agent, state, created_at, updated_at, last_sequence)
    VALUES (%s, %s, %s, %s::jsonb, %s, %s, 1)
    ON CONFLICT (id) DO NOTHING
 RETURNING id
), first AS (
    INSERT INTO {EventRow._meta.db_table}
           (session_id, sequence, event_id, invocation_id, author, role, parts, actions, partial,
            usage, timestamp, branch)
    SELECT created.id, 1, %s, %s, %s, %s, %s::jsonb, %s::jsonb, false, %s::jsonb, %s, %s
      FROM created
 RETURNING sequence
)
SELECT true, NULL, NULL, NULL FROM first
 UNION ALL {_SHARED_STATE_SQL}
"""


def append_event(*, session_id: str, event: Event) -> Event:
    """Store the event with the next sequence and apply its state delta, atomically.

    One statement does it: the UPDATE of the session row takes its lock (so concurrent appends
    are serialised and sequences stay gapless), bumps `last_sequence` and merges the session-scope
    delta, and the INSERT stores the event under that sequence. Shared-scope (`app:`/`user:`)
    keys, when present, join it in one transaction. A partial (streaming) event is returned as
    given, never stored.
    """
    if event.partial:
        if not _session_exists(session_id):
            raise SessionNotFound(session_id)
        return event
    stored = stored_event(event, 0)
    session_part, app_part, user_part = split_state_delta(stored.actions.state_delta)
    try:
        with _atomic_if(bool(app_part or user_part)), prepared_cursor() as cursor:
            cursor.execute(
                _APPEND_SQL,
                [
                    json.dumps(session_part),
                    now(),
                    session_id,
                    *_event_values(stored),
                ],
            )
            row = cursor.fetchone()
            if row is None:
                raise SessionNotFound(session_id)
            sequence, user_id = row
            _write_shared_state(user_id=user_id, app_part=app_part, user_part=user_part)
    except IntegrityError as exc:
        # The sequence is ours under the row lock, so the clash can only be the event id.
        raise ValueError(f'event "{event.id}" already exists') from exc
    return replace(stored, sequence=sequence)


def list_events(session_id: str, *, after: int = 0, limit: int | None = None) -> list[Event]:
    """Events with a sequence above `after`, oldest first; `limit` None or 0 means all."""
    rows = EventRow.objects.filter(session_id=session_id, sequence__gt=after).order_by("sequence")
    events = [_event_from_row(row) for row in (rows[:limit] if limit else rows)]
    # One query in the common case: only an empty answer needs to tell "none" from "no session".
    if not events and not _session_exists(session_id):
        raise SessionNotFound(session_id)
    return events


def _event_values(event: Event) -> list[Any]:
    """The event's values in the column order of `_START_SQL` and `_APPEND_SQL`: event_id,
    invocation_id, author, role, parts, actions, usage, timestamp, branch."""
    fields = _event_fields(event)
    return [
        fields["event_id"],
        fields["invocation_id"],
        fields["author"],
        fields["role"],
        json.dumps(fields["parts"]),
        json.dumps(fields["actions"]),
        json.dumps(fields["usage"]),
        fields["timestamp"],
        fields["branch"],
    ]


def _event_fields(event: Event) -> dict[str, Any]:
    actions = event.actions
    return {
        "sequence": event.sequence,
        "event_id": event.id,
        "invocation_id": event.invocation_id,
        "author": event.author,
        "role": event.role,
        "parts": [part_to_json(part) for part in event.parts],
        "actions": {
            "state_delta": dict(actions.state_delta),
            "artifact_delta": dict(actions.artifact_delta),
            "transfer_to_agent": actions.transfer_to_agent,
            "escalate": actions.escalate,
        },
        "usage": dict(event.usage),
        "timestamp": event.timestamp,
        "branch": event.branch,
    }


def _event_from_row(row: EventRow) -> Event:
    actions = row.actions or {}
    return Event(
        author=row.author,
        role=row.role,  # type: ignore[arg-type]  # the column's choices are the Literal's values
        parts=tuple(part_from_json(part) for part in row.parts),
        invocation_id=row.invocation_id,
        actions=EventActions(
            state_delta=actions.get("state_delta") or {},
            artifact_delta=actions.get("artifact_delta") or {},
            transfer_to_agent=actions.get("transfer_to_agent"),
            escalate=bool(actions.get("escalate")),
        ),
        usage=row.usage or {},
        id=row.event_id,
        timestamp=row.timestamp,
        sequence=row.sequence,
        branch=row.branch,
    )


# --- Artifacts ----------------------------------------------------------------------------------


def artifact_owner(*, session_id: str, user_id: str, name: str) -> str:
    return f"{USER_PREFIX}{user_id}" if name.startswith(USER_PREFIX) else session_id


def save_artifact(
    *, session_id: str, user_id: str, name: str, data: bytes | str, mime_type: str
) -> int:
    """Store the next version (1, 2, ...) of `name` for its owner; return that version."""
    owner = artifact_owner(session_id=session_id, user_id=user_id, name=name)
    payload = artifact_bytes(data)
    with transaction.atomic():
        if not _session_exists(session_id):
            raise SessionNotFound(session_id)
        _lock_artifact_name(owner, name)
        last = ArtifactRow.objects.filter(owner=owner, name=name).aggregate(v=Max("version"))["v"]
        version = (last or 0) + 1
        ArtifactRow.objects.create(
            owner=owner,
            name=name,
            version=version,
            mime_type=mime_type,
            size=len(payload),
            data=payload,
            created_at=now(),
        )
    return version


def _lock_artifact_name(owner: str, name: str) -> None:
    """Serialise version numbering of one (owner, name) until the transaction ends.

    No row exists to lock before the first version, and `user:` artifacts are written from several
    sessions, so a transaction-scoped advisory lock stands in. Advisory locks are database-wide:
    the schema is part of the key.
    """
    key = f"conversations.artifact:{connection.schema_name}:{owner}:{name}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def load_artifact(
    *, session_id: str, user_id: str, name: str, version: int | None = None
) -> Artifact | None:
    """The given version, or the latest when `version` is None; None when there is no such one."""
    owner = artifact_owner(session_id=session_id, user_id=user_id, name=name)
    rows = ArtifactRow.objects.filter(owner=owner, name=name)
    if version is not None:
        rows = rows.filter(version=version)
    row = rows.order_by("-version").first()
    if row is None:
        return None
    return Artifact(
        name=row.name,
        version=row.version,
        mime_type=row.mime_type,
        data=bytes(row.data),
        created_at=row.created_at,
    )


def list_artifacts(*, session_id: str, user_id: str) -> list[str]:
    """Names of the session's artifacts and of its user's `user:` artifacts, sorted."""
    owners = [session_id, f"{USER_PREFIX}{user_id}"]
    names = ArtifactRow.objects.filter(owner__in=owners).order_by().values_list("name", flat=True)
    # Sorted here, not by the database: Python's code-point order is the contract, not a collation.
    return sorted(set(names.distinct()))


# --- Admin API ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionDetail:
    """A session as the Admin API shows it: `state` is the session scope only, which is what the
    fold of its events' state deltas (`agents.sessions.events_state`) must equal."""

    session: Session
    state: dict[str, Any]
    events: list[Event]


def access_session(session_id: str, *, user_id: str | None = None) -> Session:
    """The session the caller named, or NotFound (also when `user_id` does not own it)."""
    if not session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
        raise BadRequest("Invalid session ID")
    session = get_session(session_id, user_id=user_id)
    if session is None:
        raise NotFound(str(SessionNotFound(session_id)))
    return session


def session_page(
    *, user_id: str | None, agent: str | None, page_size: int, page_token: str | None
) -> tuple[list[Session], str]:
    """One page of sessions and the token of the next one ("" on the last page)."""
    sessions = list_sessions(user_id=user_id, agent=agent, limit=page_size + 1, after=page_token)
    # An empty page is either the end (the anchor exists) or a token that never was one.
    if page_token is not None and not sessions and not _session_exists(page_token):
        raise BadRequest("Invalid page_token")
    next_token = sessions[page_size - 1].id if len(sessions) > page_size else ""
    return sessions[:page_size], next_token


def session_detail(
    session_id: str,
    *,
    user_id: str | None = None,
    limit: int = 0,
    after_event_id: str | None = None,
) -> SessionDetail:
    """The session, its session-scoped state and its events after `after_event_id` (0 = all)."""
    session = access_session(session_id, user_id=user_id)
    after = 0
    if after_event_id:
        sequence = (
            EventRow.objects.filter(session_id=session_id, event_id=after_event_id)
            .values_list("sequence", flat=True)
            .first()
        )
        if sequence is None:
            raise BadRequest("Invalid after_event_id")
        after = sequence
    events = list_events(session_id, after=after, limit=limit or None)
    return SessionDetail(session=session, state=session_scope(session.state), events=events)


def session_scope(state: Mapping[str, Any]) -> dict[str, Any]:
    """The session-scoped keys of a merged state view.

    Exact because session keys never carry a scope prefix: `split_state_delta` routes every
    `app:`/`user:` key to its shared scope and drops `temp:` ones.
    """
    return {k: v for k, v in state.items() if not k.startswith((APP_PREFIX, USER_PREFIX))}


def remove_session(session_id: str, *, user_id: str | None = None) -> None:
    """Delete a session the caller named; NotFound when it is absent or not `user_id`'s."""
    access_session(session_id, user_id=user_id)
    delete_session(session_id)
