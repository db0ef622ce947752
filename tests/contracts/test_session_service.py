"""The SessionService contract: one suite, run against the in-memory and the Postgres store.

Tests are sync functions that drive an async scenario through `async_to_sync`: the Postgres store's
thread-sensitive ORM hops then run on this thread, inside the test's transaction, and roll back
with it. Behaviour only one store has is a bug in the other (STYLE 5); the few Postgres-only tests
at the end check what the in-memory store cannot have (schemas, rows, transactions).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django_tenants.utils import schema_context

from agents.content import (
    DataPart,
    FilePart,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from agents.sessions import (
    APP_PREFIX,
    USER_PREFIX,
    Artifact,
    Event,
    EventActions,
    InMemorySessionService,
    Session,
    SessionNotFound,
    SessionService,
    events_state,
    now,
)
from apps.conversations import models, services
from apps.conversations.stores import PostgresSessionService
from tests.factories import make_app

DEFAULT_SCHEMA = "app_default"

Scenario = Callable[[], Awaitable[None]]


def drive(scenario: Scenario) -> None:
    async_to_sync(scenario)()


@pytest.fixture(params=["memory", "postgres"])
def service(request: pytest.FixtureRequest) -> SessionService:
    if request.param == "memory":
        return InMemorySessionService()
    request.getfixturevalue("db")
    return PostgresSessionService(DEFAULT_SCHEMA)


@pytest.fixture
def pg_service(db: None) -> PostgresSessionService:
    return PostgresSessionService(DEFAULT_SCHEMA)


def user_event(text: str = "hi", **delta: Any) -> Event:
    return Event(
        author="user",
        role="user",
        parts=(TextPart(text),),
        actions=EventActions(state_delta=delta),
    )


def delta_event(delta: Mapping[str, Any], *, partial: bool = False) -> Event:
    return Event(
        author="assistant",
        role="agent",
        parts=(TextPart("ok"),),
        actions=EventActions(state_delta=dict(delta)),
        partial=partial,
    )


def session_scope(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if not k.startswith((APP_PREFIX, USER_PREFIX))}


def ghost_session() -> Session:
    stamp = now()
    return Session("ghost", "alice", "assistant", {}, stamp, stamp)


# --- create / get -------------------------------------------------------------------------------


def test_create_then_get_returns_the_session(service: SessionService) -> None:
    async def scenario() -> None:
        created = await service.create(
            user_id="alice", agent="assistant", session_id="s1", state={"topic": "billing"}
        )
        assert isinstance(created, Session)
        assert (created.id, created.user_id, created.agent) == ("s1", "alice", "assistant")
        assert created.state == {"topic": "billing"}
        assert created.event_count == 0
        assert created.created_at == created.updated_at
        assert await service.get("s1") == created
        assert await service.get("s1", user_id="alice") == created

    drive(scenario)


def test_get_is_none_for_another_user_or_an_unknown_id(service: SessionService) -> None:
    async def scenario() -> None:
        await service.create(user_id="alice", agent="assistant", session_id="s1")
        assert await service.get("s1", user_id="bob") is None
        assert await service.get("nope") is None

    drive(scenario)


def test_create_generates_distinct_ids(service: SessionService) -> None:
    async def scenario() -> None:
        first = await service.create(user_id="alice", agent="assistant")
        second = await service.create(user_id="alice", agent="assistant")
        assert len(first.id) == 32
        assert first.id != second.id

    drive(scenario)


def test_create_refuses_an_existing_id(service: SessionService) -> None:
    async def scenario() -> None:
        await service.create(user_id="alice", agent="assistant", session_id="s1")
        with pytest.raises(ValueError, match="already exists"):
            await service.create(user_id="bob", agent="other", session_id="s1")
        assert (await service.get("s1")).user_id == "alice"  # type: ignore[union-attr]

    drive(scenario)


def test_open_creates_once_then_returns_the_stored_session(service: SessionService) -> None:
    async def scenario() -> None:
        opened = await service.open("s1", user_id="alice", agent="assistant")
        assert (opened.id, opened.user_id, opened.agent, opened.event_count) == (
            "s1",
            "alice",
            "assistant",
            0,
        )
        await service.append_event(
            opened, Event(author="user", role="user", parts=(TextPart("hi"),))
        )
        again = await service.open("s1", user_id="alice", agent="other")
        assert (again.agent, again.event_count) == ("assistant", 1)
        # Another user's session is returned as it is (the runner refuses it), never taken over.
        theirs = await service.open("s1", user_id="bob", agent="assistant")
        assert theirs.user_id == "alice"
        assert (await service.get("s1")).user_id == "alice"  # type: ignore[union-attr]

    drive(scenario)


def test_concurrent_opens_of_one_id_create_one_session(service: SessionService) -> None:
    async def scenario() -> None:
        opened = await asyncio.gather(
            *(service.open("s1", user_id="alice", agent="assistant") for _ in range(5))
        )
        assert {session.id for session in opened} == {"s1"}
        assert len(await service.list_sessions(user_id="alice")) == 1

    drive(scenario)


def test_open_or_start_stores_the_first_event_only_when_it_creates(
    service: SessionService,
) -> None:
    async def scenario() -> None:
        await service.append_event(
            await service.create(user_id="alice", agent="assistant"),
            delta_event({"app:theme": "dark", "user:lang": "fr"}),
        )
        first = user_event("hello", plan="a", **{"temp:scratch": 1})
        session, stored = await service.open_or_start(
            "s1", user_id="alice", agent="assistant", first=first
        )
        # The session as opened (before its first event), the shared state it starts with.
        assert (session.id, session.user_id, session.event_count) == ("s1", "alice", 0)
        assert session.state == {"app:theme": "dark", "user:lang": "fr"}
        assert stored is not None
        assert (stored.id, stored.sequence, stored.parts) == (first.id, 1, (TextPart("hello"),))
        assert dict(stored.actions.state_delta) == {"plan": "a"}  # temp keys are never stored
        assert await service.list_events("s1") == [stored]
        now_stored = await service.get("s1")
        assert now_stored is not None
        assert now_stored.event_count == 1
        assert session_scope(now_stored.state) == {"plan": "a"}

        again, nothing = await service.open_or_start(
            "s1", user_id="alice", agent="assistant", first=user_event("again")
        )
        assert nothing is None
        assert (again.event_count, session_scope(again.state)) == (1, {"plan": "a"})
        assert [e.id for e in await service.list_events("s1")] == [stored.id]

    drive(scenario)


def test_open_or_start_with_shared_keys_and_partial_first_events(
    service: SessionService,
) -> None:
    async def scenario() -> None:
        _, stored = await service.open_or_start(
            "s1", user_id="alice", agent="assistant", first=user_event(**{"app:x": 1})
        )
        assert stored is not None
        assert stored.sequence == 1
        other = await service.create(user_id="bob", agent="assistant")
        assert (await service.get(other.id)).state == {"app:x": 1}  # type: ignore[union-attr]

        partial = delta_event({"k": 1}, partial=True)
        created, kept = await service.open_or_start(
            "s2", user_id="alice", agent="assistant", first=partial
        )
        assert kept is None  # partial events are never stored
        assert created.id == "s2"
        assert await service.list_events("s2") == []

    drive(scenario)


def test_concurrent_open_or_start_stores_one_first_event(service: SessionService) -> None:
    async def scenario() -> None:
        firsts = [user_event(f"m{i}") for i in range(5)]
        opened = await asyncio.gather(
            *(
                service.open_or_start("s1", user_id="alice", agent="assistant", first=first)
                for first in firsts
            )
        )
        stored = [o.first for o in opened if o.first is not None]
        assert len(stored) == 1
        assert [e.id for e in await service.list_events("s1")] == [stored[0].id]

    drive(scenario)


# --- events and state ---------------------------------------------------------------------------


def test_append_assigns_sequences_1_2_3(service: SessionService) -> None:
    async def scenario() -> None:
        session = await service.create(user_id="alice", agent="assistant", session_id="s1")
        stored = [await service.append_event(session, user_event(f"m{i}")) for i in range(3)]
        assert [e.sequence for e in stored] == [1, 2, 3]
        assert all(isinstance(e, Event) for e in stored)
        assert await service.list_events("s1") == stored
        assert (await service.get("s1")).event_count == 3  # type: ignore[union-attr]

    drive(scenario)


def test_state_delta_is_applied_with_its_event(service: SessionService) -> None:
    async def scenario() -> None:
        session = await service.create(user_id="alice", agent="assistant", session_id="s1")
        stored = await service.append_event(session, delta_event({"step": 1, "done": None}))
        after = await service.get("s1")
        assert after is not None
        assert after.state == {"step": 1, "done": None}
        assert after.updated_at >= session.updated_at
        assert (await service.list_events("s1"))[0].actions.state_delta == {
            "step": 1,
            "done": None,
        }
        await service.append_event(session, delta_event({"step": 2, "items": [1, {"a": "b"}]}))
        assert (await service.get("s1")).state == {  # type: ignore[union-attr]
            "step": 2,
            "done": None,
            "items": [1, {"a": "b"}],
        }
        assert stored.sequence == 1

    drive(scenario)


def test_a_failed_append_changes_no_state(service: SessionService) -> None:
    async def scenario() -> None:
        other = await service.create(user_id="alice", agent="assistant", session_id="s1")
        with pytest.raises(SessionNotFound):
            await service.append_event(ghost_session(), delta_event({"app:x": 1, "user:y": 2}))
        assert (await service.get(other.id)).state == {}  # type: ignore[union-attr]

    drive(scenario)


def test_app_scope_is_shared_by_every_session(service: SessionService) -> None:
    async def scenario() -> None:
        alice = await service.create(user_id="alice", agent="assistant", session_id="a1")
        bob = await service.create(user_id="bob", agent="assistant", session_id="b1")
        await service.append_event(alice, delta_event({"app:theme": "dark"}))
        assert (await service.get(bob.id)).state == {"app:theme": "dark"}  # type: ignore[union-attr]
        later = await service.create(user_id="carol", agent="other")
        assert later.state == {"app:theme": "dark"}

    drive(scenario)


def test_user_scope_follows_the_user_not_the_session(service: SessionService) -> None:
    """AC 6.a: `user:lang` set in one session is seen by the same user's sessions only."""

    async def scenario() -> None:
        first = await service.create(user_id="alice", agent="assistant", session_id="a1")
        second = await service.create(user_id="alice", agent="assistant", session_id="a2")
        bob = await service.create(user_id="bob", agent="assistant", session_id="b1")
        await service.append_event(first, delta_event({"user:lang": "fr"}))
        assert (await service.get(second.id)).state == {"user:lang": "fr"}  # type: ignore[union-attr]
        assert (await service.get(bob.id)).state == {}  # type: ignore[union-attr]
        new_session = await service.create(user_id="alice", agent="assistant")
        assert new_session.state["user:lang"] == "fr"
        assert "user:lang" not in (await service.create(user_id="bob", agent="assistant")).state

    drive(scenario)


