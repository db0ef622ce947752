from django.apps import AppConfig


class ServerConfig(AppConfig):
    """The `hector` commands (serve, migrate, validate, schema, version, info, secret)."""

    name = "apps.server"
    label = "server"
