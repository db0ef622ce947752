"""Client for remote A2A agents (SPEC 7.7), speaking v1.0 or v0.3 as the agent card says.

The a2a-sdk does the wire work: `ClientFactory` builds its JSON-RPC transport for v1.0 or its
v0.3 compat transport, and this module only translates at the edge: domain `TaskMessage` in,
domain `Task` / `TaskUpdate` out, SDK exceptions to the typed `RemoteAgentError` family below, so
nothing above this file sees protobuf objects or SDK errors.

Every request (card, calls, streams) goes through an httpx client bound to the SSRF policy
(`tools.ssrf`): a card cannot point the client at an internal address unless that host is in
`allowed_hosts`. `timeout_s` bounds each call, and a whole stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from a2a.client import A2AClientError, A2AClientTimeoutError, Client, ClientConfig, ClientFactory
from a2a.client.card_resolver import parse_agent_card
from a2a.types import a2a_pb2 as pb
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH, VERSION_HEADER, TransportProtocol
from a2a.utils.errors import JSON_RPC_ERROR_CODE_MAP, A2AError
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct
from packaging.version import InvalidVersion, Version
from pydantic import ValidationError

from agents.content import (
    DataPart,
    FilePart,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from agents.errors import HectorError
from agents.tasks import (
    FINAL_STATES,
    ArtifactUpdate,
    StatusUpdate,
    Task,
    TaskArtifact,
    TaskMessage,
    TaskState,
    TaskStatus,
    TaskUpdate,
)
from tools.ssrf import ResponseTooLarge, SSRFPolicy, fetch

__all__ = [
    "A2AClient",
    "AgentCardError",
    "InvalidAgentResponse",
    "RemoteAgentError",
    "RemoteAgentTimeout",
    "RemoteAgentUnreachable",
    "RemoteInvalidParams",
    "RemoteTaskNotCancelable",
    "RemoteTaskNotFound",
    "RemoteUnsupportedOperation",
]

DEFAULT_TIMEOUT_S = 60.0
POLL_INITIAL_S = 1.0
POLL_MAX_S = 10.0
MAX_CARD_BYTES = 1024 * 1024
DEFAULT_FILE_MIME = "application/octet-stream"
HECTOR_TYPE = "hector_type"

WireVersion = Literal["0.3", "1.0"]


# --- errors ---------------------------------------------------------------------------------------


class RemoteAgentError(HectorError):
    """A remote agent call failed. `message` is the remote's own message where there is one;
    `rpc_code` the JSON-RPC error code it answered with (None when it never answered)."""

    code = "remote_agent_error"

    def __init__(
        self, message: str, *, rpc_code: int | None = None, data: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.rpc_code = rpc_code
        self.data = dict(data or {})


class RemoteTaskNotFound(RemoteAgentError):
    code = "remote_task_not_found"


class RemoteTaskNotCancelable(RemoteAgentError):
    code = "remote_task_not_cancelable"


class RemoteInvalidParams(RemoteAgentError):
    code = "remote_invalid_params"


class RemoteUnsupportedOperation(RemoteAgentError):
    code = "remote_unsupported_operation"


class InvalidAgentResponse(RemoteAgentError):
    """The remote answered something that is not a valid A2A response (SPEC 7.9: -32006)."""

    code = "invalid_agent_response"


class RemoteAgentTimeout(RemoteAgentError):
    code = "remote_agent_timeout"


class RemoteAgentUnreachable(RemoteAgentError):
    """No usable HTTP exchange: connection refused, reset, or an HTTP error status."""

    code = "remote_agent_unreachable"


class AgentCardError(RemoteAgentError):
    code = "agent_card_invalid"


_BY_RPC_CODE: dict[int, type[RemoteAgentError]] = {
    -32001: RemoteTaskNotFound,
    -32002: RemoteTaskNotCancelable,
    -32004: RemoteUnsupportedOperation,
    -32006: InvalidAgentResponse,
    -32602: RemoteInvalidParams,
}
# The SDK's v1.0 transport reports codes it has no class for only in its message text.
_UNKNOWN_CODE = re.compile(r"^JSON-RPC Error (-?\d+): (.*)$", re.DOTALL)


def _remote_error(code: int | None, message: str, data: Any = None) -> RemoteAgentError:
    cls = _BY_RPC_CODE.get(code, RemoteAgentError) if code is not None else RemoteAgentError
    return cls(message, rpc_code=code, data=data if isinstance(data, Mapping) else None)


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    """SDK and transport failures as `RemoteAgentError`s; SSRF refusals pass unchanged."""
    try:
        yield
    except RemoteAgentError:
        raise
    except A2AClientTimeoutError as exc:
        raise RemoteAgentTimeout(f"remote agent timed out during {what}") from exc
    except A2AClientError as exc:
        raise _client_error(exc, what) from exc
    except A2AError as exc:  # a JSON-RPC error the remote answered with
        code = JSON_RPC_ERROR_CODE_MAP.get(type(exc))
        raise _remote_error(code, exc.message, exc.data) from exc
    except httpx.TimeoutException as exc:
        raise RemoteAgentTimeout(f"remote agent timed out during {what}") from exc
    except httpx.HTTPError as exc:
        raise RemoteAgentUnreachable(f"remote agent unreachable during {what}: {exc}") from exc
    except (ValidationError, json_format.ParseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidAgentResponse(f"invalid response from remote agent to {what}: {exc}") from exc


def _client_error(exc: A2AClientError, what: str) -> RemoteAgentError:
    cause = exc.__cause__
    if isinstance(cause, httpx.HTTPStatusError):
        status = cause.response.status_code
        return RemoteAgentUnreachable(f"remote agent answered HTTP {status} to {what}")
    if isinstance(cause, httpx.HTTPError):
        return RemoteAgentUnreachable(f"remote agent unreachable during {what}: {cause}")
    if isinstance(cause, json.JSONDecodeError):
        return InvalidAgentResponse(f"remote agent answered {what} with invalid JSON: {cause}")
    if match := _UNKNOWN_CODE.match(exc.message):
        return _remote_error(int(match[1]), match[2])
    if exc.message.startswith(("Invalid JSON-RPC response", "Invalid response", "SSE stream")):
        return InvalidAgentResponse(f"invalid response from remote agent to {what}: {exc}")
    # The v0.3 transport raises unknown JSON-RPC codes as a bare A2AClientError(message).
    return RemoteAgentError(exc.message)


# --- the client -----------------------------------------------------------------------------------


class A2AClient:
    """One remote agent. Build it from `url` (card at `<url>/.well-known/agent-card.json`), an
    explicit `agent_card_url`, or a local `agent_card_file`; the card is loaded on first use.

    `headers` go with every request (e.g. an `Authorization` for the remote). Hosts in
    `allowed_hosts` are exempt from the SSRF address check; anything else internal is refused.
    Use it as an async context manager, or call `aclose()`.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        agent_card_url: str | None = None,
        agent_card_file: str | Path | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        if not (url or agent_card_url or agent_card_file):
            raise ValueError("A2AClient needs url, agent_card_url or agent_card_file")
        self.url = url
        self.agent_card_url = agent_card_url or (
            url.rstrip("/") + AGENT_CARD_WELL_KNOWN_PATH if url else None
        )
        self.agent_card_file = Path(agent_card_file) if agent_card_file else None
        self.timeout_s = timeout_s
        self.policy = SSRFPolicy(allowed_hosts=allowed_hosts)
        self._http = self.policy.client(headers=dict(headers or {}), timeout=timeout_s)
        self._connect_lock = asyncio.Lock()
        self._card: pb.AgentCard | None = None
        self._version: WireVersion = "0.3"
        self._unary: Client | None = None
        self._streaming: Client | None = None

    async def __aenter__(self) -> A2AClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def protocol_version(self) -> WireVersion:
        """The wire version in use; meaningful after `connect()`."""
        return self._version

    @property
    def name(self) -> str:
        """The remote agent's name from its card (the `agent` of tasks it returns)."""
        return self._card.name if self._card is not None else ""

    @property
    def supports_streaming(self) -> bool:
        return bool(self._card is not None and self._card.capabilities.streaming)

    async def connect(self) -> None:
        """Load the card and pick the protocol version; later calls do nothing."""
        async with self._connect_lock:
            if self._card is not None:
                return
            async with self._deadline("loading the agent card"):
                raw = await self._load_card()
                try:
                    card = parse_agent_card(raw)
                except (json_format.ParseError, ValueError, TypeError) as exc:
                    raise AgentCardError(f"invalid agent card: {exc}") from exc
                rpc_url, version = self._pick_interface(card)
                # The card names the URL we will call: it gets the same check as the card's.
                await self.policy.check_url(rpc_url)
            # Only the chosen interface is left on the card, so the SDK's factory builds exactly
            # this transport: its JSON-RPC one for 1.0, the v0.3 compat one otherwise.
            del card.supported_interfaces[:]
            card.supported_interfaces.append(
                pb.AgentInterface(
                    url=rpc_url,
                    protocol_binding=TransportProtocol.JSONRPC,
                    protocol_version=version,
                )
            )
            self._unary = self._sdk_client(card, streaming=False)
            if card.capabilities.streaming:
                self._streaming = self._sdk_client(card, streaming=True)
            self._version = version
            self._card = card

    async def send(self, message: TaskMessage) -> Task:
        """Send and wait until the remote task is terminal or interrupted (a blocking send)."""
        await self.connect()
        request = pb.SendMessageRequest(message=_message_to_proto(message))
        async with self._deadline("message/send"):
            return await self._send(request, message)

    async def stream(self, message: TaskMessage) -> AsyncIterator[TaskUpdate]:
        """The task first, then its updates, ending with a final status update (SPEC 7.4).

        Streams when the card offers streaming; otherwise sends without blocking and polls
        `get` at 1 s, backing off to 10 s. A stream that ends before a final state is finished
        by polling, so callers always get an end state. `timeout_s` bounds the whole stream.
        """
        await self.connect()
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        updates = self._updates(message)
        try:
            while True:
                # The deadline wraps each wait, never a `yield`: a timeout must not fire while
                # the caller holds control, where it would cancel the caller's own code.
                try:
                    async with asyncio.timeout_at(deadline):
                        update = await anext(updates)
                except StopAsyncIteration:
                    return
                except TimeoutError as exc:
                    raise RemoteAgentTimeout(
                        f"remote task did not finish within {self.timeout_s:g}s"
                    ) from exc
                yield update
        finally:
            await updates.aclose()

    async def get(self, task_id: str, *, history_length: int | None = None) -> Task:
        await self.connect()
        assert self._unary is not None
        request = pb.GetTaskRequest(id=task_id)
        if history_length is not None:
            request.history_length = history_length
        async with self._deadline("tasks/get"):
            with _translated("tasks/get"):
                return _task_from_proto(await self._unary.get_task(request), self.name)

    async def cancel(self, task_id: str) -> Task:
        await self.connect()
        assert self._unary is not None
        async with self._deadline("tasks/cancel"):
            with _translated("tasks/cancel"):
                task = await self._unary.cancel_task(pb.CancelTaskRequest(id=task_id))
                return _task_from_proto(task, self.name)

    # --- internals --------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _deadline(self, what: str) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self.timeout_s):
                yield
        except TimeoutError as exc:
            raise RemoteAgentTimeout(
                f"remote agent did not answer {what} within {self.timeout_s:g}s"
            ) from exc

    async def _load_card(self) -> Any:
        if self.agent_card_file is not None:
            try:
                text = await asyncio.to_thread(self.agent_card_file.read_text, encoding="utf-8")
                return json.loads(text)
            except (OSError, ValueError) as exc:
                raise AgentCardError(
                    f"cannot read agent card {self.agent_card_file}: {exc}"
                ) from exc
        assert self.agent_card_url is not None
        # Ask for the v1.0 card; a server that only speaks v0.3 ignores the header.
        try:
            response = await fetch(
                self._http,
                "GET",
                self.agent_card_url,
                policy=self.policy,
                max_bytes=MAX_CARD_BYTES,
                timeout_s=self.timeout_s,
                headers={VERSION_HEADER: "1.0"},
            )
        except (httpx.HTTPError, ResponseTooLarge) as exc:
            raise AgentCardError(f"cannot load agent card {self.agent_card_url}: {exc}") from exc
        if response.status_code != 200:
            raise AgentCardError(
                f"cannot load agent card {self.agent_card_url}: HTTP {response.status_code}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise AgentCardError(f"agent card {self.agent_card_url} is not JSON: {exc}") from exc

    def _pick_interface(self, card: pb.AgentCard) -> tuple[str, WireVersion]:
        """v1.0 when a JSON-RPC interface says protocolVersion 1.0, else v0.3 (SPEC 7.7)."""
        jsonrpc = [
            i
            for i in card.supported_interfaces
            if i.protocol_binding in ("", TransportProtocol.JSONRPC)
        ]
        for interface in jsonrpc:
            if _is_v1(interface.protocol_version):
                return interface.url or self._fallback_url(), "1.0"
        if jsonrpc:
            return jsonrpc[0].url or self._fallback_url(), "0.3"
        return self._fallback_url(), "0.3"

    def _fallback_url(self) -> str:
        if self.url:
            return self.url
        raise AgentCardError("agent card has no JSON-RPC interface URL and no url was given")

    def _sdk_client(self, card: pb.AgentCard, *, streaming: bool) -> Client:
        config = ClientConfig(
            streaming=streaming,
            httpx_client=self._http,
            supported_protocol_bindings=[TransportProtocol.JSONRPC],
        )
        return ClientFactory(config).create(card)

    async def _send(self, request: pb.SendMessageRequest, sent: TaskMessage) -> Task:
        assert self._unary is not None
        with _translated("message/send"):
            async for event in self._unary.send_message(request):
                return self._task_of(event, sent)
        raise InvalidAgentResponse("remote agent answered message/send with nothing")

    async def _stream_events(self, message: TaskMessage) -> AsyncIterator[TaskUpdate]:
        assert self._streaming is not None
        request = pb.SendMessageRequest(message=_message_to_proto(message))
        with _translated("message/stream"):
            async for event in self._streaming.send_message(request):
                payload = event.WhichOneof("payload")
                if payload == "status_update":
                    yield _status_update_from_proto(event.status_update)
                elif payload == "artifact_update":
                    yield _artifact_update_from_proto(event.artifact_update)
                elif payload in ("task", "message"):
                    yield self._task_of(event, message)
                else:
                    raise InvalidAgentResponse("remote agent sent an empty stream event")

    async def _updates(self, message: TaskMessage) -> AsyncGenerator[TaskUpdate, None]:
        last: Task | None = None
        if self._streaming is not None:
            async for update in self._stream_events(message):
                yield update
                if isinstance(update, StatusUpdate) and update.final:
                    return
                last = _fold(last, update)
        else:
            request = pb.SendMessageRequest(
                message=_message_to_proto(message),
                configuration=pb.SendMessageConfiguration(return_immediately=True),
            )
            last = await self._send(request, message)
            yield last
        if last is None:
            raise InvalidAgentResponse("remote agent stream ended without a task")
        async for update in self._poll(last):
            yield update

    async def _poll(self, task: Task) -> AsyncIterator[TaskUpdate]:
        """Poll `get` until the task is final, yielding what changed since `task`; the last
        update is always a final status update."""
        delay = POLL_INITIAL_S
        while not task.is_final:
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_MAX_S)
            latest = await self.get(task.id)
            known = {a.artifact_id: a for a in task.artifacts}
            for artifact in latest.artifacts:
                if known.get(artifact.artifact_id) != artifact:
                    yield ArtifactUpdate(task.id, latest.context_id, artifact, last_chunk=True)
            if latest.status.state != task.status.state and not latest.is_final:
                yield StatusUpdate(task.id, latest.context_id, latest.status)
            task = latest
        yield StatusUpdate(task.id, task.context_id, task.status, final=True)

    def _task_of(self, event: pb.StreamResponse, sent: TaskMessage) -> Task:
        """A Task from a send result. A remote that answers with a bare Message (an immediate
        reply) gets a completed task around it, so callers handle one shape."""
        if event.HasField("task"):
            return _task_from_proto(event.task, self.name)
        if event.HasField("message"):
            reply = _message_from_proto(event.message)
            now = datetime.now(UTC)
            return Task(
                id=reply.task_id or sent.task_id or str(uuid.uuid4()),
                context_id=reply.context_id or sent.context_id or "",
                agent=self.name,
                user_id="",
                status=TaskStatus(state="completed", timestamp=now, message=reply),
                history=(sent, reply),
            )
        raise InvalidAgentResponse("remote agent answered with neither a task nor a message")


