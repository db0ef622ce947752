"""JSON for the task domain types of `agents.tasks`: how rows store them and the bus carries them.

This is storage and transport JSON, not the A2A wire format (`apps.a2a_server` renders that, per
protocol version). Parts go through `agents.content.part_to_json` / `part_from_json`, the one part
serialiser every store uses. Keys are snake_case and always present, so decoding needs no guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, assert_never

from agents.content import part_from_json, part_to_json
from agents.tasks import (
    ArtifactUpdate,
    PushConfig,
    StatusUpdate,
    Task,
    TaskArtifact,
    TaskMessage,
    TaskStatus,
    TaskUpdate,
)

JSON = dict[str, Any]


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def message_to_json(message: TaskMessage) -> JSON:
    return {
        "message_id": message.message_id,
        "role": message.role,
        "parts": [part_to_json(part) for part in message.parts],
        "context_id": message.context_id,
        "task_id": message.task_id,
        "reference_task_ids": list(message.reference_task_ids),
        "metadata": dict(message.metadata),
        "extensions": list(message.extensions),
    }


def message_from_json(body: Mapping[str, Any]) -> TaskMessage:
    return TaskMessage(
        message_id=body["message_id"],
        role=body["role"],
        parts=tuple(part_from_json(part) for part in body.get("parts") or ()),
        context_id=body.get("context_id"),
        task_id=body.get("task_id"),
        reference_task_ids=tuple(body.get("reference_task_ids") or ()),
        metadata=body.get("metadata") or {},
        extensions=tuple(body.get("extensions") or ()),
    )


def artifact_to_json(artifact: TaskArtifact) -> JSON:
    return {
        "artifact_id": artifact.artifact_id,
        "name": artifact.name,
        "description": artifact.description,
        "parts": [part_to_json(part) for part in artifact.parts],
        "metadata": dict(artifact.metadata),
    }


def artifact_from_json(body: Mapping[str, Any]) -> TaskArtifact:
    return TaskArtifact(
        artifact_id=body["artifact_id"],
        name=body.get("name"),
        description=body.get("description"),
        parts=tuple(part_from_json(part) for part in body.get("parts") or ()),
        metadata=body.get("metadata") or {},
    )


def status_to_json(status: TaskStatus) -> JSON:
    return {
        "state": status.state,
        "timestamp": status.timestamp.isoformat(),
        "message": message_to_json(status.message) if status.message is not None else None,
    }


def status_from_json(body: Mapping[str, Any]) -> TaskStatus:
    message = body.get("message")
    timestamp = _parse_time(body["timestamp"])
    assert timestamp is not None
    return TaskStatus(
        state=body["state"],
        timestamp=timestamp,
        message=message_from_json(message) if message else None,
    )


def task_to_json(task: Task) -> JSON:
    return {
        "kind": "task",
        "id": task.id,
        "context_id": task.context_id,
        "agent": task.agent,
        "user_id": task.user_id,
        "status": status_to_json(task.status),
        "history": [message_to_json(message) for message in task.history],
        "artifacts": [artifact_to_json(artifact) for artifact in task.artifacts],
        "metadata": dict(task.metadata),
        "created_at": _time(task.created_at),
        "updated_at": _time(task.updated_at),
    }


def task_from_json(body: Mapping[str, Any]) -> Task:
    return Task(
        id=body["id"],
        context_id=body["context_id"],
        agent=body["agent"],
        user_id=body["user_id"],
        status=status_from_json(body["status"]),
        history=tuple(message_from_json(m) for m in body.get("history") or ()),
        artifacts=tuple(artifact_from_json(a) for a in body.get("artifacts") or ()),
        metadata=body.get("metadata") or {},
        created_at=_parse_time(body.get("created_at")),
        updated_at=_parse_time(body.get("updated_at")),
    )


def update_to_json(update: TaskUpdate) -> JSON:
    """Any stream item, tagged with `kind` so `update_from_json` knows what to build."""
    match update:
        case Task():
            return task_to_json(update)
        case StatusUpdate():
            return {
                "kind": update.kind,
                "task_id": update.task_id,
                "context_id": update.context_id,
                "status": status_to_json(update.status),
                "final": update.final,
                "metadata": dict(update.metadata),
            }
        case ArtifactUpdate():
            return {
                "kind": update.kind,
                "task_id": update.task_id,
                "context_id": update.context_id,
                "artifact": artifact_to_json(update.artifact),
                "append": update.append,
                "last_chunk": update.last_chunk,
                "metadata": dict(update.metadata),
            }
        case _:
            assert_never(update)


def update_from_json(body: Mapping[str, Any]) -> TaskUpdate:
    kind = body.get("kind")
    if kind == "task":
        return task_from_json(body)
    if kind == "status-update":
        return StatusUpdate(
            task_id=body["task_id"],
            context_id=body["context_id"],
            status=status_from_json(body["status"]),
            final=bool(body.get("final")),
            metadata=body.get("metadata") or {},
        )
    if kind == "artifact-update":
        return ArtifactUpdate(
            task_id=body["task_id"],
            context_id=body["context_id"],
            artifact=artifact_from_json(body["artifact"]),
            append=bool(body.get("append")),
            last_chunk=bool(body.get("last_chunk")),
            metadata=body.get("metadata") or {},
        )
    raise ValueError(f"unknown task update kind: {kind!r}")


def push_config_to_json(config: PushConfig) -> JSON:
    return {
        "id": config.id,
        "task_id": config.task_id,
        "url": config.url,
        "token": config.token,
        "authentication": dict(config.authentication) if config.authentication else None,
        "wire_version": config.wire_version,
    }


def push_config_from_json(body: Mapping[str, Any]) -> PushConfig:
    return PushConfig(
        id=body["id"],
        task_id=body["task_id"],
        url=body["url"],
        token=body.get("token"),
        authentication=body.get("authentication"),
        wire_version=body.get("wire_version") or "0.3",
    )
