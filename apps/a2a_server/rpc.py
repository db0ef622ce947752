"""JSON-RPC 2.0 for A2A: the envelope, version selection and one handler per method (SPEC 7.2-7.3).

Handlers parse params (`wire`), call the task service, and render the result in the selected
version. They return either a JSON-able result or, for the streaming methods, a `Stream` the view
turns into SSE frames. Errors are `TaskError`s (the service's and the parser's) or `RpcError`s
(envelope problems), each carrying its JSON-RPC code; error objects hold only code, message
and data (SPEC 7.10).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from agents.content import FilePart
from agents.tasks import (
    ContentTypeNotSupported,
    PushConfig,
    Task,
    TaskError,
    TaskPage,
    TaskUpdate,
)
from apps.a2a_server import wire
from apps.a2a_server.catalog import AgentInfo
from apps.a2a_server.wire import V03, V10, Version

logger = logging.getLogger(__name__)

RpcId = str | int | None

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
CONTENT_TYPE_NOT_SUPPORTED = -32005
VERSION_NOT_SUPPORTED = -32009

SUPPORTED_VERSIONS = ("0.3", "1.0")


class RpcError(Exception):
    """An error of the JSON-RPC layer itself (envelope, method, version)."""

    def __init__(self, code: int, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = dict(data) if data else None


def error_body(rpc_id: RpcId, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": rpc_id, "error": error}


def error_for(rpc_id: RpcId, exc: Exception) -> dict[str, Any]:
    """The JSON-RPC error of any exception; unknown ones are logged and never leaked."""
    if isinstance(exc, TaskError | RpcError):
        return error_body(rpc_id, exc.code, exc.message, exc.data)
    logger.error("a2a internal error id=%s", rpc_id, exc_info=exc)
    return error_body(rpc_id, INTERNAL_ERROR, "Internal error")


def result_body(rpc_id: RpcId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rpc_id, "result": result}


# --- Envelope -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    rpc_id: RpcId
    method: str
    params: dict[str, Any]


def request_id(body: Any) -> RpcId:
    """The id to echo, when the body has a usable one (else null, as JSON-RPC says)."""
    if isinstance(body, dict):
        value = body.get("id")
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return value
    return None


def parse_envelope(body: Any) -> Envelope:
    if isinstance(body, list):
        raise RpcError(INVALID_REQUEST, "Batch requests are not supported")
    if not isinstance(body, dict):
        raise RpcError(INVALID_REQUEST, "Invalid Request: expected a JSON-RPC 2.0 request object")
    if body.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "Invalid Request: 'jsonrpc' must be exactly '2.0'")
    raw_id = body.get("id")
    if raw_id is not None and request_id(body) is None:
        raise RpcError(INVALID_REQUEST, "Invalid Request: id must be a string, integer or null")
    method = body.get("method")
    if not isinstance(method, str) or not method:
        raise RpcError(INVALID_REQUEST, "Invalid Request: 'method' is required")
    params = body.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RpcError(
            INVALID_PARAMS, "Invalid params: params must be an object", {"fields": ["params"]}
        )
    return Envelope(raw_id, method, params)


def header_version(header: str | None) -> Version | None:
    """`A2A-Version` header -> version; None when absent or empty. Patch levels are ignored."""
    value = (header or "").strip()
    if not value:
        return None
    major_minor = ".".join(value.split(".")[:2])
    if major_minor in ("1.0", "1"):
        return V10
    if major_minor == "0.3":
        return V03
    raise RpcError(
        VERSION_NOT_SUPPORTED,
        f"A2A version {value!r} is not supported",
        {"version": value, "supported": list(SUPPORTED_VERSIONS)},
    )


def select_version(header: Version | None, method: str) -> Version:
    """SPEC 7.2: v1.0 for the header `1.0` or a v1.0 method name; v0.3 otherwise."""
    if header == V10 or method in V10_METHODS:
        return V10
    return V03


# --- Handlers -----------------------------------------------------------------------------------


class TaskServiceLike(Protocol):
    """The part of `apps.tasks.service.TaskService` the A2A layer calls."""

    async def send(self, **kwargs: Any) -> Task: ...
    def stream(self, **kwargs: Any) -> AsyncIterator[TaskUpdate]: ...
    async def get(self, task_id: str, **kwargs: Any) -> Task: ...
    async def list(self, **kwargs: Any) -> TaskPage: ...
    async def cancel(self, task_id: str, **kwargs: Any) -> Task: ...
    def subscribe(self, task_id: str, **kwargs: Any) -> AsyncIterator[TaskUpdate]: ...
    async def set_push_config(self, task_id: str, config: PushConfig, **kwargs: Any) -> Any: ...
    async def get_push_config(
        self, task_id: str, config_id: str | None = None, **kwargs: Any
    ) -> PushConfig: ...
    async def list_push_configs(self, task_id: str, **kwargs: Any) -> Any: ...
    async def delete_push_config(self, task_id: str, config_id: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Call:
    """One JSON-RPC call to one agent, with everything a handler needs."""

    service: TaskServiceLike
    agent: AgentInfo
    user_id: str
    version: Version
    rpc_id: RpcId
    params: dict[str, Any]
    extended_card: Callable[[Version], dict[str, Any]]
    is_authenticated: bool


@dataclass(frozen=True, slots=True)
class Stream:
    """A streaming answer: `first` already pulled (so upfront errors can still be plain JSON),
    then the rest. `resubscribe` streams always answer SSE, errors included."""

    events: AsyncIterator[TaskUpdate]
    first: TaskUpdate | None
    include_thinking: bool = False


class Unauthenticated(Exception):
    """The method needs a token the caller did not present (HTTP 401)."""


Handler = Callable[[Call], Awaitable[Any]]


def _check_input_modes(agent: AgentInfo, params: wire.SendParams) -> None:
    """SPEC 7.9: a file part whose MIME type the agent does not take -> -32005."""
    accepted = agent.input_modes
    if "*/*" in accepted or "*" in accepted:
        return
    for index, part in enumerate(params.message.parts):
        if not isinstance(part, FilePart):
            continue
        mime = part.mime_type.split(";")[0].strip().lower()
        family = mime.split("/")[0] + "/*"
        if mime in accepted or family in accepted:
            continue
        raise ContentTypeNotSupported(
            f"Content type {mime} is not supported by agent {agent.name!r} "
            f"(input modes: {', '.join(accepted)})",
            data={"fields": [f"params.message.parts[{index}]"], "mimeType": mime},
        )


def _send_kwargs(call: Call, params: wire.SendParams) -> dict[str, Any]:
    return {
        "agent": call.agent.name,
        "user_id": call.user_id,
        "message": params.message,
        "blocking": params.blocking,
        "history_length": params.history_length,
        "push_config": params.push_config,
        "metadata": dict(params.metadata),
        "wire_version": call.version,
    }


async def send_message(call: Call) -> Any:
    params = wire.parse_send_params(call.params, call.version)
    _check_input_modes(call.agent, params)
    task = await call.service.send(**_send_kwargs(call, params))
    return wire.send_result_json(task, call.version, include_thinking=params.include_thinking)


async def stream_message(call: Call) -> Stream:
    params = wire.parse_send_params(call.params, call.version)
    _check_input_modes(call.agent, params)
    events = call.service.stream(**_send_kwargs(call, params))
    try:
        first = await anext(events)
    except StopAsyncIteration:
        first = None
    except BaseException:
        await _close(events)
        raise
    return Stream(events, first, include_thinking=params.include_thinking)


async def _close(events: AsyncIterator[Any]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


async def get_task(call: Call) -> Any:
    task_id = wire.required_str(call.params, "id")
    history_length = wire.optional_int(call.params, "historyLength")
    task = await call.service.get(task_id, user_id=call.user_id, history_length=history_length)
    return wire.task_json(task, call.version)


async def list_tasks(call: Call) -> Any:
    params = wire.parse_list_params(call.params)
    page = await call.service.list(
        user_id=call.user_id,
        context_id=params.context_id,
        state=params.state,
        page_size=params.page_size,
        page_token=params.page_token,
        history_length=params.history_length,
        include_artifacts=params.include_artifacts,
        last_updated_after=params.last_updated_after,
    )
    return wire.task_page_json(page, call.version, include_artifacts=params.include_artifacts)


async def cancel_task(call: Call) -> Any:
    task_id = wire.required_str(call.params, "id")
    task = await call.service.cancel(task_id, user_id=call.user_id)
    return wire.task_json(task, call.version)


async def resubscribe(call: Call) -> Stream:
    """Always a stream: an unknown task becomes one SSE frame carrying -32001 (SPEC 7.10)."""
    task_id = wire.required_str(call.params, "id")
    return Stream(call.service.subscribe(task_id, user_id=call.user_id), None)


def _push_ids(params: Mapping[str, Any]) -> tuple[str, str | None]:
    """(task id, config id): v1.0 names them `taskId` + `id`, v0.3 `id` +
    `pushNotificationConfigId`."""
    if params.get("taskId") not in (None, ""):
        task_id = wire.required_str(params, "taskId")
        config_id = wire.optional_str(params, "id") or wire.optional_str(
            params, "pushNotificationConfigId"
        )
        return task_id, config_id
    return wire.required_str(params, "id"), wire.optional_str(params, "pushNotificationConfigId")


async def set_push_config(call: Call) -> Any:
    params = call.params
    task_id = wire.required_str(params, "taskId")
    if params.get("pushNotificationConfig") is not None:  # v0.3 nests it; v1.0 is flat
        raw, path = params["pushNotificationConfig"], "params.pushNotificationConfig"
    else:
        raw, path = params, "params"
    config = wire.parse_push_config(raw, task_id=task_id, version=call.version, path=path)
    stored = await call.service.set_push_config(task_id, config, user_id=call.user_id)
    return wire.push_config_json(stored if isinstance(stored, PushConfig) else config, call.version)


async def get_push_config(call: Call) -> Any:
    task_id, config_id = _push_ids(call.params)
    config = await call.service.get_push_config(task_id, config_id, user_id=call.user_id)
    return wire.push_config_json(config, call.version)


async def list_push_configs(call: Call) -> Any:
    task_id, _ = _push_ids(call.params)
    configs = [
        wire.push_config_json(config, call.version)
        for config in await call.service.list_push_configs(task_id, user_id=call.user_id)
    ]
    return configs if call.version == V03 else {"configs": configs}


async def delete_push_config(call: Call) -> Any:
    task_id, config_id = _push_ids(call.params)
    if config_id is None:
        field = "params.id" if call.params.get("taskId") else "params.pushNotificationConfigId"
        raise wire.invalid(field, "is required")
    await call.service.delete_push_config(task_id, config_id, user_id=call.user_id)
    return None


async def extended_card(call: Call) -> Any:
    """SPEC 7.3: the authenticated card; anonymous callers get HTTP 401."""
    if not call.is_authenticated:
        raise Unauthenticated
    return call.extended_card(call.version)


V03_METHODS: dict[str, Handler] = {
    "message/send": send_message,
    "message/stream": stream_message,
    "tasks/get": get_task,
    "tasks/list": list_tasks,
    "tasks/cancel": cancel_task,
    "tasks/resubscribe": resubscribe,
    "tasks/pushNotificationConfig/set": set_push_config,
    "tasks/pushNotificationConfig/get": get_push_config,
    "tasks/pushNotificationConfig/list": list_push_configs,
    "tasks/pushNotificationConfig/delete": delete_push_config,
    "agent/getAuthenticatedExtendedCard": extended_card,
    # Upstream docs' spellings, accepted as deprecated aliases (SPEC 17.12).
    "message:send": send_message,
    "message:stream": stream_message,
}
V10_METHODS: dict[str, Handler] = {
    "SendMessage": send_message,
    "SendStreamingMessage": stream_message,
    "GetTask": get_task,
    "ListTasks": list_tasks,
    "CancelTask": cancel_task,
    "SubscribeToTask": resubscribe,
    "CreateTaskPushNotificationConfig": set_push_config,
    "GetTaskPushNotificationConfig": get_push_config,
    "ListTaskPushNotificationConfigs": list_push_configs,
    "DeleteTaskPushNotificationConfig": delete_push_config,
    "GetExtendedAgentCard": extended_card,
}
METHODS: dict[str, Handler] = {**V03_METHODS, **V10_METHODS}
SUBSCRIBE_METHODS = frozenset({"tasks/resubscribe", "SubscribeToTask"})


def handler_for(method: str) -> Handler:
    handler = METHODS.get(method)
    if handler is None:
        raise RpcError(METHOD_NOT_FOUND, "Method not found", {"method": method})
    return handler
