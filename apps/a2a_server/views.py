"""A2A over HTTP: the JSON-RPC endpoint (JSON and SSE), agent cards and discovery (SPEC 7).

Views are async and thin: resolve the agent (visibility, auth), read the body, hand the call to
`rpc`, write JSON or SSE. The SSE body runs after the tenant middleware has returned, so it never
queries itself: the task service names its schema on every hop (`in_schema`, on the database
threads), so an open stream holds no database connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from agents.tasks import StatusUpdate, TaskUpdate
from apps.a2a_server import rpc, wire
from apps.a2a_server.cards import RenderedCard, base_url, rendered_card
from apps.a2a_server.catalog import AgentInfo, Catalog, ServerSettings, catalog_for, server_settings
from apps.a2a_server.rpc import RpcError, RpcId, Stream
from apps.a2a_server.wire import V03, V10, Version
from apps.tenancy.models import App
from hector_site.errors import json_error
from hector_site.lean import lean

logger = logging.getLogger(__name__)

PING_INTERVAL_S = 15.0
PING = b": ping\n\n"
CARD_MAX_AGE_S = 60
STREAM_QUEUE_SIZE = 64
JSON = "application/json"
IN_MEMORY_BODY_BYTES = 1024 * 1024


def task_service(app: App) -> rpc.TaskServiceLike:
    """The task service of `app` (imported late: `apps.tasks` is optional at import time)."""
    from apps.tasks.service import TaskService

    return TaskService(app)  # type: ignore[return-value]


# --- Helpers ------------------------------------------------------------------------------------


def _json(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(wire.dumps(body), content_type=JSON, status=status)


def _rpc_error(rpc_id: RpcId, exc: Exception, status: int = 200) -> HttpResponse:
    return _json(rpc.error_for(rpc_id, exc), status)


def _not_found(name: str | None) -> HttpResponse:
    if name is None:
        return json_error(404, "no agent configured")
    return json_error(404, f'agent "{name}" not found')


def _unauthorized() -> HttpResponse:
    return json_error(401, "Unauthorized")


def _is_authenticated(request: HttpRequest) -> bool:
    return bool(request.principal.is_authenticated)  # type: ignore[attr-defined]


def _may_list(agent: AgentInfo, authenticated: bool) -> bool:
    """SPEC 7.6: public for everyone, internal for token holders, private never."""
    return agent.is_public or (agent.visibility == "internal" and authenticated)


def _card_version(request: HttpRequest) -> Version:
    """The v1.0 card only for `A2A-Version: 1.x`; anything else gets the v0.3 card."""
    value = request.headers.get("A2A-Version", "").strip()
    return V10 if value == "1" or value.startswith("1.") else V03


def user_id_for(request: HttpRequest, server: ServerSettings) -> str:
    """SPEC 6: the token's `sub`, else a trusted `X-User-ID`, else `default`."""
    sub = request.principal.claims.get("sub")  # type: ignore[attr-defined]
    if isinstance(sub, str) and sub:
        return sub
    if server.trust_user_header:
        header = request.headers.get("X-User-ID", "").strip()
        if header:
            return header[:256]
    return "default"


def _is_json(request: HttpRequest) -> bool:
    content_type = (request.content_type or "").lower()
    return (
        not content_type
        or content_type in ("application/json", "text/json")
        or content_type.endswith("+json")
    )


def _token_required(agent: AgentInfo, server: ServerSettings) -> bool:
    return agent.visibility == "internal" or server.require_auth


def _card(
    request: HttpRequest,
    app: App,
    catalog: Catalog,
    server: ServerSettings,
    agent: AgentInfo,
    version: Version,
) -> RenderedCard:
    return rendered_card(
        app.id,
        catalog,
        agent,
        version,
        base=base_url(request, server.public_url),
        token_required=_token_required(agent, server),
    )


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def _card_response(request: HttpRequest, card: RenderedCard, catalog: Catalog) -> HttpResponse:
    not_modified = _etag_matches(request.headers.get("If-None-Match", ""), card.etag)
    if not_modified:
        response = HttpResponse(status=304)
    else:
        content = b"" if request.method == "HEAD" else card.content
        response = HttpResponse(content, content_type=JSON)
    response["ETag"] = card.etag
    if catalog.updated_at is not None:
        response["Last-Modified"] = http_date(catalog.updated_at.timestamp())
    response["Cache-Control"] = f"max-age={CARD_MAX_AGE_S}"
    response["Vary"] = "A2A-Version, Authorization"
    return response


