from django.apps import AppConfig


class StudioConfig(AppConfig):
    """Shared: the Studio login and the Django admin site mounted under /studio/admin/."""

    name = "apps.studio"
    label = "studio"