def _is_v1(version: str) -> bool:
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    return (parsed.major, parsed.minor) == (1, 0)


def _fold(task: Task | None, update: TaskUpdate) -> Task | None:
    """The task as the updates so far describe it (enough to resume by polling)."""
    if isinstance(update, Task):
        return update
    if task is None:
        return None
    if isinstance(update, StatusUpdate):
        return Task(
            id=task.id,
            context_id=task.context_id,
            agent=task.agent,
            user_id=task.user_id,
            status=update.status,
            history=task.history,
            artifacts=task.artifacts,
            metadata=task.metadata,
        )
    return task


# --- domain <-> SDK (protobuf) --------------------------------------------------------------------

_STATES: dict[int, TaskState] = {
    pb.TaskState.TASK_STATE_SUBMITTED: "submitted",
    pb.TaskState.TASK_STATE_WORKING: "working",
    pb.TaskState.TASK_STATE_INPUT_REQUIRED: "input-required",
    pb.TaskState.TASK_STATE_AUTH_REQUIRED: "auth-required",
    pb.TaskState.TASK_STATE_COMPLETED: "completed",
    pb.TaskState.TASK_STATE_CANCELED: "canceled",
    pb.TaskState.TASK_STATE_FAILED: "failed",
    pb.TaskState.TASK_STATE_REJECTED: "rejected",
}