def test_temp_keys_are_never_stored(service: SessionService) -> None:
    """AC 6.c: not in the state, not in the stored event's delta, not in the returned event."""

    async def scenario() -> None:
        session = await service.create(
            user_id="alice", agent="assistant", session_id="s1", state={"temp:seed": 1, "k": 0}
        )
        assert session.state == {"k": 0}
        delta = {"temp:scratch": "x", "plain": 1, "app:a": 2, "user:u": 3}
        returned = await service.append_event(session, delta_event(delta))
        expected_delta = {"plain": 1, "app:a": 2, "user:u": 3}
        assert returned.actions.state_delta == expected_delta
        assert (await service.list_events("s1"))[0].actions.state_delta == expected_delta
        assert (await service.get("s1")).state == {  # type: ignore[union-attr]
            "k": 0,
            "plain": 1,
            "app:a": 2,
            "user:u": 3,
        }

    drive(scenario)


def test_session_state_is_the_fold_of_its_events(service: SessionService) -> None:
    """AC 6.b: `events_state(list_events)` equals the session-scoped state."""

    async def scenario() -> None:
        session = await service.create(user_id="alice", agent="assistant", session_id="s1")
        for delta in (
            {"a": 1, "b": 1},
            {"a": 2, "temp:t": 9, "user:lang": "fr"},
            {"c": {"nested": [1, 2]}, "app:x": True},
            {"b": None},
        ):
            await service.append_event(session, delta_event(delta))
        state = (await service.get("s1")).state  # type: ignore[union-attr]
        assert events_state(await service.list_events("s1")) == session_scope(state)
        assert session_scope(state) == {"a": 2, "b": None, "c": {"nested": [1, 2]}}

    drive(scenario)