async def _resolve(
    request: HttpRequest, name: str | None, *, for_card: bool
) -> tuple[App, Catalog, ServerSettings, AgentInfo] | HttpResponse:
    """The agent the caller may reach, or the 404 / 401 to answer instead."""
    app: App = request.tenant  # type: ignore[attr-defined]
    catalog = catalog_for(app)
    server = await server_settings(app)
    agent_name = name if name is not None else catalog.default_agent
    agent = catalog.agents.get(agent_name) if agent_name is not None else None
    if agent is None or agent.is_private:
        return _not_found(agent_name)
    if not _is_authenticated(request):
        # require_auth exempts public cards (SPEC 13.4); internal agents need a token for all.
        needs_token = agent.visibility == "internal" or (server.require_auth and not for_card)
        if needs_token:
            return _unauthorized()
    return app, catalog, server, agent


# --- Cards and discovery ------------------------------------------------------------------------


@lean  # bearer-token API: no session, cookie or CSRF token on these routes
@csrf_exempt
async def agent_card(request: HttpRequest, name: str | None = None) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return json_error(405, "Method not allowed")
    resolved = await _resolve(request, name, for_card=True)
    if isinstance(resolved, HttpResponse):
        return resolved
    app, catalog, server, agent = resolved
    card = _card(request, app, catalog, server, agent, _card_version(request))
    return _card_response(request, card, catalog)


@lean
@csrf_exempt
async def discovery(request: HttpRequest) -> HttpResponse:
    """`GET /agents`: the cards the caller may see (SPEC 7.1, 7.6)."""
    if request.method not in ("GET", "HEAD"):
        return json_error(405, "Method not allowed")
    app: App = request.tenant  # type: ignore[attr-defined]
    catalog = catalog_for(app)
    server = await server_settings(app)
    authenticated = _is_authenticated(request)
    version = _card_version(request)
    cards = [
        _card(request, app, catalog, server, agent, version).body
        for agent in catalog.agents.values()
        if _may_list(agent, authenticated)
    ]
    return _json({"agents": cards, "total": len(cards)})


# --- JSON-RPC -----------------------------------------------------------------------------------


@lean
@csrf_exempt
async def agent_endpoint(request: HttpRequest, name: str) -> HttpResponse:
    """`/agents/<name>` (with or without a trailing slash): POST JSON-RPC, GET the card."""
    if request.method == "POST":
        return await _json_rpc(request, name)
    return await agent_card(request, name)


def _too_large(limit: int) -> HttpResponse:
    error = RpcError(
        rpc.INVALID_REQUEST,
        "Payload too large",
        {"reason": "payload_too_large", "limit": limit},
    )
    return _rpc_error(None, error, status=413)