def _struct(value: Mapping[str, Any]) -> Struct:
    struct = Struct()
    struct.update(dict(value))
    return struct


def _dict(struct: Struct) -> dict[str, Any]:
    return dict(json_format.MessageToDict(struct))


def _hector_data(kind: str, data: dict[str, Any]) -> pb.Part:
    """Runtime-only parts travel as data parts tagged `hector_type`, as the server sends them."""
    return pb.Part(
        data=json_format.ParseDict({HECTOR_TYPE: kind, **data}, pb.Part().data),
        metadata=_struct({HECTOR_TYPE: kind}),
    )


def _part_to_proto(part: Part) -> pb.Part:
    match part:
        case TextPart(text=text):
            return pb.Part(text=text)
        case DataPart(data=data):
            return pb.Part(data=json_format.ParseDict(dict(data), pb.Part().data))
        case FilePart(mime_type=mime, data=data, uri=uri, name=name):
            proto = pb.Part(url=uri) if uri is not None else pb.Part(raw=data or b"")
            proto.media_type = mime
            if name:
                proto.filename = name
            return proto
        case ThinkingPart(text=text):
            return _hector_data("thinking", {"text": text})
        case ToolCallPart(call_id=call_id, name=name, arguments=arguments):
            return _hector_data(
                "tool_call", {"call_id": call_id, "name": name, "arguments": dict(arguments)}
            )
        case ToolResultPart(call_id=call_id, name=name, content=content, is_error=is_error):
            return _hector_data(
                "tool_result",
                {"call_id": call_id, "name": name, "content": content, "is_error": is_error},
            )
    raise TypeError(f"not a content part: {part!r}")


