from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from apps.configs.models import Agent, ConfigRevision


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that are history or derived: viewable, never edited here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ConfigRevision)
class ConfigRevisionAdmin(ReadOnlyAdmin):
    list_display = ["number", "source", "comment", "created_at"]
    list_filter = ["source"]
    search_fields = ["comment"]


@admin.register(Agent)
class AgentAdmin(ReadOnlyAdmin):
    list_display = ["name", "type", "llm", "visibility", "revision", "updated_at"]
    list_filter = ["type", "visibility"]
    search_fields = ["name", "description"]