def test_list_events_after_and_limit(service: SessionService) -> None:
    async def scenario() -> None:
        session = await service.create(user_id="alice", agent="assistant", session_id="s1")
        for i in range(5):
            await service.append_event(session, user_event(f"m{i}"))

        async def sequences(**kwargs: Any) -> list[int]:
            return [e.sequence for e in await service.list_events("s1", **kwargs)]

        assert await sequences() == [1, 2, 3, 4, 5]
        assert await sequences(after=2) == [3, 4, 5]
        assert await sequences(limit=2) == [1, 2]
        assert await sequences(after=2, limit=2) == [3, 4]
        assert await sequences(after=5) == []
        assert await sequences(limit=0) == [1, 2, 3, 4, 5]

    drive(scenario)


def test_concurrent_appends_get_distinct_gapless_sequences(service: SessionService) -> None:
    async def scenario() -> None:
        session = await service.create(user_id="alice", agent="assistant", session_id="s1")
        stored = await asyncio.gather(
            *(service.append_event(session, user_event(f"m{i}")) for i in range(10))
        )
        assert sorted(e.sequence for e in stored) == list(range(1, 11))
        assert [e.sequence for e in await service.list_events("s1")] == list(range(1, 11))

    drive(scenario)


def test_partial_events_are_returned_not_stored(service: SessionService) -> None:
    async def scenario() -> None:
        session = await service.create(user_id="alice", agent="assistant", session_id="s1")
        partial = delta_event({"seen": True, "app:seen": True}, partial=True)
        assert await service.append_event(session, partial) == partial
        assert await service.list_events("s1") == []
        after = await service.get("s1")
        assert after is not None
        assert (after.event_count, after.state) == (0, {})
        final = await service.append_event(session, user_event("done"))
        assert final.sequence == 1

    drive(scenario)


