"""A2A tasks as domain values, independent of wire versions (v0.3 / v1.0) and of storage.

`apps.tasks` stores and runs them (the Task row is the truth); `apps.a2a_server` renders them in
the wire format a client asked for. Message parts are `agents.content` parts: text, file and data
parts map to A2A parts one to one; thinking, tool calls and tool results travel as A2A `data`
parts tagged `metadata.hector_type` (the wire layer does that mapping).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from agents.content import Part

TaskState = Literal[
    "submitted",
    "working",
    "input-required",
    "auth-required",
    "completed",
    "canceled",
    "failed",
    "rejected",
    "unknown",
]
TERMINAL_STATES: frozenset[str] = frozenset({"completed", "canceled", "failed", "rejected"})
INTERRUPTED_STATES: frozenset[str] = frozenset({"input-required", "auth-required"})
# A blocking send returns, and a stream ends, at any of these.
FINAL_STATES: frozenset[str] = TERMINAL_STATES | INTERRUPTED_STATES


@dataclass(frozen=True, slots=True)
class TaskMessage:
    message_id: str
    role: Literal["user", "agent"]
    parts: tuple[Part, ...]
    context_id: str | None = None
    task_id: str | None = None
    reference_task_ids: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    extensions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskArtifact:
    artifact_id: str
    parts: tuple[Part, ...]
    name: str | None = None
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskStatus:
    state: TaskState
    timestamp: datetime
    message: TaskMessage | None = None


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    context_id: str
    agent: str
    user_id: str
    status: TaskStatus
    history: tuple[TaskMessage, ...] = ()
    artifacts: tuple[TaskArtifact, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status.state in TERMINAL_STATES

    @property
    def is_final(self) -> bool:
        return self.status.state in FINAL_STATES


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """The task moved to `status`; `final` on the last update a stream will carry."""

    task_id: str
    context_id: str
    status: TaskStatus
    final: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["status-update"] = "status-update"


@dataclass(frozen=True, slots=True)
class ArtifactUpdate:
    """Artifact content: text deltas arrive as `append=True` chunks of artifact `response`."""

    task_id: str
    context_id: str
    artifact: TaskArtifact
    append: bool = False
    last_chunk: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["artifact-update"] = "artifact-update"


TaskUpdate = Task | StatusUpdate | ArtifactUpdate
"""What a stream carries: the Task first, then updates in order, ending with a final update."""


@dataclass(frozen=True, slots=True)
class PushConfig:
    """Where to POST a task on state changes (A2A push notifications)."""

    id: str
    task_id: str
    url: str
    token: str | None = None
    authentication: Mapping[str, Any] | None = None  # {"schemes": [...], "credentials": ...}
    wire_version: Literal["0.3", "1.0"] = "0.3"  # the version that created it: POSTs use it


@dataclass(frozen=True, slots=True)
class TaskPage:
    tasks: tuple[Task, ...]
    next_page_token: str
    total_size: int


# --- Errors (the wire layer maps each to its JSON-RPC code) -----------------------------------


class TaskError(Exception):
    code = -32603

    def __init__(self, message: str, *, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = dict(data or {})


class TaskNotFound(TaskError):
    code = -32001

    def __init__(self, task_id: str) -> None:
        super().__init__("Task not found", data={"taskId": task_id})


class TaskNotCancelable(TaskError):
    code = -32002

    def __init__(self, task_id: str, state: str) -> None:
        super().__init__("Task cannot be canceled", data={"taskId": task_id, "state": state})


class PushNotificationNotSupported(TaskError):
    code = -32003


class UnsupportedOperation(TaskError):
    """e.g. continuing a terminal task (`data.reason="task_terminal"`), a busy session."""

    code = -32004


class ContentTypeNotSupported(TaskError):
    code = -32005


class InvalidParams(TaskError):
    """Bad request parameters; `data.fields` names them."""

    code = -32602
