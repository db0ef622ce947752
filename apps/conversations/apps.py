from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    """Per app (tenant schema): sessions, their events, scoped state and artifacts."""

    name = "apps.conversations"
    label = "conversations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Inside the Django project the Python API keeps sessions in Postgres (the default
        app's schema) instead of memory; `agents` itself never imports Django."""
        from agents.sessions import set_default_session_factory
        from apps.conversations.stores import PostgresSessionService
        from apps.tenancy.models import DEFAULT_APP_ID
        from apps.tenancy.schemas import schema_name_for

        set_default_session_factory(lambda: PostgresSessionService(schema_name_for(DEFAULT_APP_ID)))
