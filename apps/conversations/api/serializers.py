"""Shapes of the sessions Admin API (SPEC 3.3).

The `*_json` functions render; the serializers below only document the same shapes for the
OpenAPI schema (building thousands of events through DRF field machinery costs several times more).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework import serializers

from agents.content import part_to_json
from agents.sessions import Event, Session
from apps.conversations.services import SessionDetail


def rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def session_json(session: Session, *, app_name: str) -> dict[str, Any]:
    return {
        "id": session.id,
        "app_name": app_name,
        "user_id": session.user_id,
        "agent": session.agent,
        "last_update": rfc3339(session.updated_at),
        "event_count": session.event_count,
    }


def event_json(event: Event) -> dict[str, Any]:
    """SPEC's Event: `transfer_to_agent`, `escalate` and `branch` appear only when they say
    something."""
    actions: dict[str, Any] = {
        "state_delta": dict(event.actions.state_delta),
        "artifact_delta": dict(event.actions.artifact_delta),
    }
    if event.actions.transfer_to_agent:
        actions["transfer_to_agent"] = event.actions.transfer_to_agent
    if event.actions.escalate:
        actions["escalate"] = True
    body = {
        "id": event.id,
        "invocation_id": event.invocation_id,
        "author": event.author,
        "role": event.role,
        "content": {"parts": [part_to_json(part) for part in event.parts]},
        "actions": actions,
        "partial": event.partial,
        "timestamp": rfc3339(event.timestamp),
    }
    if event.branch:
        body["branch"] = event.branch
    return body


def session_detail_json(detail: SessionDetail, *, app_name: str) -> dict[str, Any]:
    return {
        **session_json(detail.session, app_name=app_name),
        "state": detail.state,
        "events": [event_json(event) for event in detail.events],
    }


class SessionSerializer(serializers.Serializer):
    id = serializers.CharField()
    app_name = serializers.CharField(help_text="The app's id.")
    user_id = serializers.CharField()
    agent = serializers.CharField()
    last_update = serializers.DateTimeField()
    event_count = serializers.IntegerField()


class SessionListSerializer(serializers.Serializer):
    sessions = SessionSerializer(many=True)
    next_page_token = serializers.CharField(help_text='"" on the last page')


class EventActionsSerializer(serializers.Serializer):
    state_delta = serializers.DictField()
    artifact_delta = serializers.DictField(child=serializers.IntegerField())
    transfer_to_agent = serializers.CharField(required=False)
    escalate = serializers.BooleanField(required=False)


class EventContentSerializer(serializers.Serializer):
    parts = serializers.ListField(child=serializers.DictField())


class EventSerializer(serializers.Serializer):
    id = serializers.CharField()
    invocation_id = serializers.CharField()
    author = serializers.CharField()
    role = serializers.ChoiceField(choices=["user", "agent"])
    content = EventContentSerializer()
    actions = EventActionsSerializer()
    partial = serializers.BooleanField()
    timestamp = serializers.DateTimeField()
    branch = serializers.CharField(required=False, help_text="parent.child for a child's run.")


class SessionDetailSerializer(SessionSerializer):
    state = serializers.DictField(help_text="Session-scoped state: the fold of the events' deltas.")
    events = EventSerializer(many=True)
