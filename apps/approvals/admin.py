"""Approvals in the Django admin (SPEC 8): history is read-only; pending rows can be approved or
denied, which resumes the task waiting for them (`apps.approvals.services.decide`)."""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.approvals import services
from apps.approvals.models import Approval, ApprovalState
from tools.approvals import ApprovalNotPending


@admin.register(Approval)
class ApprovalAdmin(admin.ModelAdmin):
    list_display = ["tool_name", "state", "agent", "user_id", "task", "created_at", "decided_by"]
    list_filter = ["state", "agent", "tool_name"]
    search_fields = ["id", "tool_name", "session_id", "task_id", "user_id"]
    ordering = ["-created_at"]
    list_per_page = 50
    actions = ["approve", "deny"]
    fields = [
        "id",
        "state",
        "tool_name",
        "arguments_json",
        "prompt",
        "agent",
        "user_id",
        "session_id",
        "task_id",
        "call_id",
        "created_at",
        "expires_at",
        "decided_at",
        "decided_by",
        "reason",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="arguments")
    def arguments_json(self, approval: Approval) -> str:
        return format_html(
            '<pre class="admin-json">{}</pre>',
            json.dumps(approval.arguments, indent=2, ensure_ascii=False),
        )

    @admin.display(description="task")
    def task(self, approval: Approval) -> str:
        return approval.task_id[:16] if approval.task_id else "-"

    @admin.action(description="Approve the selected pending calls (and resume their tasks)")
    def approve(self, request: HttpRequest, queryset: QuerySet[Approval]) -> None:
        self._decide(request, queryset, approved=True)

    @admin.action(description="Deny the selected pending calls (and resume their tasks)")
    def deny(self, request: HttpRequest, queryset: QuerySet[Approval]) -> None:
        self._decide(request, queryset, approved=False)

    def _decide(
        self, request: HttpRequest, queryset: QuerySet[Approval], *, approved: bool
    ) -> None:
        app = request.tenant  # type: ignore[attr-defined]
        who = f"admin:{request.user.get_username() or 'studio'}"
        done = skipped = 0
        for approval in queryset.filter(state=ApprovalState.PENDING):
            try:
                async_to_sync(services.decide)(
                    app,
                    approval.id,
                    approved=approved,
                    reason=f"decided in the admin by {who}",
                    decided_by=who,
                )
                done += 1
            except ApprovalNotPending:
                skipped += 1
        skipped += queryset.exclude(state=ApprovalState.PENDING).count()
        verb = "approved" if approved else "denied"
        self.message_user(request, f"{done} {verb}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} skipped: already decided or expired.", messages.WARNING
            )
