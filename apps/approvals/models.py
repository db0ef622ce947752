"""Approval rows: one per tool call that waited for a person (SPEC 8).

They are history once decided: the admin only ever moves a pending row to approved or denied.
"""

from __future__ import annotations

from django.db import models


class ApprovalState(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


class Approval(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    session_id = models.CharField(max_length=128)
    task_id = models.CharField(max_length=128, blank=True, default="")
    invocation_id = models.CharField(max_length=128, blank=True, default="")
    agent = models.CharField(max_length=128)
    user_id = models.CharField(max_length=255, blank=True, default="")
    call_id = models.CharField(max_length=255)
    tool_name = models.CharField(max_length=255)
    arguments = models.JSONField(default=dict)
    prompt = models.TextField(blank=True, default="")
    state = models.CharField(
        max_length=16, choices=ApprovalState.choices, default=ApprovalState.PENDING
    )
    reason = models.TextField(blank=True, default="")
    decided_by = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session_id", "call_id"], name="approval_call_uniq"),
        ]
        indexes = [
            models.Index(fields=["state", "created_at"], name="approval_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tool_name} ({self.state})"
