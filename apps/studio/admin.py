"""Admin pages the Studio adds: the A2A task history of the selected app, read-only.

It lives here rather than in `apps/tasks/admin.py` while the queue work owns `apps.tasks`; the
DLQ requeue and cancel actions belong next to it once the queue services exist (they change rows,
so they go through those services, never `queryset.update`).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from apps.tasks.models import Task


def _json(value: Any) -> str:
    return format_html(
        '<pre class="admin-json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False)
    )


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["id", "agent", "state", "user_id", "session", "attempts", "updated_at"]
    list_filter = ["state", "agent"]
    search_fields = ["id", "context_id", "user_id"]
    ordering = ["-updated_at", "-id"]
    list_per_page = 50
    show_full_result_count = False  # counting every task of a busy app is a slow query
    fields = [
        "id",
        "agent",
        "state",
        "user_id",
        "session",
        "created_at",
        "updated_at",
        "attempts",
        "max_retries",
        "next_attempt_at",
        "last_error",
        "lease_owner",
        "lease_expires_at",
        "dead_lettered_at",
        "deadline_at",
        "status",
        "history_json",
        "artifacts_json",
        "metadata_json",
    ]
    readonly_fields = fields

    @admin.display(description="session")
    def session(self, task: Task) -> str:
        return format_html(
            '<a href="/studio/sessions/{}/">{}</a>', task.context_id, task.context_id[:16]
        )

    @admin.display(description="status message")
    def status(self, task: Task) -> str:
        return _json(task.status_message) if task.status_message else "-"

    @admin.display(description="history")
    def history_json(self, task: Task) -> str:
        return _json(task.history)

    @admin.display(description="artifacts")
    def artifacts_json(self, task: Task) -> str:
        return _json(task.artifacts)

    @admin.display(description="metadata")
    def metadata_json(self, task: Task) -> str:
        return _json(task.metadata)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
