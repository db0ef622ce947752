"""Per-app rows behind `agents.sessions.SessionService`: sessions, their events, scoped state and
artifacts.

Only `apps.conversations.services` writes them. The runner never sees these classes: the store
turns rows into the domain dataclasses of `agents.sessions`.
"""

from __future__ import annotations

import uuid

from django.db import models

MAX_SESSION_ID_LENGTH = 128


class Session(models.Model):
    """One conversation. `state` holds the session scope only: `app:` and `user:` keys live in
    AppState and UserState (so other sessions see them), `temp:` keys nowhere.

    `id` sorts bytewise (collation "C") so the newest-first order and its cursor agree with the
    in-memory store, which compares ids as Python strings.
    """

    id = models.CharField(primary_key=True, max_length=MAX_SESSION_ID_LENGTH, db_collation="C")
    user_id = models.CharField(max_length=255)
    agent = models.CharField(max_length=128)
    state = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_sequence = models.PositiveIntegerField(
        default=0, help_text="Sequence of the newest event; the next one gets this plus one."
    )

    class Meta:
        indexes = [
            models.Index(fields=["-updated_at", "-id"], name="conv_session_recent_idx"),
            models.Index(fields=["user_id", "-updated_at", "-id"], name="conv_session_user_idx"),
        ]

    def __str__(self) -> str:
        return self.id


class Event(models.Model):
    """One entry of a session's history, append-only. Partial (streaming) events are never stored.

    The unique (session, sequence) constraint is also the index history reads walk; the foreign
    key gets no index of its own because that one already leads with `session`.
    """

    class Role(models.TextChoices):
        USER = "user"
        AGENT = "agent"

    session = models.ForeignKey(
        Session, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    sequence = models.PositiveIntegerField()
    event_id = models.CharField(max_length=64, unique=True)
    invocation_id = models.CharField(max_length=128, blank=True, default="")
    author = models.CharField(max_length=128)
    role = models.CharField(max_length=8, choices=Role.choices)
    parts = models.JSONField(default=list, help_text="agents.content.part_to_json of each part.")
    actions = models.JSONField(default=dict)
    partial = models.BooleanField(default=False)
    usage = models.JSONField(default=dict)
    timestamp = models.DateTimeField()
    branch = models.CharField(
        max_length=512, blank=True, default="", help_text='"" or parent.child (agents.sessions).'
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "sequence"], name="conv_event_session_sequence_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(partial=False), name="conv_event_not_partial"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.sequence}"


class AppState(models.Model):
    """`app:` state, shared by every session of the app; keys are stored without the prefix."""

    key = models.TextField(unique=True)
    # null=True: a JSON null value is a legitimate state value, not a missing one.
    value = models.JSONField(null=True)

    def __str__(self) -> str:
        return f"app:{self.key}"


class UserState(models.Model):
    """`user:` state, shared by the sessions of one user; keys are stored without the prefix."""

    user_id = models.CharField(max_length=255)
    key = models.TextField()
    value = models.JSONField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_id", "key"], name="conv_userstate_user_key_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} user:{self.key}"


class Artifact(models.Model):
    """One version of a named blob. `owner` is the session id, or `user:<user_id>` for names that
    start with `user:` (shared by the user's sessions)."""

    owner = models.CharField(max_length=300)
    name = models.TextField()
    version = models.PositiveIntegerField()
    mime_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    data = models.BinaryField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name", "version"], name="conv_artifact_version_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Memory(models.Model):
    """One long-term memory of a user (SPEC 6, memorytool): outlives sessions, searched by
    keyword. Written only through `apps.conversations.memory`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.CharField(max_length=255)
    content = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user_id", "-created_at"], name="conv_memory_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.content[:40]}"
