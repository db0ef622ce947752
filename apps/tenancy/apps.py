from django.apps import AppConfig


class TenancyConfig(AppConfig):
    """Shared (public schema): apps, domains, the admin secret and the app-token signing keys."""

    name = "apps.tenancy"
    label = "tenancy"
    default_auto_field = "django.db.models.BigAutoField"
