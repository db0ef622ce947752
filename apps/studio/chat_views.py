"""Chat and sessions pages. The chat itself streams over the websocket (`consumers.py`); these
render the page, list past sessions and give a session's turns to reopen it."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from apps.configs.models import Agent
from apps.conversations import services as conversations
from apps.studio.consumers import STUDIO_USER_ID
from apps.studio.decorators import studio_view
from apps.studio.trace import build_turns, session_todos, waiting_json
from apps.tenancy.models import App
from hector_site.errors import HectorError

SESSIONS_PER_PAGE = 50


@studio_view
@require_GET
def chat_view(request: HttpRequest) -> HttpResponse:
    agents = list(Agent.objects.order_by("position").values("name", "type", "description"))
    names = [agent["name"] for agent in agents]
    requested = request.GET.get("agent", "")
    session_id = request.GET.get("session", "")
    chat = {
        "app": request.tenant.id,  # type: ignore[attr-defined]
        "agent": requested if requested in names else (names[0] if names else ""),
        "session": session_id,
        "socket": "/ws/studio/chat",
        "user": STUDIO_USER_ID,
    }
    return render(request, "studio/chat.html", {"agents": agents, "chat": chat})


@studio_view
@require_GET
def sessions_view(request: HttpRequest) -> HttpResponse:
    user_id = request.GET.get("user", "").strip() or None
    agent = request.GET.get("agent", "").strip() or None
    try:
        sessions, next_token = conversations.session_page(
            user_id=user_id,
            agent=agent,
            page_size=SESSIONS_PER_PAGE,
            page_token=request.GET.get("page") or None,
        )
    except HectorError as error:
        messages.error(request, error.message)
        sessions, next_token = [], ""
    context: dict[str, Any] = {
        "sessions": sessions,
        "next_token": next_token,
        "user_filter": user_id or "",
        "agent_filter": agent or "",
        "agents": Agent.objects.order_by("position").values_list("name", flat=True),
        "studio_user": STUDIO_USER_ID,
    }
    return render(request, "studio/sessions.html", context)


@studio_view
@require_GET
def session_view(request: HttpRequest, session_id: str) -> HttpResponse:
    try:
        detail = conversations.session_detail(session_id)
    except HectorError as error:
        return render(request, "studio/not_found.html", {"message": error.message}, status=404)
    artifacts = conversations.list_artifacts(session_id=session_id, user_id=detail.session.user_id)
    context = {
        "session": detail.session,
        "state": detail.state,
        "artifacts": artifacts,
        "turns": build_turns(detail.events),
        "event_count": len(detail.events),
    }
    return render(request, "studio/session.html", context)


@studio_view
@require_GET
def session_turns_view(request: HttpRequest, session_id: str) -> JsonResponse:
    """The turns of a session, for the chat page to reopen it."""
    try:
        detail = conversations.session_detail(session_id)
    except HectorError as error:
        return JsonResponse({"error": error.message}, status=error.status)
    session = detail.session
    return JsonResponse(
        {
            "session": {"id": session.id, "agent": session.agent, "user_id": session.user_id},
            "turns": [turn.as_json() for turn in build_turns(detail.events)],
            "waiting": _waiting(request.tenant, session.id),  # type: ignore[attr-defined]
            "todos": session_todos(detail.state),
        }
    )


def _waiting(app: App, session_id: str) -> dict[str, Any] | None:
    """What the session's latest task waits for, so a reopened chat can still answer it."""
    from apps.tasks.service import TaskService  # the runtime loads on first chat, not at boot

    page = async_to_sync(TaskService(app).list)(
        context_id=session_id, page_size=1, history_length=0
    )
    if not page.tasks:
        return None
    latest = page.tasks[0]
    return waiting_json(latest.id, latest.status)


@studio_view
@require_POST
def delete_session_view(request: HttpRequest, session_id: str) -> HttpResponse:
    try:
        conversations.remove_session(session_id)
    except HectorError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f'Session "{session_id}" deleted.')
    return HttpResponseRedirect("/studio/sessions/")