def every_kind_of_part() -> tuple[Part, ...]:
    return (
        TextPart("Bonjour, ünïcödé ✓"),
        ThinkingPart("let me think", signature="sig-abc=="),
        ThinkingPart("unsigned"),
        ToolCallPart(
            call_id="call_1",
            name="search",
            arguments={"query": "weather", "filters": {"days": [1, 2]}, "exact": False},
            metadata={"thought_signature": "opaque"},
        ),
        ToolCallPart(call_id="call_2", name="noop", arguments={}),
        ToolResultPart(call_id="call_1", name="search", content={"hits": [{"t": "sunny"}]}),
        ToolResultPart(call_id="call_2", name="noop", content="boom", is_error=True),
        FilePart(mime_type="image/png", data=b"\x89PNG\r\n\x00\xff\xfe", name="pixel.png"),
        FilePart(mime_type="application/pdf", uri="https://example.test/a.pdf"),
        DataPart({"answer": 42, "list": [None, 1.5, "x"]}),
    )


def test_every_part_kind_and_field_round_trips(service: SessionService) -> None:
    async def scenario() -> None:
        session = await service.create(user_id="alice", agent="assistant", session_id="s1")
        event = Event(
            author="assistant",
            role="agent",
            parts=every_kind_of_part(),
            invocation_id="inv-1",
            actions=EventActions(
                state_delta={"k": "v"},
                artifact_delta={"report.txt": 2},
                transfer_to_agent="billing",
                escalate=True,
            ),
            usage={"input_tokens": 12, "output_tokens": 34},
            branch="research.web",
        )
        stored = await service.append_event(session, event)
        (loaded,) = await service.list_events("s1")
        assert loaded == stored
        assert loaded.branch == "research.web"
        assert loaded.parts == event.parts
        assert loaded.id == event.id
        assert loaded.timestamp == event.timestamp
        assert loaded.actions == event.actions
        assert loaded.usage == {"input_tokens": 12, "output_tokens": 34}

    drive(scenario)


# --- listing and deleting sessions --------------------------------------------------------------


def test_list_sessions_newest_first_with_filters_and_cursor(service: SessionService) -> None:
    async def scenario() -> None:
        s1 = await service.create(user_id="alice", agent="a", session_id="s1")
        await service.create(user_id="bob", agent="b", session_id="s2")
        await service.create(user_id="alice", agent="a", session_id="s3")
        await service.append_event(s1, user_event("bump"))  # s1 becomes the most recent

        async def ids(**kwargs: Any) -> list[str]:
            return [s.id for s in await service.list_sessions(**kwargs)]

        assert await ids() == ["s1", "s3", "s2"]
        assert await ids(user_id="alice") == ["s1", "s3"]
        assert await ids(agent="b") == ["s2"]
        assert await ids(user_id="bob", agent="a") == []
        assert await ids(limit=2) == ["s1", "s3"]
        assert await ids(limit=2, after="s3") == ["s2"]
        assert await ids(after="s2") == []
        assert await ids(after="missing") == []
        assert await ids(user_id="alice", after="s2") == []  # the cursor is filtered too
        listed = {s.id: s for s in await service.list_sessions()}
        assert listed["s1"].event_count == 1
        assert listed["s1"] == await service.get("s1")

    drive(scenario)


