from django.apps import AppConfig


class ConfigsConfig(AppConfig):
    """Per app (tenant schema): immutable config revisions and the agents materialised from one."""

    name = "apps.configs"
    label = "configs"
    default_auto_field = "django.db.models.BigAutoField"
