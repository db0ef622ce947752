"""The Studio chat websocket (`/ws/studio/chat`): a chat turn is an A2A task like any other.

A turn goes through `TaskService.stream`, the path `message/stream` takes, so it is recorded as a
task and a session, can be cancelled, and shows up in the admin and the sessions page. Frames out:

- `{"type": "a2a", "payload": <v0.3 stream event>}` for every task update (SPEC 7.4), thinking
  included (the Studio shows it, collapsed);
- `{"type": "trace", "context_id", "task_id", "state", "turns": [...], "waiting", "todos"}` once
  the turn is over: the stored events of the turn (`apps.studio.trace`), which name each step's
  author and LLM usage; `waiting` is what a paused task asks (`trace.waiting_json`, else null);
  `todos` the session's todo list (state key `todos`, null when it has none);
- `{"type": "error", "message", "code"}` for a refused frame or a turn that could not start.

Frames in: `{"type": "send", "agent", "text"?, "data"?, "context_id"?, "task_id"?, "app"?}` and
`{"type": "cancel", "task_id"}`. A send carries text, a data object (an approval decision,
`{"approval_id", "decision", "reason"?}`), or both; with `task_id` it is the next message of that
paused task (SPEC 8: approvals are answered on the task that asked), not a new task. The socket
is refused without a Studio staff session, and from pages of another origin (the session cookie
would otherwise ride along on a cross-site socket).

Leaving the page only unsubscribes: the task runs to its end and stays in the session.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db import connection

from agents.content import DataPart, Part, TextPart
from agents.sessions import Event
from agents.tasks import StatusUpdate, Task, TaskError, TaskMessage, TaskStatus
from apps.a2a_server import wire
from apps.conversations.models import Session as SessionRow
from apps.conversations.services import get_session, list_events
from apps.studio.middleware import SESSION_KEY
from apps.studio.trace import session_todos, turns_json, waiting_json
from apps.tenancy.context import in_schema
from apps.tenancy.models import DEFAULT_APP_ID, App
from hector_site.errors import HectorError

logger = logging.getLogger(__name__)

#: Studio chats run as this A2A user, so they are easy to tell apart in sessions and tasks.
STUDIO_USER_ID = "studio"
MAX_TEXT_CHARS = 100_000
REFUSED = 4403  # application close code: no Studio session, or a foreign origin


def _same_origin(scope: dict[str, Any]) -> bool:
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin", b"").decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1")
    if not origin:  # not a browser: cookies are not sent on its behalf by another site
        return True
    return bool(host) and urlsplit(origin).netloc == host


def _load_app(app_id: str) -> App | None:
    return App.objects.tenants().filter(pk=app_id).first()


def _last_sequence(context_id: str) -> int:
    return (
        SessionRow.objects.filter(pk=context_id).values_list("last_sequence", flat=True).first()
        or 0
    )


def _turn_record(context_id: str, after: int) -> tuple[list[Event], list[dict[str, Any]] | None]:
    """The turn's stored events and the session's todo list, read in one hop."""
    session = get_session(context_id)
    return list_events(context_id, after=after), session_todos(session.state if session else {})


def _release_connection() -> None:
    """A socket lives for hours; its thread must not pin a pooled connection between turns."""
    if not connection.in_atomic_block:
        connection.close()


@dataclass(frozen=True, slots=True)
class Send:
    """A parsed `send` frame: what to say, to which agent, on which session and task."""

    agent: str
    parts: tuple[Part, ...]
    context_id: str | None = None
    task_id: str | None = None


def _optional_str(content: dict[str, Any], key: str) -> str | None:
    value = content.get(key) or None
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key}: must be a string")
    return value


def _parse_send(content: dict[str, Any]) -> Send:
    """The frame as a `Send`; ValueError names the first bad field."""
    agent, text, data = content.get("agent"), content.get("text"), content.get("data")
    if not isinstance(agent, str) or not agent:
        raise ValueError("agent: required")
    if text is not None and not isinstance(text, str):
        raise ValueError("text: must be a string")
    if data is not None and not isinstance(data, dict):
        raise ValueError("data: must be an object")
    if not (text and text.strip()) and not data:
        raise ValueError("text: required")
    size = len(text or "") + (len(json.dumps(data)) if data else 0)
    if size > MAX_TEXT_CHARS:
        raise ValueError(f"text: longer than {MAX_TEXT_CHARS} characters")
    parts: list[Part] = [TextPart(text)] if text and text.strip() else []
    if data:
        parts.append(DataPart(data))
    context_id = _optional_str(content, "context_id")
    task_id = _optional_str(content, "task_id")
    return Send(agent, tuple(parts), context_id=context_id, task_id=task_id)


class ChatConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels is untyped
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close(code=REFUSED)
            return
        if not _same_origin(self.scope):
            await self.close(code=REFUSED)
            return
        self.turns: set[asyncio.Task[None]] = set()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for turn in getattr(self, "turns", set()):
            turn.cancel()  # stops following the task; the task itself runs on

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "send":
            await self._start_turn(content)
        elif kind == "cancel":
            await self._cancel(content)
        else:
            await self._error('type: expected "send" or "cancel"', "bad_frame")

    async def _error(self, message: str, code: str) -> None:
        await self.send_json({"type": "error", "message": message, "code": code})

    async def _app(self, content: dict[str, Any]) -> App | None:
        session = self.scope.get("session")
        app_id = content.get("app") or (session.get(SESSION_KEY) if session else None)
        app = await in_schema("public", _load_app, str(app_id or DEFAULT_APP_ID))
        if app is None:
            await self._error("App not found", "not_found")
        return app

    async def _start_turn(self, content: dict[str, Any]) -> None:
        try:
            send = _parse_send(content)
        except ValueError as error:
            await self._error(str(error), "bad_frame")
            return
        app = await self._app(content)
        if app is None:
            return
        turn = asyncio.create_task(self._turn(app, send))
        self.turns.add(turn)
        turn.add_done_callback(self.turns.discard)

    async def _turn(self, app: App, send: Send) -> None:
        from apps.tasks.service import TaskService  # the runtime loads on first chat, not at boot

        message = TaskMessage(
            message_id=uuid.uuid4().hex,
            role="user",
            parts=send.parts,
            context_id=send.context_id,
            task_id=send.task_id,
            metadata={"include_thinking": True},
        )
        context_id = send.context_id
        after = await in_schema(app.schema_name, _last_sequence, context_id) if context_id else 0
        task: Task | None = None
        status: TaskStatus | None = None
        try:
            updates = TaskService(app).stream(
                agent=send.agent,
                user_id=STUDIO_USER_ID,
                message=message,
                metadata={"include_thinking": True, "hector:source": "studio"},
            )
            async with aclosing(updates):
                async for update in updates:
                    if isinstance(update, Task):
                        task, status = update, update.status
                    elif isinstance(update, StatusUpdate):
                        status = update.status
                    payload = wire.event_json(update, wire.V03, include_thinking=True)
                    if payload is not None:
                        await self.send_json({"type": "a2a", "payload": payload})
        except (TaskError, HectorError) as error:
            await self._error(error.message, getattr(error, "code", "error"))
        except Exception:
            logger.exception("studio chat turn failed app=%s agent=%s", app.id, send.agent)
            await self._error("Internal error: the server log has the details", "internal")
        if task is not None and status is not None:
            await self._send_trace(app, task, status, after)
        await sync_to_async(_release_connection, thread_sensitive=True)()

    async def _send_trace(self, app: App, task: Task, status: TaskStatus, after: int) -> None:
        try:
            events, todos = await in_schema(app.schema_name, _turn_record, task.context_id, after)
        except Exception:  # the session never came to be (the run failed before it)
            events, todos = [], None
        await self.send_json(
            {
                "type": "trace",
                "context_id": task.context_id,
                "task_id": task.id,
                "state": status.state,
                "turns": turns_json(events),
                "waiting": waiting_json(task.id, status),
                "todos": todos,
            }
        )

    async def _cancel(self, content: dict[str, Any]) -> None:
        from apps.tasks.service import TaskService

        task_id = content.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            await self._error("task_id: required", "bad_frame")
            return
        app = await self._app(content)
        if app is None:
            return
        try:
            await TaskService(app).cancel(task_id, user_id=STUDIO_USER_ID)
        except (TaskError, HectorError) as error:
            await self._error(error.message, getattr(error, "code", "error"))