async def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The raw body, or None when it exceeds `limit` (checked on the header first).

    Not `request.body`: that refuses anything past Django's 2.5 MB. Django spools bodies past
    that size to a temporary file, so a large one is read off the event loop."""
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    if declared > IN_MEMORY_BODY_BYTES:
        body = await asyncio.to_thread(request.read)
    else:
        body = request.read()
    return None if len(body) > limit else body


async def _json_rpc(request: HttpRequest, name: str) -> HttpResponse:
    resolved = await _resolve(request, name, for_card=False)
    if isinstance(resolved, HttpResponse):
        return resolved
    app, catalog, server, agent = resolved
    raw = await _read_body(request, server.max_body_bytes)
    if raw is None:
        return _too_large(server.max_body_bytes)
    header = request.headers.get("A2A-Version")
    if not _is_json(request):
        try:
            v10 = rpc.header_version(header) == V10
        except RpcError:
            v10 = False
        code = rpc.CONTENT_TYPE_NOT_SUPPORTED if v10 else rpc.PARSE_ERROR
        message = f"Content type {request.content_type!r} is not supported; send application/json"
        return _rpc_error(None, RpcError(code, message))
    try:
        body = json.loads(raw)
    except ValueError:
        return _rpc_error(None, RpcError(rpc.PARSE_ERROR, "Parse error: body is not JSON"))
    rpc_id = rpc.request_id(body)
    try:
        envelope = rpc.parse_envelope(body)
        version = rpc.select_version(rpc.header_version(header), envelope.method)
        handler = rpc.handler_for(envelope.method)
    except RpcError as error:
        return _rpc_error(None if isinstance(body, list) else rpc_id, error)
    call = rpc.Call(
        service=task_service(app),
        agent=agent,
        user_id=user_id_for(request, server),
        version=version,
        rpc_id=rpc_id,
        params=envelope.params,
        extended_card=lambda v: _card(request, app, catalog, server, agent, v).body,
        is_authenticated=_is_authenticated(request),
    )
    subscribe = envelope.method in rpc.SUBSCRIBE_METHODS
    try:
        result = await handler(call)
    except rpc.Unauthenticated:
        return _unauthorized()
    except Exception as exc:
        if subscribe:  # SPEC 7.10: resubscribe answers SSE, errors included
            return _sse(_error_frames(rpc_id, exc))
        return _rpc_error(rpc_id, exc)
    if isinstance(result, Stream):
        return _sse(_frames(result, rpc_id, version))
    return _json(rpc.result_body(rpc_id, result))


# --- SSE ----------------------------------------------------------------------------------------


def _sse(frames: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(frames, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies must not buffer the stream
    return response


def _frame(body: dict[str, Any]) -> bytes:
    return b"data: " + wire.dumps(body) + b"\n\n"


async def _error_frames(rpc_id: RpcId, exc: Exception) -> AsyncIterator[bytes]:
    yield _frame(rpc.error_for(rpc_id, exc))


async def _pump(events: AsyncIterator[TaskUpdate], queue: asyncio.Queue[tuple[str, Any]]) -> None:
    """Drain the service's stream into `queue`, in its own task: the generator is only ever
    advanced by this task, while the response waits on the queue with a ping timeout."""
    try:
        async for event in events:
            await queue.put(("event", event))
    except Exception as exc:
        await queue.put(("error", exc))
    else:
        await queue.put(("end", None))
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


async def _frames(stream: Stream, rpc_id: RpcId, version: Version) -> AsyncIterator[bytes]:
    """SSE frames until the final update; `: ping` every 15 s. A client leaving cancels only
    this reader (the pump and its stream are closed), never the task (SPEC 7.4)."""
    include_thinking = stream.include_thinking

    def frame_of(event: TaskUpdate) -> bytes | None:
        body = wire.event_json(event, version, include_thinking=include_thinking)
        return None if body is None else _frame(rpc.result_body(rpc_id, body))

    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(STREAM_QUEUE_SIZE)
    pump: asyncio.Task[None] | None = None
    try:
        if stream.first is not None:
            frame = frame_of(stream.first)
            if frame is not None:
                yield frame
            if _is_final(stream.first):
                return
        pump = asyncio.create_task(_pump(stream.events, queue))
        while True:
            try:  # not wait_for: on Python 3.11 it runs the get in a task of its own
                async with asyncio.timeout(PING_INTERVAL_S):
                    kind, item = await queue.get()
            except TimeoutError:
                yield PING
                continue
            if kind == "end":
                return
            if kind == "error":
                yield _frame(rpc.error_for(rpc_id, item))
                return
            frame = frame_of(item)
            if frame is not None:
                yield frame
            if _is_final(item):
                return
    finally:
        if pump is None:
            aclose = getattr(stream.events, "aclose", None)
            if aclose is not None:
                await aclose()
        else:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump


def _is_final(event: TaskUpdate) -> bool:
    return isinstance(event, StatusUpdate) and event.final


# --- Tool calls ---------------------------------------------------------------------------------


@lean
@csrf_exempt
async def cancel_tool_call(
    request: HttpRequest, task_id: str, call_id: str, name: str | None = None
) -> HttpResponse:
    """Cancel one running tool call. Tool execution does not expose per-call cancellation yet,
    so this answers `cancelled: false` (the task itself is cancelled with tasks/cancel)."""
    if request.method != "POST":
        return json_error(405, "Method not allowed")
    if name is not None:
        resolved = await _resolve(request, name, for_card=False)
        if isinstance(resolved, HttpResponse):
            return resolved
    return _json({"cancelled": False, "task_id": task_id, "call_id": call_id})
