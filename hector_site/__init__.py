"""The Django project of Hector: settings, URLs, ASGI entry point, CLI and embedded Postgres."""

__version__ = "0.1.0"
