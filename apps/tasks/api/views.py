"""Queue Admin API (SPEC 8, 3.3): stats, the dead-letter queue, requeue. Admin secret only.

`app_id` narrows to one app (the tenant middleware has loaded it, or answered 404); without it,
stats and the dead-letter list cover every app. Requeue acts on `app_id`'s app, `default` when
absent, like the rest of the Admin API.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tasks import operations
from apps.tenancy.models import App
from hector_site.errors import BadRequest

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50

APP_ID = OpenApiParameter("app_id", str, description="Only this app (default: every app).")


def _only_app(request: Request) -> App | None:
    if not request.query_params.get("app_id"):
        return None
    return request._request.tenant  # type: ignore[attr-defined, no-any-return]


def _page_size(request: Request) -> int:
    raw = request.query_params.get("page_size") or str(DEFAULT_PAGE_SIZE)
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise BadRequest(f"page_size must be an integer between 1 and {MAX_PAGE_SIZE}")
    return size


class QueueStatsView(APIView):
    @extend_schema(operation_id="queue_stats", parameters=[APP_ID], responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(operations.queue_stats(_only_app(request)))


class DeadLetterListView(APIView):
    @extend_schema(
        operation_id="queue_dlq_list",
        parameters=[
            APP_ID,
            OpenApiParameter("agent", str, description="Only tasks of this agent."),
            OpenApiParameter("page_size", int, description=f"1-{MAX_PAGE_SIZE}, default 50"),
            OpenApiParameter("page_token", str, description="next_page_token of the last page"),
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        entries, next_token = operations.dead_letter_page(
            app=_only_app(request),
            agent=request.query_params.get("agent") or None,
            page_size=_page_size(request),
            page_token=request.query_params.get("page_token") or None,
        )
        return Response({"dead_letters": entries, "next_page_token": next_token})


class DeadLetterRequeueView(APIView):
    @extend_schema(
        operation_id="queue_dlq_requeue",
        parameters=[OpenApiParameter("app_id", str, description="The task's app (default)")],
        request=None,
        responses={200: dict},
    )
    def post(self, request: Request, task_id: str) -> Response:
        app: App = request._request.tenant  # type: ignore[attr-defined]
        return Response({"task": operations.requeue_dead_letter(app, task_id)})
