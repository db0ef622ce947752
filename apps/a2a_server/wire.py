"""A2A wire formats (v0.3 and v1.0 JSON) <-> the domain types of `agents.tasks` (SPEC 7.5).

Parsing accepts both versions' shapes whatever version the request selected: a part with `kind`
is v0.3, one without is v1.0; roles and states are read in either spelling. Every problem names
the offending field (`params.message.parts[0].kind`) in `InvalidParams.data["fields"]`.

Rendering builds plain dicts by hand: going through the SDK's pydantic models or protobuf
messages costs several times more per event on the hot path. The tests validate every shape
against the a2a-sdk types (v0.3 pydantic models, v1.0 protobuf `ParseDict` without unknown
fields) and against the SDK's own v0.3 -> v1.0 conversions, so the two cannot drift.

Thinking, tool calls and tool results have no A2A part of their own: they travel as `data` parts
tagged `hector_type` (in the part's `metadata`, and inside `data` like the approval requests the
runtime emits). Thinking is dropped unless the caller asked for it (`include_thinking`, SPEC 4.5).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from agents.content import (
    DataPart,
    FilePart,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from agents.tasks import (
    ArtifactUpdate,
    InvalidParams,
    PushConfig,
    StatusUpdate,
    Task,
    TaskArtifact,
    TaskMessage,
    TaskPage,
    TaskStatus,
    TaskUpdate,
)

__all__ = [
    "V03",
    "V10",
    "ListParams",
    "SendParams",
    "Version",
    "artifact_json",
    "dumps",
    "event_json",
    "invalid",
    "message_json",
    "optional_int",
    "optional_str",
    "parse_list_params",
    "parse_message",
    "parse_part",
    "parse_push_config",
    "parse_send_params",
    "parse_state",
    "part_json",
    "push_config_json",
    "required_str",
    "send_result_json",
    "task_json",
    "task_page_json",
    "timestamp_json",
]

Version = Literal["0.3", "1.0"]
V03: Version = "0.3"
V10: Version = "1.0"

STATE_V10: dict[str, str] = {
    "submitted": "TASK_STATE_SUBMITTED",
    "working": "TASK_STATE_WORKING",
    "input-required": "TASK_STATE_INPUT_REQUIRED",
    "auth-required": "TASK_STATE_AUTH_REQUIRED",
    "completed": "TASK_STATE_COMPLETED",
    "canceled": "TASK_STATE_CANCELED",
    "failed": "TASK_STATE_FAILED",
    "rejected": "TASK_STATE_REJECTED",
    "unknown": "TASK_STATE_UNSPECIFIED",
}
_STATE_FROM_WIRE: dict[str, str] = {
    **{wire: state for state, wire in STATE_V10.items()},
    **{state: state for state in STATE_V10},
}
ROLE_V10: dict[str, str] = {"user": "ROLE_USER", "agent": "ROLE_AGENT"}
_ROLE_FROM_WIRE: dict[str, str] = {"user": "user", "agent": "agent"} | {
    wire: role for role, wire in ROLE_V10.items()
}

HECTOR_TYPE = "hector_type"
DEFAULT_FILE_MIME = "application/octet-stream"
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50


def dumps(value: Any) -> bytes:
    """Compact JSON bytes: what every response and SSE frame is written with."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()


# --- Errors -------------------------------------------------------------------------------------


def invalid(path: str, problem: str) -> InvalidParams:
    return InvalidParams(f"Invalid params: {path} {problem}", data={"fields": [path]})


