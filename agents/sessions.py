"""Sessions: event-sourced conversations with scoped state and versioned artifacts.

The runner reaches persistence only through `SessionService`; `InMemorySessionService` below serves
unit tests, the Python API and benchmarks, and `apps.conversations.stores.PostgresSessionService`
serves the server. Both pass the contract suite in `tests/contracts/test_session_service.py`:
behaviour only one of them has is a bug in the other.

State scopes, by key prefix (SPEC 6): none = this session; `app:` = every session of the app;
`user:` = every session of the same user; `temp:` = this invocation only, never stored (not even in
the stored event's delta). A session's `state` is the merged view the runner and templates read.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, Protocol

from agents.content import Part

APP_PREFIX = "app:"
USER_PREFIX = "user:"
TEMP_PREFIX = "temp:"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class EventActions:
    state_delta: Mapping[str, Any] = field(default_factory=dict)
    artifact_delta: Mapping[str, int] = field(default_factory=dict)  # name -> new version
    transfer_to_agent: str | None = None
    escalate: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """One immutable entry of a session's history; the store assigns `sequence` (1, 2, ...).

    `branch` places the event in the agent tree: "" for the conversation itself, `parent.child`
    for an isolated run of a child (a parallel branch, an agent called as a tool), dotted deeper
    for nested ones. An agent sees the events of its own branch and of the branches above it
    (see `visible_in`), never a sibling's.
    """

    author: str  # "user" or the agent's name
    role: Literal["user", "agent"]
    parts: tuple[Part, ...] = ()
    invocation_id: str = ""
    actions: EventActions = field(default_factory=EventActions)
    partial: bool = False
    usage: Mapping[str, int] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    timestamp: datetime = field(default_factory=now)
    sequence: int = 0
    branch: str = ""

    def visible_in(self, branch: str) -> bool:
        """Whether an agent running on `branch` sees this event: it is on that branch or on one
        of its ancestors ("" is everyone's ancestor)."""
        return not self.branch or branch == self.branch or branch.startswith(self.branch + ".")


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    user_id: str
    agent: str
    state: Mapping[str, Any]  # merged view: session keys, plus app:/user: keys with their prefix
    created_at: datetime
    updated_at: datetime
    event_count: int = 0


@dataclass(frozen=True, slots=True)
class Artifact:
    name: str
    version: int
    mime_type: str
    data: bytes
    created_at: datetime

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def is_text(self) -> bool:
        return self.mime_type.startswith("text/") or self.mime_type in {
            "application/json",
            "application/yaml",
            "application/xml",
        }

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class SessionNotFound(LookupError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f'Session "{session_id}" not found')
        self.session_id = session_id


class Opened(NamedTuple):
    """What `SessionService.open_or_start` found or made."""

    session: Session  # as opened: before `first`
    first: Event | None  # `first` as stored when the session was created now; else None


class SessionService(Protocol):
    async def create(
        self,
        *,
        user_id: str,
        agent: str,
        session_id: str | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> Session: ...

    async def get(self, session_id: str, *, user_id: str | None = None) -> Session | None:
        """The session with its merged state; None when absent (or owned by another user)."""

    async def open(self, session_id: str, *, user_id: str, agent: str) -> Session:
        """The session `session_id`, created for `user_id` and `agent` when absent, in one
        step: every run opens one. It may belong to another user; the caller checks."""

    async def open_or_start(
        self, session_id: str, *, user_id: str, agent: str, first: Event
    ) -> Opened:
        """`open`, and when this call creates the session, `first` stored as its first event in
        the same step (a new conversation's first message). The session is returned as `open`
        returns it; for one that existed nothing is stored and the caller appends as usual."""

    async def append_event(self, session: Session, event: Event) -> Event:
        """Store the event and apply its state delta atomically; return it with its sequence."""

    async def list_events(
        self, session_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[Event]: ...

    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        agent: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> list[Session]:
        """Most recently updated first; `after` is the id of the last session of the previous
        page."""

    async def delete(self, session_id: str) -> bool: ...

    async def save_artifact(
        self, session: Session, *, name: str, data: bytes | str, mime_type: str
    ) -> int:
        """Store a new version (1, 2, ...); `user:`-prefixed names are shared by the user's
        sessions."""

    async def load_artifact(
        self, session: Session, *, name: str, version: int | None = None
    ) -> Artifact | None:
        """The given version, or the latest when `version` is None."""

    async def list_artifacts(self, session: Session) -> list[str]: ...


def split_state_delta(
    delta: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(session, app, user) parts of a delta, prefixes stripped from app/user keys; temp dropped."""
    session_part: dict[str, Any] = {}
    app_part: dict[str, Any] = {}
    user_part: dict[str, Any] = {}
    for key, value in delta.items():
        if key.startswith(TEMP_PREFIX):
            continue
        if key.startswith(APP_PREFIX):
            app_part[key[len(APP_PREFIX) :]] = value
        elif key.startswith(USER_PREFIX):
            user_part[key[len(USER_PREFIX) :]] = value
        else:
            session_part[key] = value
    return session_part, app_part, user_part


def without_temp(delta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in delta.items() if not k.startswith(TEMP_PREFIX)}


def merged_state(
    session_state: Mapping[str, Any], app_state: Mapping[str, Any], user_state: Mapping[str, Any]
) -> dict[str, Any]:
    state = dict(session_state)
    state.update({APP_PREFIX + k: v for k, v in app_state.items()})
    state.update({USER_PREFIX + k: v for k, v in user_state.items()})
    return state


def artifact_bytes(data: bytes | str) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def stored_event(event: Event, sequence: int) -> Event:
    """The event as stores keep it: sequenced, temp keys gone from its delta, partial never kept."""
    actions = replace(event.actions, state_delta=without_temp(event.actions.state_delta))
    return replace(event, actions=actions, sequence=sequence)


class InMemorySessionService:
    """Process-local sessions: the Python API's default and the runner's unit-test store."""

    def __init__(self) -> None:
        self._sessions: dict[str, dict[str, Any]] = {}
        self._events: dict[str, list[Event]] = {}
        self._app_state: dict[str, Any] = {}
        self._user_state: dict[str, dict[str, Any]] = {}
        self._artifacts: dict[tuple[str, str], list[Artifact]] = {}
        self._lock = asyncio.Lock()

    def _view(self, row: Mapping[str, Any]) -> Session:
        return Session(
            id=row["id"],
            user_id=row["user_id"],
            agent=row["agent"],
            state=copy.deepcopy(
                merged_state(
                    row["state"], self._app_state, self._user_state.get(row["user_id"], {})
                )
            ),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            event_count=len(self._events.get(row["id"], [])),
        )

    async def create(
        self,
        *,
        user_id: str,
        agent: str,
        session_id: str | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> Session:
        async with self._lock:
            session_id = session_id or uuid.uuid4().hex
            if session_id in self._sessions:
                raise ValueError(f'session "{session_id}" already exists')
            session_part, app_part, user_part = split_state_delta(state or {})
            self._app_state.update(copy.deepcopy(app_part))
            self._user_state.setdefault(user_id, {}).update(copy.deepcopy(user_part))
            created = now()
            self._sessions[session_id] = {
                "id": session_id,
                "user_id": user_id,
                "agent": agent,
                "state": copy.deepcopy(session_part),
                "created_at": created,
                "updated_at": created,
            }
            self._events[session_id] = []
            return self._view(self._sessions[session_id])

    async def open(self, session_id: str, *, user_id: str, agent: str) -> Session:
        row = self._sessions.get(session_id)
        if row is not None:
            return self._view(row)
        try:
            return await self.create(user_id=user_id, agent=agent, session_id=session_id)
        except ValueError:  # created meanwhile
            return self._view(self._sessions[session_id])

    async def open_or_start(
        self, session_id: str, *, user_id: str, agent: str, first: Event
    ) -> Opened:
        if session_id in self._sessions:
            return Opened(await self.open(session_id, user_id=user_id, agent=agent), None)
        try:
            session = await self.create(user_id=user_id, agent=agent, session_id=session_id)
        except ValueError:  # created meanwhile
            return Opened(self._view(self._sessions[session_id]), None)
        if first.partial:  # never stored: the caller's append returns it as it is
            return Opened(session, None)
        return Opened(session, await self.append_event(session, first))

    async def get(self, session_id: str, *, user_id: str | None = None) -> Session | None:
        row = self._sessions.get(session_id)
        if row is None or (user_id is not None and row["user_id"] != user_id):
            return None
        return self._view(row)

    async def append_event(self, session: Session, event: Event) -> Event:
        async with self._lock:
            row = self._sessions.get(session.id)
            if row is None:
                raise SessionNotFound(session.id)
            if event.partial:
                return event  # partial (streaming) events are shown, never stored
            events = self._events[session.id]
            stored = stored_event(event, len(events) + 1)
            session_part, app_part, user_part = split_state_delta(stored.actions.state_delta)
            row["state"].update(copy.deepcopy(session_part))
            self._app_state.update(copy.deepcopy(app_part))
            self._user_state.setdefault(row["user_id"], {}).update(copy.deepcopy(user_part))
            row["updated_at"] = max(now(), row["updated_at"])
            events.append(stored)
            return stored

    async def list_events(
        self, session_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        if session_id not in self._sessions:
            raise SessionNotFound(session_id)
        events = [e for e in self._events[session_id] if e.sequence > after]
        return events[:limit] if limit else events

    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        agent: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> list[Session]:
        rows = [
            r
            for r in self._sessions.values()
            if (user_id is None or r["user_id"] == user_id)
            and (agent is None or r["agent"] == agent)
        ]
        rows.sort(key=lambda r: (r["updated_at"], r["id"]), reverse=True)
        if after is not None:
            ids = [r["id"] for r in rows]
            rows = rows[ids.index(after) + 1 :] if after in ids else []
        return [self._view(r) for r in rows[:limit]]

    async def delete(self, session_id: str) -> bool:
        async with self._lock:
            row = self._sessions.pop(session_id, None)
            self._events.pop(session_id, None)
            for key in [k for k in self._artifacts if k[0] == session_id]:
                del self._artifacts[key]
            return row is not None

    def _artifact_key(self, session: Session, name: str) -> tuple[str, str]:
        owner = f"user:{session.user_id}" if name.startswith(USER_PREFIX) else session.id
        return owner, name

    async def save_artifact(
        self, session: Session, *, name: str, data: bytes | str, mime_type: str
    ) -> int:
        async with self._lock:
            if session.id not in self._sessions:
                raise SessionNotFound(session.id)
            versions = self._artifacts.setdefault(self._artifact_key(session, name), [])
            version = len(versions) + 1
            versions.append(Artifact(name, version, mime_type, artifact_bytes(data), now()))
            return version

    async def load_artifact(
        self, session: Session, *, name: str, version: int | None = None
    ) -> Artifact | None:
        versions = self._artifacts.get(self._artifact_key(session, name), [])
        if not versions:
            return None
        if version is None:
            return versions[-1]
        return versions[version - 1] if 1 <= version <= len(versions) else None

    async def list_artifacts(self, session: Session) -> list[str]:
        owners = {session.id, f"user:{session.user_id}"}
        return sorted(name for owner, name in self._artifacts if owner in owners)


def events_state(events: Sequence[Event]) -> dict[str, Any]:
    """The fold of the events' session-scoped state deltas (what `Session.state` must equal)."""
    state: dict[str, Any] = {}
    for event in events:
        session_part, _, _ = split_state_delta(event.actions.state_delta)
        state.update(session_part)
    return state


SessionFactory = Callable[[], SessionService]
_default_session_factory: SessionFactory | None = None


def set_default_session_factory(factory: SessionFactory | None) -> None:
    """Where the Python API gets sessions when none are passed (None: back to in-memory).

    Lives here, not in `agents.api`, so the Django side can register Postgres sessions at start
    without importing the whole runtime."""
    global _default_session_factory
    _default_session_factory = factory


def default_sessions() -> SessionService:
    factory = _default_session_factory
    return factory() if factory is not None else InMemorySessionService()
