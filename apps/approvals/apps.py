from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    """Per app (tenant schema): human-in-the-loop approvals of tool calls (SPEC 8)."""

    name = "apps.approvals"
    label = "approvals"
    default_auto_field = "django.db.models.BigAutoField"