def _str(raw: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise invalid(f"{path}.{key}", "is required")
        return None
    if not isinstance(value, str):
        raise invalid(f"{path}.{key}", "must be a string")
    return value


def _object(raw: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"{path}.{key}", "must be an object")
    return value


def _str_list(raw: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid(f"{path}.{key}", "must be a list of strings")
    return tuple(value)


def _int(raw: Mapping[str, Any], key: str, path: str, *, minimum: int = 0) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():  # proto JSON may quote integers
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise invalid(f"{path}.{key}", f"must be an integer >= {minimum}")
    return value


def _bool(raw: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(f"{path}.{key}", "must be a boolean")
    return value


# --- Parsing ------------------------------------------------------------------------------------


def _b64decode(value: Any, path: str) -> bytes:
    if not isinstance(value, str):
        raise invalid(path, "must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:  # proto JSON also allows the URL-safe alphabet and missing padding
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise invalid(path, "is not valid base64") from None


def _file_v03(raw: Mapping[str, Any], path: str) -> FilePart:
    file = raw.get("file")
    if not isinstance(file, dict):
        raise invalid(f"{path}.file", "is required (an object with bytes or uri)")
    mime = _str(file, "mimeType", f"{path}.file") or DEFAULT_FILE_MIME
    name = _str(file, "name", f"{path}.file")
    if file.get("bytes") is not None:
        return FilePart(mime, data=_b64decode(file["bytes"], f"{path}.file.bytes"), name=name)
    uri = _str(file, "uri", f"{path}.file")
    if uri is None:
        raise invalid(f"{path}.file", "needs bytes or uri")
    return FilePart(mime, uri=uri, name=name)


def _text(raw: Mapping[str, Any], path: str) -> TextPart:
    text = raw.get("text")
    if not isinstance(text, str):
        raise invalid(f"{path}.text", "must be a string")
    return TextPart(text)


def _data(raw: Mapping[str, Any], path: str, *, any_json: bool) -> DataPart:
    data = raw.get("data")
    if isinstance(data, dict):
        return DataPart(data)
    if any_json and data is not None:  # v1.0 `data` is any JSON value; domain data is an object
        return DataPart({"value": data})
    raise invalid(f"{path}.data", "must be an object")


def parse_part(raw: Any, path: str) -> Part:
    """One A2A part of either version. Data parts stay data parts, `hector_type` or not: a
    client never injects thinking or tool calls into a conversation."""
    if not isinstance(raw, dict):
        raise invalid(path, "must be an object")
    kind = raw.get("kind")
    if kind is not None:  # v0.3
        if kind == "text":
            return _text(raw, path)
        if kind == "file":
            return _file_v03(raw, path)
        if kind == "data":
            return _data(raw, path, any_json=False)
        raise invalid(f"{path}.kind", f"is not a known part kind ({kind!r}; text, file or data)")
    if "text" in raw:  # v1.0: exactly one of text / raw / url / data
        return _text(raw, path)
    mime = _str(raw, "mediaType", path) or DEFAULT_FILE_MIME
    if "raw" in raw:
        data = _b64decode(raw["raw"], f"{path}.raw")
        return FilePart(mime, data=data, name=_str(raw, "filename", path))
    if "url" in raw:
        url = _str(raw, "url", path, required=True)
        return FilePart(mime, uri=url, name=_str(raw, "filename", path))
    if "data" in raw:
        return _data(raw, path, any_json=True)
    if "file" in raw:  # a v0.3 file part that lost its `kind`
        return _file_v03(raw, path)
    raise invalid(path, "is not a known part kind (expected text, raw, url or data)")


def parse_message(raw: Any, path: str = "params.message") -> TaskMessage:
    if raw is None:
        raise invalid(path, "is required")
    if not isinstance(raw, dict):
        raise invalid(path, "must be an object")
    message_id = _str(raw, "messageId", path, required=True)
    wire_role = raw.get("role")
    if wire_role is None or wire_role == "":
        raise invalid(f"{path}.role", "is required")
    role = _ROLE_FROM_WIRE.get(wire_role) if isinstance(wire_role, str) else None
    if role is None:
        raise invalid(f"{path}.role", "must be user or agent (ROLE_USER or ROLE_AGENT)")
    parts = raw.get("parts")
    if parts is None:
        raise invalid(f"{path}.parts", "is required")
    if not isinstance(parts, list):
        raise invalid(f"{path}.parts", "must be a list")
    if not parts:
        raise invalid(f"{path}.parts", "must not be empty")
    return TaskMessage(
        message_id=message_id or "",
        role=role,  # type: ignore[arg-type]
        parts=tuple(parse_part(part, f"{path}.parts[{i}]") for i, part in enumerate(parts)),
        context_id=_str(raw, "contextId", path),
        task_id=_str(raw, "taskId", path),
        reference_task_ids=_str_list(raw, "referenceTaskIds", path),
        metadata=_object(raw, "metadata", path),
        extensions=_str_list(raw, "extensions", path),
    )


def parse_state(value: Any, path: str) -> str:
    state = _STATE_FROM_WIRE.get(value) if isinstance(value, str) else None
    if state is None:
        raise invalid(path, f"is not a known task state ({value!r})")
    return state


def parse_push_config(raw: Any, *, task_id: str, version: Version, path: str) -> PushConfig:
    """A push config in v0.3 (`authentication.schemes`) or v1.0 (`authentication.scheme`) shape.
    An absent id gets a fresh one: a task may carry several configs."""
    if not isinstance(raw, dict):
        raise invalid(path, "is required (an object with url)")
    url = _str(raw, "url", path, required=True) or ""
    if not url.startswith(("http://", "https://")):
        raise invalid(f"{path}.url", "must be an http(s) URL")
    authentication: dict[str, Any] | None = None
    auth = _object(raw, "authentication", path)
    if auth:
        schemes = list(_str_list(auth, "schemes", f"{path}.authentication"))
        scheme = _str(auth, "scheme", f"{path}.authentication")
        if scheme and scheme not in schemes:
            schemes.append(scheme)
        authentication = {"schemes": schemes}
        credentials = _str(auth, "credentials", f"{path}.authentication")
        if credentials is not None:
            authentication["credentials"] = credentials
    return PushConfig(
        id=_str(raw, "id", path) or uuid.uuid4().hex,
        task_id=task_id,
        url=url,
        token=_str(raw, "token", path),
        authentication=authentication,
        wire_version=version,
    )


@dataclass(frozen=True, slots=True)
class SendParams:
    message: TaskMessage
    blocking: bool = True
    history_length: int | None = None
    push_config: PushConfig | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    accepted_output_modes: tuple[str, ...] = ()

    @property
    def include_thinking(self) -> bool:
        """SPEC 4.5: thinking reaches A2A clients only when asked for, in either metadata."""
        return (
            self.metadata.get("include_thinking") is True
            or self.message.metadata.get("include_thinking") is True
        )


def parse_send_params(params: Mapping[str, Any], version: Version) -> SendParams:
    """`message/send` / `SendMessage` params. Blocking unless v0.3 `blocking: false` or v1.0
    `returnImmediately: true` (either key is read in either version)."""
    message = parse_message(params.get("message"))
    config = _object(params, "configuration", "params")
    path = "params.configuration"
    blocking = _bool(config, "blocking", path)
    return_immediately = _bool(config, "returnImmediately", path)
    if return_immediately is not None:
        blocking = not return_immediately
    push_config = None
    for key in ("pushNotificationConfig", "taskPushNotificationConfig"):
        if config.get(key) is not None:
            push_config = parse_push_config(
                config[key], task_id=message.task_id or "", version=version, path=f"{path}.{key}"
            )
            break
    return SendParams(
        message=message,
        blocking=True if blocking is None else blocking,
        history_length=_int(config, "historyLength", path),
        push_config=push_config,
        metadata=_object(params, "metadata", "params"),
        accepted_output_modes=_str_list(config, "acceptedOutputModes", path),
    )


@dataclass(frozen=True, slots=True)
class ListParams:
    context_id: str | None = None
    state: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    page_token: str | None = None
    history_length: int | None = None
    include_artifacts: bool = False
    last_updated_after: datetime | None = None


def _instant(value: Any, path: str) -> datetime | None:
    """Milliseconds since the epoch (v0.3 drafts) or an RFC 3339 timestamp (v1.0)."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise invalid(path, "must be an RFC 3339 timestamp or milliseconds since the epoch")


def parse_list_params(params: Mapping[str, Any]) -> ListParams:
    status = params.get("status")
    page_size = _int(params, "pageSize", "params", minimum=1)
    if page_size is not None and page_size > MAX_PAGE_SIZE:
        raise invalid("params.pageSize", f"must be at most {MAX_PAGE_SIZE}")
    after_key = "statusTimestampAfter" if "statusTimestampAfter" in params else "lastUpdatedAfter"
    return ListParams(
        context_id=_str(params, "contextId", "params"),
        state=None if status in (None, "") else parse_state(status, "params.status"),
        page_size=page_size or DEFAULT_PAGE_SIZE,
        page_token=_str(params, "pageToken", "params"),
        history_length=_int(params, "historyLength", "params"),
        include_artifacts=bool(_bool(params, "includeArtifacts", "params")),
        last_updated_after=_instant(params.get(after_key), f"params.{after_key}"),
    )


def required_str(params: Mapping[str, Any], key: str, path: str = "params") -> str:
    return _str(params, key, path, required=True) or ""


def optional_str(params: Mapping[str, Any], key: str, path: str = "params") -> str | None:
    return _str(params, key, path)


def optional_int(params: Mapping[str, Any], key: str, path: str = "params") -> int | None:
    return _int(params, key, path)


# --- Rendering ----------------------------------------------------------------------------------


def timestamp_json(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, fractions as protobuf prints them (none, 3 or 6 digits)."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    micros = utc.microsecond
    spec = "seconds" if micros == 0 else "milliseconds" if micros % 1000 == 0 else "microseconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _hector_data(kind: str, data: dict[str, Any], v03: bool) -> dict[str, Any]:
    body = {"data": {HECTOR_TYPE: kind, **data}, "metadata": {HECTOR_TYPE: kind}}
    return {"kind": "data", **body} if v03 else body


def _b64(data: bytes | None) -> str:
    return base64.b64encode(data or b"").decode("ascii")


def part_json(part: Part, version: Version) -> dict[str, Any]:
    v03 = version == V03
    match part:
        case TextPart(text=text):
            return {"kind": "text", "text": text} if v03 else {"text": text}
        case DataPart(data=data):
            return {"kind": "data", "data": dict(data)} if v03 else {"data": dict(data)}
        case FilePart(mime_type=mime, data=data, uri=uri, name=name):
            if v03:
                file: dict[str, Any] = {"uri": uri} if uri is not None else {"bytes": _b64(data)}
                file["mimeType"] = mime
                if name:
                    file["name"] = name
                return {"kind": "file", "file": file}
            body: dict[str, Any] = {"url": uri} if uri is not None else {"raw": _b64(data)}
            body["mediaType"] = mime
            if name:
                body["filename"] = name
            return body
        case ThinkingPart(text=text):
            return _hector_data("thinking", {"text": text}, v03)
        case ToolCallPart(call_id=call_id, name=name, arguments=arguments):
            return _hector_data(
                "tool_call",
                {"call_id": call_id, "name": name, "arguments": dict(arguments)},
                v03,
            )
        case ToolResultPart(call_id=call_id, name=name, content=content, is_error=is_error):
            return _hector_data(
                "tool_result",
                {"call_id": call_id, "name": name, "content": content, "is_error": is_error},
                v03,
            )
    raise TypeError(f"not a content part: {part!r}")


def _parts(parts: Iterable[Part], version: Version, include_thinking: bool) -> list[dict[str, Any]]:
    return [
        part_json(part, version)
        for part in parts
        if include_thinking or not isinstance(part, ThinkingPart)
    ]


def message_json(
    message: TaskMessage, version: Version, *, include_thinking: bool = False
) -> dict[str, Any]:
    v03 = version == V03
    body: dict[str, Any] = {"kind": "message"} if v03 else {}
    body["messageId"] = message.message_id
    body["role"] = message.role if v03 else ROLE_V10[message.role]
    body["parts"] = _parts(message.parts, version, include_thinking)
    if message.context_id:
        body["contextId"] = message.context_id
    if message.task_id:
        body["taskId"] = message.task_id
    if message.reference_task_ids:
        body["referenceTaskIds"] = list(message.reference_task_ids)
    if message.metadata:
        body["metadata"] = dict(message.metadata)
    if message.extensions:
        body["extensions"] = list(message.extensions)
    return body


def status_json(
    status: TaskStatus, version: Version, *, include_thinking: bool = False
) -> dict[str, Any]:
    body: dict[str, Any] = {"state": status.state if version == V03 else STATE_V10[status.state]}
    if status.message is not None:
        message = message_json(status.message, version, include_thinking=include_thinking)
        if message["parts"] or not status.message.parts:
            body["message"] = message
    body["timestamp"] = timestamp_json(status.timestamp)
    return body


def artifact_json(
    artifact: TaskArtifact, version: Version, *, include_thinking: bool = False
) -> dict[str, Any]:
    body: dict[str, Any] = {"artifactId": artifact.artifact_id}
    if artifact.name:
        body["name"] = artifact.name
    if artifact.description:
        body["description"] = artifact.description
    body["parts"] = _parts(artifact.parts, version, include_thinking)
    if artifact.metadata:
        body["metadata"] = dict(artifact.metadata)
    return body


def task_json(
    task: Task,
    version: Version | str = V03,
    *,
    include_thinking: bool = False,
    include_artifacts: bool = True,
) -> dict[str, Any]:
    """The Task object of `version` ("0.3" or "1.0"): what tasks/get answers and push POSTs."""
    wire: Version = V10 if version.startswith("1") else V03
    body: dict[str, Any] = {"kind": "task"} if wire == V03 else {}
    body["id"] = task.id
    body["contextId"] = task.context_id
    body["status"] = status_json(task.status, wire, include_thinking=include_thinking)
    if include_artifacts and task.artifacts:
        body["artifacts"] = [
            artifact_json(a, wire, include_thinking=include_thinking) for a in task.artifacts
        ]
    if task.history:
        history = [
            message_json(m, wire, include_thinking=include_thinking)
            for m in task.history
            if include_thinking or not _only_thinking(m.parts)
        ]
        if history:
            body["history"] = history
    if task.metadata:
        body["metadata"] = dict(task.metadata)
    return body


def _only_thinking(parts: tuple[Part, ...]) -> bool:
    return bool(parts) and all(isinstance(part, ThinkingPart) for part in parts)


def send_result_json(task: Task, version: Version, *, include_thinking: bool = False) -> Any:
    """v0.3 answers the Task itself; v1.0 wraps it (`{"task": ...}`)."""
    body = task_json(task, version, include_thinking=include_thinking)
    return body if version == V03 else {"task": body}


def event_json(
    event: TaskUpdate, version: Version, *, include_thinking: bool = False
) -> dict[str, Any] | None:
    """One stream event; None for an event that carries only thinking the caller did not ask
    for (a final status update is always sent, without the thinking)."""
    v03 = version == V03
    match event:
        case Task():
            body = task_json(event, version, include_thinking=include_thinking)
            return body if v03 else {"task": body}
        case StatusUpdate():
            message = event.status.message
            if (
                not include_thinking
                and not event.final
                and message is not None
                and _only_thinking(message.parts)
            ):
                return None
            update: dict[str, Any] = {"kind": "status-update"} if v03 else {}
            update["taskId"] = event.task_id
            update["contextId"] = event.context_id
            update["status"] = status_json(event.status, version, include_thinking=include_thinking)
            if v03:
                update["final"] = event.final
            if event.metadata:
                update["metadata"] = dict(event.metadata)
            return update if v03 else {"statusUpdate": update}
        case ArtifactUpdate():
            if not include_thinking and _only_thinking(event.artifact.parts):
                return None
            update = {"kind": "artifact-update"} if v03 else {}
            update["taskId"] = event.task_id
            update["contextId"] = event.context_id
            update["artifact"] = artifact_json(
                event.artifact, version, include_thinking=include_thinking
            )
            update["append"] = event.append
            update["lastChunk"] = event.last_chunk
            if event.metadata:
                update["metadata"] = dict(event.metadata)
            return update if v03 else {"artifactUpdate": update}
    raise TypeError(f"not a task update: {event!r}")


def push_config_json(config: PushConfig, version: Version) -> dict[str, Any]:
    """v0.3 `TaskPushNotificationConfig` nests the config; v1.0 flattens it (one `scheme`)."""
    auth = config.authentication or None
    if version == V03:
        inner: dict[str, Any] = {"id": config.id, "url": config.url}
        if config.token:
            inner["token"] = config.token
        if auth is not None:
            inner["authentication"] = {"schemes": list(auth.get("schemes") or [])}
            if auth.get("credentials"):
                inner["authentication"]["credentials"] = auth["credentials"]
        return {"taskId": config.task_id, "pushNotificationConfig": inner}
    body: dict[str, Any] = {"id": config.id, "taskId": config.task_id, "url": config.url}
    if config.token:
        body["token"] = config.token
    if auth is not None:
        schemes = list(auth.get("schemes") or [])
        body["authentication"] = {"scheme": schemes[0] if schemes else ""}
        if auth.get("credentials"):
            body["authentication"]["credentials"] = auth["credentials"]
    return body


def task_page_json(
    page: TaskPage,
    version: Version,
    *,
    include_artifacts: bool = False,
    include_thinking: bool = False,
) -> dict[str, Any]:
    """SPEC 7.10: `pageSize` is the number of tasks in this page."""
    return {
        "tasks": [
            task_json(
                task,
                version,
                include_thinking=include_thinking,
                include_artifacts=include_artifacts,
            )
            for task in page.tasks
        ],
        "nextPageToken": page.next_page_token,
        "pageSize": len(page.tasks),
        "totalSize": page.total_size,
    }
