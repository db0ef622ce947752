"""Per-app rows behind A2A tasks: the Task (the truth about a task) and its push configs.

Only `apps.tasks.service` writes them; everything else sees the domain types of `agents.tasks`
(`apps.tasks.codec` converts). The durable-queue columns (attempts, leases, retries, dead letter,
deadline) are here from the start so that the row, not a Celery message, stays the truth when the
queue arrives; today the lease columns also serialise runs on one session across processes.
"""

from __future__ import annotations

from django.db import models

MAX_TASK_ID_LENGTH = 64
MAX_CONTEXT_ID_LENGTH = 128  # a context id is a session id (conversations.Session.id)


class TaskState(models.TextChoices):
    """Every A2A task state, spelled as in v0.3 (the wire layer maps v1.0's enum names)."""

    SUBMITTED = "submitted"
    WORKING = "working"
    INPUT_REQUIRED = "input-required"
    AUTH_REQUIRED = "auth-required"
    COMPLETED = "completed"
    CANCELED = "canceled"
    FAILED = "failed"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


class Task(models.Model):
    """One A2A task. `history`, `artifacts` and `status_message` hold `apps.tasks.codec` JSON.

    Timestamps are set by the service, not `auto_now`, so `status_timestamp` and `updated_at` of
    one transition are the same instant. `id` sorts bytewise (collation "C") so list cursors
    agree with Python string order.
    """

    State = TaskState

    id = models.CharField(primary_key=True, max_length=MAX_TASK_ID_LENGTH, db_collation="C")
    context_id = models.CharField(max_length=MAX_CONTEXT_ID_LENGTH)
    agent = models.CharField(max_length=64)
    user_id = models.CharField(max_length=255)
    state = models.CharField(max_length=16, choices=TaskState.choices, default=TaskState.SUBMITTED)
    status_message = models.JSONField(null=True, blank=True)
    status_timestamp = models.DateTimeField()
    history = models.JSONField(default=list, help_text="Every user and agent message, in order.")
    artifacts = models.JSONField(default=list)
    metadata = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    # Durable queue (SPEC 8). The lease also marks "a run holds this task's session".
    attempts = models.PositiveIntegerField(default=0)
    max_retries = models.PositiveIntegerField(default=3)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    lease_owner = models.CharField(max_length=128, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    dead_lettered_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    dead_letter_reason = models.TextField(blank=True, default="")
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="Last handed to the queue (recovery republishes after)."
    )
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["-updated_at", "-id"], name="tasks_task_recent_idx"),
            models.Index(
                fields=["context_id", "-updated_at", "-id"], name="tasks_task_context_idx"
            ),
            models.Index(fields=["state", "-updated_at", "-id"], name="tasks_task_state_idx"),
            models.Index(fields=["user_id", "-updated_at", "-id"], name="tasks_task_user_idx"),
            models.Index(
                fields=["-dead_lettered_at", "-id"],
                name="tasks_task_dlq_idx",
                condition=models.Q(dead_lettered_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.state})"


class DeadLetter(Task):
    """The dead-letter queue as the Django admin lists it: tasks with `dead_lettered_at` set."""

    class Meta:
        proxy = True
        verbose_name = "dead letter"


class CheckpointKind(models.TextChoices):
    LLM_TURN = "llm_turn"
    TOOL_RESULT = "tool_result"
    APPROVAL = "approval"
    FINAL = "final"


class Checkpoint(models.Model):
    """Where a run stood after an LLM turn, a tool round or an approval decision (SPEC 8).

    The session's events hold what was said; the snapshot says which invocation of which agent
    they belong to, and which tool calls were still open, so a recovered run resumes instead of
    starting over. `sequence` counts from 1 per task.
    """

    Kind = CheckpointKind

    # No index of its own: the unique (task, sequence) constraint leads with `task`.
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="checkpoints", db_index=False
    )
    sequence = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=CheckpointKind.choices)
    snapshot = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["task", "sequence"], name="tasks_checkpoint_task_seq_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.task_id}#{self.sequence} ({self.kind})"


class PushNotificationConfig(models.Model):
    """Where to POST the task on terminal and interrupted states (SPEC 7.8).

    `wire_version` is the A2A version of the request that created it: the POST body uses it.
    """

    class WireVersion(models.TextChoices):
        V0_3 = "0.3"
        V1_0 = "1.0"

    # No index of its own: the unique (task, config_id) constraint leads with `task`.
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="push_configs", db_index=False
    )
    config_id = models.CharField(max_length=128)
    url = models.TextField()
    token = models.TextField(null=True, blank=True)
    authentication = models.JSONField(null=True, blank=True)
    wire_version = models.CharField(
        max_length=8, choices=WireVersion.choices, default=WireVersion.V0_3
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["task", "config_id"], name="tasks_pushconfig_task_config_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.task_id}/{self.config_id}"
