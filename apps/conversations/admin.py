"""Studio admin: sessions with their history, read-only (the runner is the only writer).

A session can hold thousands of events, so the inline shows one page of them at a time
(`?events_page=N`) instead of rendering the whole history into one form.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html_join

from agents.content import part_from_json, text_of
from apps.conversations.models import Event, Session

EVENTS_PER_PAGE = 50
EVENTS_PAGE_PARAM = "events_page"
MAX_PAGE_LINKS = 20


def events_page(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get(EVENTS_PAGE_PARAM, "1")))
    except ValueError:
        return 1


class EventPageFormSet(BaseInlineFormSet):
    """The inline's formset over one page of events; `page` is set per request."""

    page = 1

    def get_queryset(self) -> QuerySet[Event]:
        if not hasattr(self, "_page_queryset"):
            start = (self.page - 1) * EVENTS_PER_PAGE
            queryset = super().get_queryset().order_by("sequence")
            self._page_queryset = queryset[start : start + EVENTS_PER_PAGE]
        return self._page_queryset


class EventInline(admin.TabularInline):
    model = Event
    formset = EventPageFormSet
    fields = ["sequence", "author", "role", "text", "state_delta", "timestamp"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        return type("EventPage", (formset,), {"page": events_page(request)})

    @admin.display(description="text")
    def text(self, event: Event) -> str:
        return text_of([part_from_json(part) for part in event.parts])[:500]

    @admin.display(description="state delta")
    def state_delta(self, event: Event) -> Any:
        return (event.actions or {}).get("state_delta") or ""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ["id", "user_id", "agent", "last_sequence", "updated_at"]
    list_filter = ["agent"]
    search_fields = ["id", "user_id"]
    ordering = ["-updated_at", "-id"]
    fields = [
        "id",
        "user_id",
        "agent",
        "state",
        "created_at",
        "updated_at",
        "last_sequence",
        "event_pages",
    ]
    readonly_fields = fields
    inlines = [EventInline]

    @admin.display(description="event pages")
    def event_pages(self, session: Session) -> str:
        """Links to each page of events; past 20 pages only the first and last few (the rest are
        reachable by editing `?events_page=N`)."""
        pages = max(1, -(-session.last_sequence // EVENTS_PER_PAGE))
        shown = list(range(1, pages + 1))
        if pages > MAX_PAGE_LINKS:
            shown = [*range(1, 6), *range(pages - 4, pages + 1)]
        return format_html_join(
            " ", '<a href="?{}={}">{}</a>', ((EVENTS_PAGE_PARAM, n, n) for n in shown)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
