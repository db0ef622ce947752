from django.apps import AppConfig


class TenancyConfig(AppConfig):
    """Shared (public schema): apps, domains, the admin secret and the app-token signing keys."""

    name = "apps.tenancy"
    label = "tenancy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.tenancy.app_cache import forget_app
        from apps.tenancy.models import App

        post_save.connect(forget_app, sender=App, dispatch_uid="tenancy.app_cache.save")
        post_delete.connect(forget_app, sender=App, dispatch_uid="tenancy.app_cache.delete")