def _part_from_proto(part: pb.Part) -> Part:
    """Data parts stay data parts, `hector_type` or not: a remote agent's tool calls are its
    own business and must never become calls in our conversation."""
    match part.WhichOneof("content"):
        case "text":
            return TextPart(part.text)
        case "raw":
            return FilePart(
                part.media_type or DEFAULT_FILE_MIME, data=part.raw, name=part.filename or None
            )
        case "url":
            return FilePart(
                part.media_type or DEFAULT_FILE_MIME, uri=part.url, name=part.filename or None
            )
        case "data":
            data = json_format.MessageToDict(part.data)
            return DataPart(data if isinstance(data, dict) else {"value": data})
    raise InvalidAgentResponse("remote agent sent a part with no content")


def _message_to_proto(message: TaskMessage) -> pb.Message:
    proto = pb.Message(
        message_id=message.message_id,
        role=pb.Role.ROLE_USER if message.role == "user" else pb.Role.ROLE_AGENT,
        parts=[_part_to_proto(p) for p in message.parts],
        reference_task_ids=list(message.reference_task_ids),
        extensions=list(message.extensions),
    )
    if message.context_id:
        proto.context_id = message.context_id
    if message.task_id:
        proto.task_id = message.task_id
    if message.metadata:
        proto.metadata.CopyFrom(_struct(message.metadata))
    return proto


