"""What every Studio page (and the Django admin, which shares the top bar) needs to render."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from apps.studio.middleware import STUDIO_PREFIX, is_studio_user
from apps.tenancy.models import App

MAX_SWITCHER_APPS = 500


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str

    def is_active(self, path: str) -> bool:
        if self.url == STUDIO_PREFIX:
            return path == self.url
        return path.startswith(self.url)


#: The Studio's sections, in menu order. Queue and approval pages join here when they exist.
NAV: list[NavItem] = [
    NavItem("Chat", "/studio/"),
    NavItem("Sessions", "/studio/sessions/"),
    NavItem("Flow", "/studio/flow/"),
    NavItem("Config", "/studio/config/"),
    NavItem("Resources", "/studio/resources/"),
    NavItem("Apps", "/studio/apps/"),
    NavItem("Admin", "/studio/admin/"),
]


def _apps() -> list[tuple[str, str]]:
    return list(App.objects.tenants().order_by("id").values_list("id", "name")[:MAX_SWITCHER_APPS])


def studio(request: HttpRequest) -> dict[str, Any]:
    """Navigation and the app switcher; the app list is only queried when a page shows it."""
    if not request.path_info.startswith(STUDIO_PREFIX) or not is_studio_user(request):
        return {}
    path = request.path_info
    return {
        "studio_nav": [(item, item.is_active(path)) for item in NAV],
        "studio_app": getattr(request, "tenant", None),
        "studio_apps": SimpleLazyObject(_apps),
    }
