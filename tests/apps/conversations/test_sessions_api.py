"""GET /admin/sessions, GET and DELETE /admin/sessions/{id} (SPEC 3.3, AC 6.b).

Sessions are written through the Postgres store itself (driven with async_to_sync, so its ORM hops
run on this thread, inside the test's transaction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agents.content import FilePart, TextPart, ToolCallPart
from agents.sessions import Event, EventActions, Session, events_state
from apps.conversations.stores import PostgresSessionService
from tests.factories import make_app, token_client

DEFAULT_SCHEMA = "app_default"


def seed(
    schema: str,
    session_id: str,
    *,
    user_id: str = "alice",
    agent: str = "assistant",
    events: Sequence[Event] = (),
) -> tuple[Session, list[Event]]:
    store = PostgresSessionService(schema)

    async def write() -> tuple[Session, list[Event]]:
        session = await store.create(user_id=user_id, agent=agent, session_id=session_id)
        stored = [await store.append_event(session, event) for event in events]
        return session, stored

    return async_to_sync(write)()


def event(text: str = "hi", *, delta: Mapping[str, Any] | None = None, **fields: Any) -> Event:
    return Event(
        author=fields.pop("author", "user"),
        role=fields.pop("role", "user"),
        parts=fields.pop("parts", (TextPart(text),)),
        actions=fields.pop("actions", EventActions(state_delta=dict(delta or {}))),
        **fields,
    )


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [session["id"] for session in response.json()["sessions"]]


def ids_of(body: Mapping[str, Any]) -> list[str]:
    return [s["id"] for s in body["sessions"]]


# --- GET /admin/sessions ------------------------------------------------------------------------


def test_list_shows_sessions_newest_first_with_event_counts(admin_client: Client) -> None:
    seed(DEFAULT_SCHEMA, "older", events=[event("a"), event("b")])
    seed(DEFAULT_SCHEMA, "newer", user_id="bob", agent="writer", events=[event("c")])
    body = admin_client.get("/admin/sessions").json()
    assert body["next_page_token"] == ""
    newer, older = body["sessions"]
    assert set(newer) == {"id", "app_name", "user_id", "agent", "last_update", "event_count"}
    assert (newer["id"], newer["app_name"], newer["user_id"], newer["agent"]) == (
        "newer",
        "default",
        "bob",
        "writer",
    )
    assert newer["event_count"] == 1
    assert newer["last_update"].endswith("Z")
    assert (older["id"], older["event_count"]) == ("older", 2)


def test_list_filters_by_user_and_agent(admin_client: Client) -> None:
    seed(DEFAULT_SCHEMA, "a1", user_id="alice", agent="assistant")
    seed(DEFAULT_SCHEMA, "b1", user_id="bob", agent="assistant")
    seed(DEFAULT_SCHEMA, "b2", user_id="bob", agent="writer")
    assert ids(admin_client.get("/admin/sessions", {"user_id": "bob"})) == ["b2", "b1"]
    assert ids(admin_client.get("/admin/sessions", {"agent": "assistant"})) == ["b1", "a1"]
    assert ids(admin_client.get("/admin/sessions", {"user_id": "bob", "agent": "writer"})) == ["b2"]
    assert ids(admin_client.get("/admin/sessions", {"user_id": "carol"})) == []


def test_list_is_paginated(admin_client: Client) -> None:
    created = [f"s{i}" for i in range(5)]
    for session_id in created:
        seed(DEFAULT_SCHEMA, session_id)
    pages: list[list[str]] = []
    token = ""
    while True:
        page = admin_client.get("/admin/sessions", {"page_size": 2, "page_token": token}).json()
        pages.append([s["id"] for s in page["sessions"]])
        token = page["next_page_token"]
        if not token:
            break
    assert pages == [["s4", "s3"], ["s2", "s1"], ["s0"]]


def test_list_page_size_defaults_to_50(admin_client: Client) -> None:
    for i in range(51):
        seed(DEFAULT_SCHEMA, f"s{i:02d}")
    body = admin_client.get("/admin/sessions").json()
    assert len(body["sessions"]) == 50
    assert body["next_page_token"] == "s01"
    rest = admin_client.get("/admin/sessions", {"page_token": body["next_page_token"]}).json()
    assert ids_of(rest) == ["s00"]
    assert rest["next_page_token"] == ""


@pytest.mark.parametrize("page_size", ["0", "101", "-3", "ten", "1.5"])
def test_list_rejects_bad_page_size(admin_client: Client, page_size: str) -> None:
    response = admin_client.get("/admin/sessions", {"page_size": page_size})
    assert response.status_code == 400
    assert response.json() == {"error": "page_size must be an integer between 1 and 100"}


def test_list_accepts_page_size_100(admin_client: Client) -> None:
    assert admin_client.get("/admin/sessions", {"page_size": "100"}).status_code == 200


def test_list_rejects_an_unknown_page_token(admin_client: Client) -> None:
    seed(DEFAULT_SCHEMA, "s1")
    response = admin_client.get("/admin/sessions", {"page_token": "never-issued"})
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid page_token"}


def test_list_of_an_unknown_app_is_404(admin_client: Client) -> None:
    response = admin_client.get("/admin/sessions", {"app_id": "ghost"})
    assert response.status_code == 404
    assert response.json() == {"error": "App not found"}


def test_admin_chooses_the_app_with_app_id(admin_client: Client) -> None:
    app, _ = make_app(name="sessions elsewhere")
    seed(app.schema_name, "theirs")
    seed(DEFAULT_SCHEMA, "ours")
    assert ids(admin_client.get("/admin/sessions")) == ["ours"]
    body = admin_client.get("/admin/sessions", {"app_id": app.id}).json()
    assert [(s["id"], s["app_name"]) for s in body["sessions"]] == [("theirs", app.id)]


def test_list_queries_do_not_grow_with_sessions(
    admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    seed(DEFAULT_SCHEMA, "first", events=[event()])
    admin_client.get("/admin/sessions")  # warm caches (admin secret hash)
    with CaptureQueriesContext(connection) as one_session:
        admin_client.get("/admin/sessions")
    for i in range(30):
        seed(DEFAULT_SCHEMA, f"more{i}", user_id=f"user{i}", events=[event(), event()])
    with django_assert_max_num_queries(len(one_session.captured_queries)):
        body = admin_client.get("/admin/sessions", {"page_size": 100}).json()
    assert len(body["sessions"]) == 31
    assert {s["event_count"] for s in body["sessions"]} == {1, 2}


# --- GET /admin/sessions/{id} -------------------------------------------------------------------


def test_detail_returns_state_and_events_in_order(admin_client: Client) -> None:
    """AC 6.b: events in order, event_count = their number, state = the fold of their deltas."""
    deltas: list[dict[str, Any]] = [
        {"topic": "billing", "temp:draft": "x"},
        {"topic": "refund", "user:lang": "fr", "app:greeting": "hi"},
        {"amount": 12.5, "items": [1, 2]},
    ]
    _, stored = seed(
        DEFAULT_SCHEMA, "s1", events=[event(f"m{i}", delta=d) for i, d in enumerate(deltas)]
    )
    response = admin_client.get("/admin/sessions/s1")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "s1"
    assert body["app_name"] == "default"
    assert body["event_count"] == 3
    assert [e["id"] for e in body["events"]] == [e.id for e in stored]
    assert [e["content"]["parts"][0]["text"] for e in body["events"]] == ["m0", "m1", "m2"]
    assert body["state"] == events_state(stored)
    assert body["state"] == {"topic": "refund", "amount": 12.5, "items": [1, 2]}
    assert body["events"][0]["actions"]["state_delta"] == {"topic": "billing"}


def test_detail_renders_the_event_shape(admin_client: Client) -> None:
    agent_event = Event(
        author="assistant",
        role="agent",
        invocation_id="inv-7",
        parts=(
            TextPart("let me check"),
            ToolCallPart(call_id="c1", name="lookup", arguments={"q": "x"}),
            FilePart(mime_type="image/png", data=b"\x89PNG", name="p.png"),
        ),
        actions=EventActions(
            state_delta={"k": 1}, artifact_delta={"p.png": 1}, transfer_to_agent="billing"
        ),
    )
    escalating = Event(
        author="billing", role="agent", actions=EventActions(escalate=True), parts=()
    )
    _, (first, second) = seed(DEFAULT_SCHEMA, "s1", events=[agent_event, escalating])
    events = admin_client.get("/admin/sessions/s1").json()["events"]
    assert events[0] == {
        "id": first.id,
        "invocation_id": "inv-7",
        "author": "assistant",
        "role": "agent",
        "content": {
            "parts": [
                {"kind": "text", "text": "let me check"},
                {"kind": "tool_call", "call_id": "c1", "name": "lookup", "arguments": {"q": "x"}},
                {
                    "kind": "file",
                    "mime_type": "image/png",
                    "data": "iVBORw==",
                    "uri": None,
                    "name": "p.png",
                },
            ]
        },
        "actions": {
            "state_delta": {"k": 1},
            "artifact_delta": {"p.png": 1},
            "transfer_to_agent": "billing",
        },
        "partial": False,
        "timestamp": first.timestamp.isoformat().replace("+00:00", "Z"),
    }
    assert events[1]["actions"] == {"state_delta": {}, "artifact_delta": {}, "escalate": True}
    assert events[1]["id"] == second.id


def test_detail_limit_and_after_event_id(admin_client: Client) -> None:
    _, stored = seed(DEFAULT_SCHEMA, "s1", events=[event(f"m{i}") for i in range(5)])

    def event_ids(**query: Any) -> list[str]:
        response = admin_client.get("/admin/sessions/s1", query)
        assert response.status_code == 200, response.content
        assert response.json()["event_count"] == 5
        return [e["id"] for e in response.json()["events"]]

    every = [e.id for e in stored]
    assert event_ids(limit=0) == every
    assert event_ids(limit=2) == every[:2]
    assert event_ids(after_event_id=stored[1].id) == every[2:]
    assert event_ids(after_event_id=stored[1].id, limit=2) == every[2:4]
    assert event_ids(after_event_id=stored[4].id) == []


@pytest.mark.parametrize("limit", ["-1", "all", "2.5"])
def test_detail_rejects_a_bad_limit(admin_client: Client, limit: str) -> None:
    seed(DEFAULT_SCHEMA, "s1")
    response = admin_client.get("/admin/sessions/s1", {"limit": limit})
    assert response.status_code == 400
    assert response.json() == {"error": "limit must be an integer at least 0"}


def test_detail_rejects_an_unknown_after_event_id(admin_client: Client) -> None:
    seed(DEFAULT_SCHEMA, "s1", events=[event()])
    _, (elsewhere,) = seed(DEFAULT_SCHEMA, "s2", events=[event()])
    response = admin_client.get("/admin/sessions/s1", {"after_event_id": elsewhere.id})
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid after_event_id"}


def test_detail_of_an_unknown_session_is_404(admin_client: Client) -> None:
    response = admin_client.get("/admin/sessions/nope")
    assert response.status_code == 404
    assert response.json() == {"error": 'Session "nope" not found'}


def test_detail_of_another_users_session_is_404(admin_client: Client) -> None:
    seed(DEFAULT_SCHEMA, "s1", user_id="alice")
    assert admin_client.get("/admin/sessions/s1", {"user_id": "alice"}).status_code == 200
    response = admin_client.get("/admin/sessions/s1", {"user_id": "bob"})
    assert response.status_code == 404
    assert response.json() == {"error": 'Session "s1" not found'}


def test_detail_of_an_unknown_app_is_404(admin_client: Client) -> None:
    seed(DEFAULT_SCHEMA, "s1")
    response = admin_client.get("/admin/sessions/s1", {"app_id": "ghost"})
    assert response.status_code == 404
    assert response.json() == {"error": "App not found"}


def test_session_ids_with_slashes_and_spaces_are_addressable(admin_client: Client) -> None:
    seed(DEFAULT_SCHEMA, "ctx/2024 a")
    assert admin_client.get("/admin/sessions/ctx%2F2024%20a").json()["id"] == "ctx/2024 a"


@pytest.mark.parametrize("method", ["get", "delete"])
@pytest.mark.parametrize("session_id", ["", "x" * 129])
def test_invalid_session_id_is_400(admin_client: Client, method: str, session_id: str) -> None:
    response = getattr(admin_client, method)(f"/admin/sessions/{session_id}")
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid session ID"}


def test_a_128_character_session_id_is_valid(admin_client: Client) -> None:
    seed(DEFAULT_SCHEMA, "x" * 128)
    assert admin_client.get(f"/admin/sessions/{'x' * 128}").status_code == 200


# --- DELETE /admin/sessions/{id} ----------------------------------------------------------------


def test_delete_removes_the_session_and_its_events(admin_client: Client) -> None:
    seed(DEFAULT_SCHEMA, "s1", events=[event(), event()])
    seed(DEFAULT_SCHEMA, "s2")
    response = admin_client.delete("/admin/sessions/s1")
    assert response.status_code == 204
    assert response.content == b""
    assert admin_client.get("/admin/sessions/s1").status_code == 404
    assert ids(admin_client.get("/admin/sessions")) == ["s2"]
    again = admin_client.delete("/admin/sessions/s1")
    assert again.status_code == 404
    assert again.json() == {"error": 'Session "s1" not found'}


def test_delete_with_another_user_id_is_404_and_keeps_the_session(admin_client: Client) -> None:
    seed(DEFAULT_SCHEMA, "s1", user_id="alice")
    assert (
        admin_client.delete("/admin/sessions/s1", query_params={"user_id": "bob"}).status_code
        == 404
    )
    assert admin_client.get("/admin/sessions/s1").status_code == 200
    assert (
        admin_client.delete("/admin/sessions/s1", query_params={"user_id": "alice"}).status_code
        == 204
    )


# --- who may call -------------------------------------------------------------------------------


def test_no_credentials_get_401(anon_client: Client) -> None:
    for response in (
        anon_client.get("/admin/sessions"),
        anon_client.get("/admin/sessions/s1"),
        anon_client.delete("/admin/sessions/s1"),
    ):
        assert response.status_code == 401
        assert response.json() == {"error": "Unauthorized"}


def test_wrong_method_is_405(admin_client: Client) -> None:
    response = admin_client.post("/admin/sessions", data="{}", content_type="application/json")
    assert response.status_code == 405
    assert response.json() == {"error": "Method not allowed"}


def test_app_token_reads_its_own_apps_sessions(db: None) -> None:
    app, token = make_app(name="token reader")
    seed(app.schema_name, "mine", events=[event(delta={"k": 1})])
    seed(DEFAULT_SCHEMA, "default-only")
    client = token_client(token)
    for query in ({}, {"app_id": app.id}):
        body = client.get("/admin/sessions", query).json()
        assert [(s["id"], s["app_name"]) for s in body["sessions"]] == [("mine", app.id)]
    detail = client.get("/admin/sessions/mine").json()
    assert (detail["event_count"], detail["state"]) == (1, {"k": 1})
    assert client.get("/admin/sessions/default-only").status_code == 404
    assert client.delete("/admin/sessions/mine", query_params={"app_id": app.id}).status_code == 204
    assert ids(client.get("/admin/sessions")) == []


@pytest.mark.parametrize("other", ["default", "ghost"])
def test_app_token_asking_for_another_app_is_404(db: None, other: str) -> None:
    _, token = make_app(name="nosy")
    seed(DEFAULT_SCHEMA, "s1")
    client = token_client(token)
    for response in (
        client.get("/admin/sessions", {"app_id": other}),
        client.get("/admin/sessions/s1", {"app_id": other}),
        client.delete("/admin/sessions/s1", query_params={"app_id": other}),
    ):
        assert response.status_code == 404
        assert response.json() == {"error": "App not found"}
    assert async_to_sync(PostgresSessionService(DEFAULT_SCHEMA).get)("s1") is not None


def test_app_token_is_still_forbidden_on_the_other_admin_routes(db: None) -> None:
    _, token = make_app(name="limited")
    assert token_client(token).get("/admin/apps").status_code == 403