def _message_from_proto(message: pb.Message) -> TaskMessage:
    return TaskMessage(
        message_id=message.message_id or str(uuid.uuid4()),
        role="user" if message.role == pb.Role.ROLE_USER else "agent",
        parts=tuple(_part_from_proto(p) for p in message.parts),
        context_id=message.context_id or None,
        task_id=message.task_id or None,
        reference_task_ids=tuple(message.reference_task_ids),
        metadata=_dict(message.metadata),
        extensions=tuple(message.extensions),
    )


def _status_from_proto(status: pb.TaskStatus) -> TaskStatus:
    timestamp = (
        status.timestamp.ToDatetime(tzinfo=UTC)
        if status.HasField("timestamp")
        else datetime.now(UTC)
    )
    return TaskStatus(
        state=_STATES.get(status.state, "unknown"),
        timestamp=timestamp,
        message=_message_from_proto(status.message) if status.HasField("message") else None,
    )


def _artifact_from_proto(artifact: pb.Artifact) -> TaskArtifact:
    return TaskArtifact(
        artifact_id=artifact.artifact_id,
        parts=tuple(_part_from_proto(p) for p in artifact.parts),
        name=artifact.name or None,
        description=artifact.description or None,
        metadata=_dict(artifact.metadata),
    )


def _task_from_proto(task: pb.Task, agent: str) -> Task:
    if not task.id:
        raise InvalidAgentResponse("remote agent sent a task without an id")
    return Task(
        id=task.id,
        context_id=task.context_id,
        agent=agent,
        user_id="",
        status=_status_from_proto(task.status),
        history=tuple(_message_from_proto(m) for m in task.history),
        artifacts=tuple(_artifact_from_proto(a) for a in task.artifacts),
        metadata=_dict(task.metadata),
    )


def _status_update_from_proto(event: pb.TaskStatusUpdateEvent) -> StatusUpdate:
    status = _status_from_proto(event.status)
    return StatusUpdate(
        task_id=event.task_id,
        context_id=event.context_id,
        status=status,
        final=status.state in FINAL_STATES,
        metadata=_dict(event.metadata),
    )


def _artifact_update_from_proto(event: pb.TaskArtifactUpdateEvent) -> ArtifactUpdate:
    return ArtifactUpdate(
        task_id=event.task_id,
        context_id=event.context_id,
        artifact=_artifact_from_proto(event.artifact),
        append=event.append,
        last_chunk=event.last_chunk,
        metadata=_dict(event.metadata),
    )
