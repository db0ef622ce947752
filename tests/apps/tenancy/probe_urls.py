"""Async views that read tenant-scoped rows, for the interleaving test only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.urls import path

from apps.configs.models import Agent
from apps.tenancy.context import in_schema


def agent_names() -> list[str]:
    return list(Agent.objects.order_by("name").values_list("name", flat=True))


async def via_in_schema(request: HttpRequest) -> JsonResponse:
    await asyncio.sleep(0)
    names = await in_schema(request.tenant.schema_name, agent_names)  # type: ignore[attr-defined]
    return JsonResponse({"app": request.tenant.id, "agents": names})  # type: ignore[attr-defined]


async def via_request_thread(request: HttpRequest) -> JsonResponse:
    """No explicit schema: relies on the middleware having set it on the request's own thread."""
    await asyncio.sleep(0)
    names = await sync_to_async(agent_names)()
    return JsonResponse({"app": request.tenant.id, "agents": names})  # type: ignore[attr-defined]


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    schema = request.tenant.schema_name  # type: ignore[attr-defined]
    app_id = request.tenant.id  # type: ignore[attr-defined]

    async def frames() -> AsyncIterator[str]:
        for _ in range(3):
            await asyncio.sleep(0)
            names = await in_schema(schema, agent_names)
            yield f"data: {json.dumps({'app': app_id, 'agents': names})}\n\n"

    return StreamingHttpResponse(frames(), content_type="text/event-stream")


urlpatterns = [
    path("probe/in-schema", via_in_schema),
    path("probe/request-thread", via_request_thread),
    path("probe/stream", stream),
]
