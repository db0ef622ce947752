from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    """Per app (tenant schema): sessions, their events, scoped state and artifacts."""

    name = "apps.conversations"
    label = "conversations"
    default_auto_field = "django.db.models.BigAutoField"
