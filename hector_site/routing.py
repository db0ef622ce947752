"""Websocket routes. The Studio chat consumer lands with the Studio issue."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