def test_list_sessions_breaks_ties_by_id_in_code_point_order(
    service: SessionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same `updated_at`: larger id first, ids compared as Python strings (not by a collation)."""
    frozen = now()
    monkeypatch.setattr("agents.sessions.now", lambda: frozen)
    monkeypatch.setattr(services, "now", lambda: frozen)

    async def scenario() -> None:
        for session_id in ("a", "B", "c", "a-2"):
            await service.create(user_id="alice", agent="assistant", session_id=session_id)

        async def ids(**kwargs: Any) -> list[str]:
            return [s.id for s in await service.list_sessions(**kwargs)]

        assert await ids() == ["c", "a-2", "a", "B"]
        assert await ids(after="a-2") == ["a", "B"]
        assert await ids(after="c", limit=1) == ["a-2"]

    drive(scenario)


def test_delete_removes_session_events_and_its_artifacts(service: SessionService) -> None:
    async def scenario() -> None:
        session = await service.create(user_id="alice", agent="assistant", session_id="s1")
        other = await service.create(user_id="alice", agent="assistant", session_id="s2")
        await service.append_event(session, user_event())
        await service.save_artifact(session, name="notes.txt", data="x", mime_type="text/plain")
        await service.save_artifact(session, name="user:cv.md", data="y", mime_type="text/plain")
        assert await service.delete("s1") is True
        assert await service.get("s1") is None
        with pytest.raises(SessionNotFound):
            await service.list_events("s1")
        assert await service.load_artifact(session, name="notes.txt") is None
        assert (await service.load_artifact(other, name="user:cv.md")) is not None
        assert [s.id for s in await service.list_sessions()] == ["s2"]
        assert await service.delete("s1") is False

    drive(scenario)


# --- artifacts ----------------------------------------------------------------------------------


def test_artifacts_are_versioned_and_latest_by_default(service: SessionService) -> None:
    async def scenario() -> None:
        session = await service.create(user_id="alice", agent="assistant", session_id="s1")
        save = service.save_artifact
        assert await save(session, name="report.txt", data="v1 ✓", mime_type="text/plain") == 1
        assert await save(session, name="report.txt", data=b"\x00\xff", mime_type="x/bin") == 2
        assert await save(session, name="other.json", data="{}", mime_type="application/json") == 1
        latest = await service.load_artifact(session, name="report.txt")
        assert isinstance(latest, Artifact)
        assert (latest.version, latest.data, latest.mime_type, latest.size) == (
            2,
            b"\x00\xff",
            "x/bin",
            2,
        )
        first = await service.load_artifact(session, name="report.txt", version=1)
        assert first is not None
        assert (first.data, first.text(), first.is_text) == ("v1 ✓".encode(), "v1 ✓", True)
        assert first.created_at <= latest.created_at
        for missing in (0, 3, -1):
            assert await service.load_artifact(session, name="report.txt", version=missing) is None
        assert await service.load_artifact(session, name="absent") is None

    drive(scenario)


def test_user_artifacts_are_shared_by_the_users_sessions_only(service: SessionService) -> None:
    async def scenario() -> None:
        first = await service.create(user_id="alice", agent="assistant", session_id="a1")
        second = await service.create(user_id="alice", agent="assistant", session_id="a2")
        bob = await service.create(user_id="bob", agent="assistant", session_id="b1")
        await service.save_artifact(first, name="user:cv.md", data="v1", mime_type="text/markdown")
        assert (
            await service.save_artifact(second, name="user:cv.md", data="v2", mime_type="text/md")
            == 2
        )
        shared = await service.load_artifact(first, name="user:cv.md")
        assert shared is not None
        assert (shared.version, shared.data) == (2, b"v2")
        assert await service.load_artifact(bob, name="user:cv.md") is None
        await service.save_artifact(first, name="z.txt", data="z", mime_type="text/plain")
        await service.save_artifact(first, name="b.txt", data="b", mime_type="text/plain")
        await service.save_artifact(first, name="b.txt", data="b2", mime_type="text/plain")
        assert await service.list_artifacts(first) == ["b.txt", "user:cv.md", "z.txt"]
        assert await service.list_artifacts(second) == ["user:cv.md"]
        assert await service.list_artifacts(bob) == []

    drive(scenario)


# --- unknown sessions ---------------------------------------------------------------------------


def test_unknown_session_errors(service: SessionService) -> None:
    async def scenario() -> None:
        ghost = ghost_session()
        with pytest.raises(SessionNotFound, match='Session "ghost" not found'):
            await service.append_event(ghost, user_event())
        with pytest.raises(SessionNotFound):
            await service.append_event(ghost, delta_event({}, partial=True))
        with pytest.raises(SessionNotFound):
            await service.list_events("ghost")
        with pytest.raises(SessionNotFound):
            await service.save_artifact(ghost, name="a.txt", data="x", mime_type="text/plain")
        assert await service.get("ghost") is None
        assert await service.delete("ghost") is False
        assert await service.load_artifact(ghost, name="a.txt") is None
        assert await service.list_artifacts(ghost) == []

    drive(scenario)


# --- Postgres only: schemas, rows, transactions -------------------------------------------------


def test_two_apps_never_see_each_others_sessions(pg_service: PostgresSessionService) -> None:
    other_app, _ = make_app(name="contract other app")
    other = PostgresSessionService(other_app.schema_name)

    async def scenario() -> None:
        mine = await pg_service.create(user_id="alice", agent="assistant", session_id="shared")
        theirs = await other.create(user_id="mallory", agent="spy", session_id="shared")
        await pg_service.append_event(mine, delta_event({"secret": 1, "app:k": "default"}))
        await other.append_event(theirs, delta_event({"app:k": "other", "user:lang": "de"}))
        await pg_service.save_artifact(mine, name="a.txt", data="mine", mime_type="text/plain")

        mine_again = await pg_service.get("shared")
        theirs_again = await other.get("shared")
        assert mine_again is not None
        assert theirs_again is not None
        assert (mine_again.user_id, mine_again.event_count) == ("alice", 1)
        assert mine_again.state == {"secret": 1, "app:k": "default"}
        assert (theirs_again.user_id, theirs_again.event_count) == ("mallory", 1)
        assert theirs_again.state == {"app:k": "other", "user:lang": "de"}
        assert await other.get("shared", user_id="alice") is None
        assert await other.load_artifact(theirs, name="a.txt") is None
        assert [s.user_id for s in await other.list_sessions()] == ["mallory"]
        assert await other.delete("shared") is True
        assert await pg_service.get("shared") == mine_again

    drive(scenario)


def test_postgres_rows_never_hold_temp_keys(pg_service: PostgresSessionService) -> None:
    async def scenario() -> None:
        session = await pg_service.create(
            user_id="alice", agent="assistant", session_id="s1", state={"temp:a": 1}
        )
        delta = {"temp:b": 2, "user:temp:c": 3, "x": 1}
        await pg_service.append_event(session, delta_event(delta))

    drive(scenario)
    with schema_context(DEFAULT_SCHEMA):
        event = models.Event.objects.get(session_id="s1")
        assert event.actions["state_delta"] == {"user:temp:c": 3, "x": 1}
        assert event.partial is False
        assert models.Session.objects.get(pk="s1").state == {"x": 1}
        assert dict(models.UserState.objects.values_list("key", "value")) == {"temp:c": 3}
        assert not models.AppState.objects.filter(key__startswith="temp:").exists()


def test_postgres_append_is_all_or_nothing(
    pg_service: PostgresSessionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(**kwargs: Any) -> None:
        raise RuntimeError("disk full")

    async def scenario() -> None:
        session = await pg_service.create(user_id="alice", agent="assistant", session_id="s1")
        with monkeypatch.context() as patch:
            patch.setattr(services, "_write_shared_state", fail)
            with pytest.raises(RuntimeError, match="disk full"):
                await pg_service.append_event(session, delta_event({"a": 1, "app:b": 2}))
        assert await pg_service.list_events("s1") == []
        after = await pg_service.get("s1")
        assert after is not None
        assert (after.state, after.updated_at) == ({}, session.updated_at)
        assert (await pg_service.append_event(session, user_event())).sequence == 1

    drive(scenario)


def test_postgres_updated_at_never_goes_back(pg_service: PostgresSessionService) -> None:
    """A session stamped ahead (another server's clock) keeps its stamp: updated_at only grows."""

    async def create() -> None:
        await pg_service.create(user_id="alice", agent="assistant", session_id="s1")

    drive(create)
    future = now() + timedelta(hours=1)
    with schema_context(DEFAULT_SCHEMA):
        models.Session.objects.filter(pk="s1").update(updated_at=future)

    async def scenario() -> None:
        session = await pg_service.get("s1")
        assert session is not None
        await pg_service.append_event(session, user_event())
        assert (await pg_service.get("s1")).updated_at == future  # type: ignore[union-attr]

    drive(scenario)
