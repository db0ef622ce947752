"""Per-app rows: the config history and the agents of the active revision."""

from __future__ import annotations

from django.db import models


class ConfigRevision(models.Model):
    """One immutable version of the app's (lean) config. Save anew to change it."""

    class Source(models.TextChoices):
        FILE = "file"
        API = "api"
        STUDIO = "studio"
        ROLLBACK = "rollback"

    number = models.PositiveIntegerField(unique=True)
    config = models.JSONField()
    source = models.CharField(max_length=16, choices=Source.choices)
    comment = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"revision {self.number}"


class Agent(models.Model):
    """An agent of the active revision, materialised for listing, cards and the admin."""

    name = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=16)
    description = models.TextField(blank=True, default="")
    visibility = models.CharField(max_length=16, default="public")
    llm = models.CharField(max_length=64, blank=True, default="")
    position = models.PositiveIntegerField(help_text="Order of declaration in the config.")
    definition = models.JSONField(help_text="The agent's section of the lean config.")
    revision = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.name
