"""Studio admin: tasks with their checkpoints, and the dead-letter queue with a requeue action.

The task pages themselves are the Studio's (`apps.studio.admin`); this module extends them with
what the queue adds.

Rows are read-only here: the task service is their only writer; requeue goes through the same
operation as the Admin API.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.studio.admin import TaskAdmin as StudioTaskAdmin
from apps.tasks import operations
from apps.tasks.models import Checkpoint, DeadLetter, Task
from hector_site.errors import HectorError


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CheckpointInline(ReadOnly, admin.TabularInline):  # type: ignore[misc]
    model = Checkpoint
    fields = ["sequence", "kind", "snapshot", "created_at"]
    readonly_fields = fields
    extra = 0
    ordering = ["sequence"]


QUEUE_FIELDS = [
    "attempts",
    "max_retries",
    "next_attempt_at",
    "last_error",
    "lease_owner",
    "lease_expires_at",
    "queued_at",
    "claimed_at",
    "dead_lettered_at",
    "dead_letter_reason",
    "deadline_at",
]


class TaskAdmin(StudioTaskAdmin):
    """The Studio's task pages, plus the queue columns it lacks and the run's checkpoints."""

    fields = [
        *StudioTaskAdmin.fields,
        *(f for f in QUEUE_FIELDS if f not in StudioTaskAdmin.fields),
    ]
    readonly_fields = fields
    inlines = [CheckpointInline]


if admin.site.is_registered(Task):
    admin.site.unregister(Task)
admin.site.register(Task, TaskAdmin)


@admin.action(description="Requeue (attempts reset, history kept)")
def requeue(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    app = request.tenant  # type: ignore[attr-defined]
    done = 0
    for task in queryset:
        try:
            operations.requeue_dead_letter(app, task.id)
        except HectorError as exc:
            modeladmin.message_user(request, f"{task.id}: {exc.message}", messages.WARNING)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"Requeued {done} task(s).", messages.SUCCESS)


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnly, admin.ModelAdmin):  # type: ignore[misc]
    list_display = ["id", "agent", "attempts", "dead_letter_reason", "dead_lettered_at"]
    list_filter = ["agent"]
    search_fields = ["id", "dead_letter_reason", "last_error"]
    ordering = ["-dead_lettered_at", "-id"]
    fields = ["id", "context_id", "agent", "user_id", "state", *QUEUE_FIELDS]
    readonly_fields = fields
    inlines = [CheckpointInline]
    actions = [requeue]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeadLetter]:
        return super().get_queryset(request).filter(dead_lettered_at__isnull=False)
