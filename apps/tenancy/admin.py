from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.tenancy.models import App, Domain, SigningKey


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "schema_name", "active_revision", "created_at", "updated_at"]
    search_fields = ["id", "name", "description"]
    readonly_fields = [
        "id",
        "schema_name",
        "config_json",
        "active_revision",
        "token_version",
        "created_at",
        "updated_at",
    ]
    fields = [
        "id",
        "name",
        "description",
        "schema_name",
        "active_revision",
        "config_json",
        "token_version",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).tenants()

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Creating an app clones a schema and issues a token: the Admin API / Studio pages do that.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: App | None = None) -> bool:
        return False


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "tenant", "is_primary"]
    search_fields = ["domain"]


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ["kid", "algorithm", "is_active", "created_at"]
    readonly_fields = ["kid", "algorithm", "public_jwk", "is_active", "created_at"]
    exclude = ["private_key_encrypted"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
