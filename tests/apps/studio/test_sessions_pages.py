"""Sessions: the list (filter by user and agent), a session's timeline with its trace, its turns
for the chat to reopen, delete. Also the trace builder on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from agents.content import DataPart, TextPart, ThinkingPart, ToolCallPart, ToolResultPart
from agents.sessions import Event, EventActions
from apps.conversations import services as conversations
from apps.studio.trace import build_turns
from apps.tenancy.models import App

T0 = datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def conversation() -> list[Event]:
    """A turn with thinking, a tool round (result 250 ms later) and an answer; then a failure."""
    return [
        Event("user", "user", (TextPart("weather in Oslo?"),), "inv-1", timestamp=at(0)),
        Event(
            "helper",
            "agent",
            (
                ThinkingPart("need data"),
                TextPart("Checking. "),
                ToolCallPart("c1", "lookup", {"topic": "oslo"}),
            ),
            "inv-1",
            usage={"input_tokens": 11, "output_tokens": 7},
            timestamp=at(900),
        ),
        Event(
            "helper",
            "agent",
            (ToolResultPart("c1", "lookup", "rain"),),
            "inv-1",
            timestamp=at(1150),
        ),
        Event(
            "helper",
            "agent",
            (TextPart("It rains."),),
            "inv-1",
            usage={"input_tokens": 20, "output_tokens": 3},
            timestamp=at(1600),
        ),
        Event("user", "user", (TextPart("and tomorrow?"),), "inv-2", timestamp=at(5000)),
        Event(
            "helper",
            "agent",
            (DataPart({"hector_type": "status", "state": "failed", "message": "provider down"}),),
            "inv-2",
            actions=EventActions(),
            timestamp=at(5100),
        ),
    ]


def test_trace_builds_turns_with_durations_and_authors() -> None:
    first, second = build_turns(conversation())
    assert (first.user, first.answer, first.author, first.status) == (
        "weather in Oslo?",
        "It rains.",
        "helper",
        "completed",
    )
    kinds = [item["kind"] for item in first.items]
    assert kinds == ["llm", "thinking", "text", "tool_call", "llm"]
    assert first.items[0]["duration_ms"] == 900
    assert first.items[0]["usage"] == {"input_tokens": 11, "output_tokens": 7}
    tool = first.items[3]
    assert (tool["name"], tool["result"], tool["duration_ms"], tool["done"]) == (
        "lookup",
        "rain",
        250,
        True,
    )
    assert first.items[4]["duration_ms"] == 450
    assert (second.status, second.error) == ("failed", "provider down")


@pytest.fixture
def stored(app: App) -> str:
    with schema_context(app.schema_name):
        session = conversations.create_session(
            user_id="studio", agent="helper", session_id="s-weather"
        )
        for event in conversation():
            conversations.append_event(session_id=session.id, event=event)
        conversations.create_session(user_id="ann", agent="writer", session_id="s-ann")
    return session.id


def test_sessions_list_filters_by_user_and_agent(selected: Client, stored: str) -> None:
    everyone = selected.get("/studio/sessions/")
    assert [s.id for s in everyone.context["sessions"]] == ["s-ann", "s-weather"]
    mine = selected.get("/studio/sessions/?user=studio")
    assert [s.id for s in mine.context["sessions"]] == ["s-weather"]
    writer = selected.get("/studio/sessions/?agent=writer")
    assert [s.id for s in writer.context["sessions"]] == ["s-ann"]
    assert b"Open in chat" in everyone.content


def test_session_page_shows_the_timeline_with_tool_calls(selected: Client, stored: str) -> None:
    response = selected.get(f"/studio/sessions/{stored}/")
    assert response.status_code == 200
    assert len(response.context["turns"]) == 2
    content = response.content.decode()
    assert "weather in Oslo?" in content
    assert "lookup" in content
    assert "250 ms" in content
    assert "provider down" in content


def test_turns_json_reopens_a_session_in_the_chat(selected: Client, stored: str) -> None:
    body = selected.get(f"/studio/sessions/{stored}/turns.json").json()
    assert body["session"] == {"id": "s-weather", "agent": "helper", "user_id": "studio"}
    assert [turn["answer"] for turn in body["turns"]] == ["It rains.", ""]
    chat = selected.get(f"/studio/?agent=helper&session={stored}")
    assert chat.context["chat"]["session"] == stored


def test_unknown_session_is_404(selected: Client) -> None:
    assert selected.get("/studio/sessions/nope/").status_code == 404
    assert selected.get("/studio/sessions/nope/turns.json").status_code == 404


def test_delete_session(selected: Client, stored: str) -> None:
    response = selected.post(f"/studio/sessions/{stored}/delete/", follow=True)
    assert b"deleted" in response.content
    assert [s.id for s in response.context["sessions"]] == ["s-ann"]
